package tcp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/tcp"
	"github.com/netkit-go/netkit/tlsconfig"
)

// interopData is a recognisable payload larger than socat's 8 KiB buffer.
func interopData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// socatCtx bounds every socat run.
func socatCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// runSocatClient runs socat with stdin as its input and returns its stdout.
// socat half-closes the connection when stdin ends and exits once the peer
// has closed too.
func runSocatClient(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	socat := netkittest.RequireTool(t, "socat")
	cmd := exec.CommandContext(socatCtx(t), socat, append([]string{"-t", "5", "-T", "10"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("socat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func TestSocatDrivesListener(t *testing.T) {
	netkittest.RequireTool(t, "socat")
	data := interopData(256 << 10)

	t.Run("Plain", func(t *testing.T) {
		l := listen(t, tcp.EchoService, nil)
		got := runSocatClient(t, data, "-", "TCP:127.0.0.1:"+strconv.Itoa(l.Port()))
		if !bytes.Equal(got, data) {
			t.Fatalf("socat got %d bytes back, want %d (equal prefix %d)", len(got), len(data), commonPrefix(got, data))
		}
	})

	t.Run("TLS", func(t *testing.T) {
		certs := netkittest.NewCertificates(t)
		l := tlsListen(t, &tlsconfig.ListenerSecureSocket{CertKey: &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}}, nil, nil)
		// socat verifies the chain and 127.0.0.1 against the IP SAN.
		addr := fmt.Sprintf("OPENSSL:127.0.0.1:%d,cafile=%s,verify=1", l.Port(), certs.CACert)
		got := runSocatClient(t, data, "-", addr)
		if !bytes.Equal(got, data) {
			t.Fatalf("socat got %d bytes back, want %d (equal prefix %d)", len(got), len(data), commonPrefix(got, data))
		}

		// The control: socat trusting another CA refuses our listener.
		socat := netkittest.RequireTool(t, "socat")
		cmd := exec.CommandContext(socatCtx(t), socat, "-t", "5", "-",
			fmt.Sprintf("OPENSSL:127.0.0.1:%d,cafile=%s,verify=1", l.Port(), certs.OtherCACert))
		cmd.Stdin = strings.NewReader("x")
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Fatalf("socat accepted a certificate from an untrusted CA: %s", out)
		}
	})

	t.Run("MutualTLS", func(t *testing.T) {
		certs := netkittest.NewCertificates(t)
		peers := make(chan string, 1)
		l := tlsListen(t, &tlsconfig.ListenerSecureSocket{
			CertKey:   &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey},
			MutualSSL: &tlsconfig.MutualSSL{Cert: certs.CACert},
		}, nil, tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
			peers <- c.TLS().PeerCertificates[0].Subject.CommonName
			return tcp.Echo, nil
		}))
		addr := fmt.Sprintf("OPENSSL:127.0.0.1:%d,cafile=%s,verify=1,cert=%s,key=%s",
			l.Port(), certs.CACert, certs.ClientCert, certs.ClientKey)
		got := runSocatClient(t, []byte("client certificate"), "-", addr)
		if string(got) != "client certificate" {
			t.Fatalf("got %q", got)
		}
		if cn := <-peers; cn != "netkit test client" {
			t.Fatalf("peer CN %q", cn)
		}
	})
}

// lineWatcher collects a process's stderr and closes ready when want
// appears in it.
type lineWatcher struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	ready chan struct{}
	seen  bool
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.seen && strings.Contains(w.buf.String(), w.want) {
		w.seen = true
		close(w.ready)
	}
	return len(p), nil
}

func (w *lineWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startSocatServer starts socat listening on a free loopback port with
// listenAddr (a format with one %d for the port) and PIPE as the echo, and
// returns the port once socat reports that it listens. A lost race for the
// port is retried with another.
func startSocatServer(t *testing.T, listenAddr string) int {
	t.Helper()
	socat := netkittest.RequireTool(t, "socat")
	ctx := socatCtx(t)
	for attempt := 0; attempt < 5; attempt++ {
		port := netkittest.ClosedPort(t)
		cmd := exec.CommandContext(ctx, socat, "-d", "-d", "-T", "10", fmt.Sprintf(listenAddr, port), "PIPE")
		w := &lineWatcher{want: "listening on", ready: make(chan struct{})}
		cmd.Stderr = w
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case <-w.ready:
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			return port
		case err := <-exited:
			if strings.Contains(w.String(), "Address already in use") {
				continue // lost the race for the port
			}
			t.Fatalf("socat exited before listening: %v\n%s", err, w.String())
		case <-ctx.Done():
			cmd.Process.Kill()
			<-exited
			t.Fatalf("socat did not listen: %v\n%s", ctx.Err(), w.String())
		}
	}
	t.Fatal("no free port for socat after 5 attempts")
	return 0
}

// socatEcho writes data through c (concurrently with reading), half-closes
// and checks that exactly data comes back before the EOF.
func socatEcho(t *testing.T, c *tcp.Client, data []byte) {
	t.Helper()
	werr := make(chan error, 1)
	go func() {
		for off := 0; off < len(data); off += 10000 {
			if err := c.WriteBytes(testCtx(t), data[off:min(off+10000, len(data))]); err != nil {
				werr <- err
				return
			}
		}
		werr <- c.CloseWrite()
	}()
	got := readToEOF(t, c)
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes back, want %d (equal prefix %d)", len(got), len(data), commonPrefix(got, data))
	}
}

func TestClientAgainstSocatServer(t *testing.T) {
	netkittest.RequireTool(t, "socat")
	data := interopData(300 << 10)

	t.Run("Plain", func(t *testing.T) {
		port := startSocatServer(t, "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr")
		c, err := tcp.NewClient(testCtx(t), "127.0.0.1", port, &tcp.ClientConfig{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		socatEcho(t, c, data)
	})

	t.Run("TLS", func(t *testing.T) {
		certs := netkittest.NewCertificates(t)
		port := startSocatServer(t, "OPENSSL-LISTEN:%d,bind=127.0.0.1,reuseaddr,cert="+certs.ServerCert+",key="+certs.ServerKey+",verify=0")
		c, err := tcp.NewClient(testCtx(t), "127.0.0.1", port, &tcp.ClientConfig{
			Timeout:      10 * time.Second,
			SecureSocket: &tlsconfig.ClientSecureSocket{Cert: certs.CACert},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if st := c.TLS(); st == nil || st.PeerCertificates[0].Subject.CommonName != "localhost" {
			t.Fatalf("TLS state %+v", st)
		}
		socatEcho(t, c, data)
	})

	t.Run("TLSUntrusted", func(t *testing.T) {
		certs := netkittest.NewCertificates(t)
		port := startSocatServer(t, "OPENSSL-LISTEN:%d,bind=127.0.0.1,reuseaddr,cert="+certs.ServerCert+",key="+certs.ServerKey+",verify=0")
		_, err := tcp.NewClient(testCtx(t), "127.0.0.1", port, &tcp.ClientConfig{
			Timeout:      10 * time.Second,
			SecureSocket: &tlsconfig.ClientSecureSocket{Cert: certs.OtherCACert},
		})
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a verification failure", err)
		}
	})
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
