package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/tcp"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestVersionAndUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := Run(context.Background(), []string{"version"}, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "netkit ") {
		t.Fatalf("version printed %q", out.String())
	}
	out.Reset()
	if err := Run(context.Background(), []string{"bogus"}, nil, &out, &errOut); !errors.Is(err, ErrUsage) {
		t.Fatalf("unknown command: %v", err)
	}
	if out.Len() != 0 || !strings.Contains(errOut.String(), "unknown command") {
		t.Fatalf("stdout %q stderr %q", out.String(), errOut.String())
	}
	if err := Run(context.Background(), nil, nil, &out, &errOut); !errors.Is(err, ErrUsage) {
		t.Fatalf("no command: %v", err)
	}
	if err := Run(context.Background(), []string{"tcp", "listen"}, nil, &out, &errOut); !errors.Is(err, ErrUsage) {
		t.Fatalf("missing port: %v", err)
	}
}

// lineWatcher scans a stream written by a command for a pattern.
func watch(t *testing.T, r io.Reader, re *regexp.Regexp) <-chan []string {
	ch := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		found := false
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				ch <- m
			}
		}
		close(ch)
	}()
	return ch
}

func TestServeEchoesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	addrs := watch(t, pr, regexp.MustCompile(`^tcp echo listening on (\S+)$`))
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--tcp-port", "0"}, nil, pw, io.Discard)
		pw.Close()
	}()
	m, ok := <-addrs
	if !ok {
		t.Fatalf("serve did not report its address: %v", <-done)
	}
	conn, err := net.Dial("tcp", m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q %v", buf, err)
	}
	cancel() // Ctrl-C
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The graceful stop sent FIN.
	if n, err := conn.Read(buf); err != io.EOF {
		t.Fatalf("after stop: %d, %v", n, err)
	}
}

func TestTCPConnectLikeNC(t *testing.T) {
	l, err := tcp.NewListener(0, &tcp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	l.Attach(tcp.EchoService)
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	defer l.ImmediateStop()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in := strings.NewReader("hello over tcp\n")
	if err := Run(ctx, []string{"tcp", "connect", l.Addr().String()}, in, &out, &errOut); err != nil {
		t.Fatalf("%v (stderr %q)", err, errOut.String())
	}
	if out.String() != "hello over tcp\n" {
		t.Fatalf("stdout %q", out.String())
	}
}

func TestTCPListenPrintsAndEchoes(t *testing.T) {
	for _, echo := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		addrs := watch(t, pr, regexp.MustCompile(`^tcp listening on (\S+)$`))
		var out syncWriter
		args := []string{"tcp", "listen", "0"}
		if echo {
			args = []string{"tcp", "listen", "--echo", "0"}
		}
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, args, nil, &out, pw)
			pw.Close()
		}()
		m := <-addrs
		conn, err := net.Dial("tcp", m[1])
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		conn.Write([]byte("data"))
		conn.(*net.TCPConn).CloseWrite()
		got, _ := io.ReadAll(conn)
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if echo && string(got) != "data" {
			t.Fatalf("echo got %q", got)
		}
		if !echo && out.String() != "data" {
			t.Fatalf("printed %q", out.String())
		}
	}
}
