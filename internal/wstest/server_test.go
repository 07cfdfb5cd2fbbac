package wstest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/internal/wsproto"
	"github.com/netkit-go/netkit/netkittest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// client is a raw WebSocket client for checking the server.
type client struct {
	t    *testing.T
	nc   net.Conn
	br   *bufio.Reader
	comp *wsproto.Compressor
	mr   wsproto.MessageReader
	buf  []byte // read buffer
	// pending is the part of buf not parsed yet.
	pending []byte
}

// dial opens and upgrades a connection to url, offering permessage-deflate
// when deflate is set (c.comp is set when the server accepted it); tc is
// used for wss:// URLs.
func dial(t *testing.T, url string, deflate bool, tc *tls.Config) *client {
	t.Helper()
	addr := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(url, "ws://"), "wss://"), "/")
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(url, "wss://") {
		nc = tls.Client(nc, tc)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.NewRequest("GET", strings.Replace(strings.Replace(url, "wss:", "https:", 1), "ws:", "http:", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := wsproto.ClientHandshake{}
	if deflate {
		hs.Deflate = &wsproto.DeflateConfig{}
	}
	hs.SetRequestHeaders(req.Header)
	if err := req.Write(nc); err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, nc: nc, br: bufio.NewReader(nc)}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		t.Fatal(err)
	}
	res, err := wsproto.CheckResponse(resp, &hs)
	if err != nil {
		t.Fatal(err)
	}
	var dec *wsproto.Decompressor
	if res.Deflate {
		c.comp = wsproto.NewCompressor(res.DeflateParams, wsproto.RoleClient, wsproto.DeflateConfig{})
		dec = wsproto.NewDecompressor(res.DeflateParams, wsproto.RoleClient)
		t.Cleanup(c.comp.Close)
	}
	c.mr.Init(wsproto.ReaderConfig{Role: wsproto.RoleClient}, dec)
	t.Cleanup(c.mr.Reset)
	return c
}

// send writes one masked frame, compressed when negotiated.
func (c *client) send(op wsproto.Opcode, p []byte) {
	c.t.Helper()
	h := wsproto.Header{Fin: true, Opcode: op, Masked: true, Key: wsproto.NewMaskKey()}
	if c.comp != nil && op.IsData() {
		if out, ok := c.comp.Compress(nil, p); ok {
			p, h.Rsv1 = out, true
		}
	}
	if _, err := c.nc.Write(wsproto.AppendFrame(nil, h, p)); err != nil {
		c.t.Fatal(err)
	}
}

// recv reads the next message and returns a copy of it.
func (c *client) recv() (wsproto.Message, error) {
	c.mr.Release()
	for {
		if len(c.pending) == 0 {
			if c.buf == nil {
				c.buf = make([]byte, 64<<10)
			}
			n, err := c.br.Read(c.buf)
			if err != nil {
				return wsproto.Message{}, err
			}
			c.pending = c.buf[:n]
		}
		k, m, err := c.mr.Parse(c.pending)
		if err != nil {
			return wsproto.Message{}, err
		}
		c.pending = c.pending[k:]
		if m.Op != 0 {
			m.Data = bytes.Clone(m.Data)
			return m, nil
		}
	}
}

func (c *client) expect(op wsproto.Opcode, data []byte) wsproto.Message {
	c.t.Helper()
	m, err := c.recv()
	if err != nil {
		c.t.Fatalf("want %v: %v", op, err)
	}
	if m.Op != op || !bytes.Equal(m.Data, data) {
		c.t.Fatalf("got %v %q, want %v %q", m.Op, m.Data, op, data)
	}
	return m
}

// TestEchoWSSDeflate checks echo, ping and close over wss:// with
// permessage-deflate both ways.
func TestEchoWSSDeflate(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	url := Start(t, Options{Deflate: true, Certificate: &certs.Server})
	if !strings.HasPrefix(url, "wss://127.0.0.1:") {
		t.Fatalf("URL %q", url)
	}
	c := dial(t, url, true, &tls.Config{RootCAs: certs.CAPool, ServerName: "127.0.0.1"})
	if c.comp == nil {
		t.Fatal("permessage-deflate declined")
	}
	msg := bytes.Repeat([]byte("compressible "), 100)
	c.send(wsproto.OpText, msg)
	if m := c.expect(wsproto.OpText, msg); !m.Compressed {
		t.Error("echo not compressed")
	}
	c.send(wsproto.OpPing, []byte("p"))
	c.expect(wsproto.OpPong, []byte("p"))
	c.send(wsproto.OpClose, wsproto.AppendClosePayload(nil, 1000, "bye"))
	c.expect(wsproto.OpClose, wsproto.AppendClosePayload(nil, 1000, ""))
	if _, err := c.recv(); err != io.EOF {
		t.Errorf("after close: %v, want EOF", err)
	}

	// Without the option, the offer is declined.
	c = dial(t, Start(t, Options{}), true, nil)
	if c.comp != nil {
		t.Fatal("permessage-deflate accepted without Deflate")
	}
	c.send(wsproto.OpBinary, msg)
	if m := c.expect(wsproto.OpBinary, msg); m.Compressed {
		t.Error("compressed without Deflate")
	}
}

// TestBroadcast checks that a message reaches every other connection and
// not its sender.
func TestBroadcast(t *testing.T) {
	url := Start(t, Options{Broadcast: true})
	cs := []*client{dial(t, url, false, nil), dial(t, url, false, nil), dial(t, url, false, nil)}
	// dial has read the handshake response, and the server registers a
	// connection before sending it: all three receive broadcasts now.
	cs[0].send(wsproto.OpText, []byte("news"))
	cs[1].expect(wsproto.OpText, []byte("news"))
	cs[2].expect(wsproto.OpText, []byte("news"))
	// The broadcast was written before the sender's next frame is handled,
	// so a stray copy to the sender would come before the close reply.
	cs[0].send(wsproto.OpClose, nil)
	cs[0].expect(wsproto.OpClose, nil)
}

// TestStalledSubscriberDropped checks that a subscriber that does not read
// is disconnected once a write to it has waited WriteTimeout.
func TestStalledSubscriberDropped(t *testing.T) {
	url := Start(t, Options{Broadcast: true, WriteTimeout: 100 * time.Millisecond})
	pub, sub := dial(t, url, false, nil), dial(t, url, false, nil)
	// 12 MiB: several times what the socket buffers hold (about 3 MiB here).
	const n = 12
	msg := make([]byte, 1<<20)
	for range n {
		pub.send(wsproto.OpBinary, msg)
		// The pong follows the broadcast's write to sub, done or failed.
		pub.send(wsproto.OpPing, nil)
		pub.expect(wsproto.OpPong, nil)
	}
	got := 0
	for {
		_, err := sub.recv()
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			break
		}
		if err != nil {
			t.Fatalf("want EOF once dropped: %d messages received, then %v", got, err)
		}
		got++
	}
	t.Logf("the stalled subscriber received %d of %d messages", got, n)
	if got >= n {
		t.Errorf("all %d messages reached the stalled subscriber", got)
	}
}

// TestHandshakeTimeout checks that a client that sends no upgrade request
// is disconnected after HandshakeTimeout.
func TestHandshakeTimeout(t *testing.T) {
	url := Start(t, Options{HandshakeTimeout: 100 * time.Millisecond})
	nc, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	nc.SetReadDeadline(start.Add(5 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read: %v, want EOF", err)
	}
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Errorf("closed after %v, want about 100 ms", el)
	}
}

// manualCleanup collects the cleanups registered with it, for a test to
// run them when it wants.
type manualCleanup struct {
	testing.TB
	fns []func()
}

func (m *manualCleanup) Cleanup(f func()) { m.fns = append(m.fns, f) }

// TestCleanupClosesConnections checks that the cleanup Start registers
// closes an open connection and returns.
func TestCleanupClosesConnections(t *testing.T) {
	tb := &manualCleanup{TB: t}
	c := dial(t, Start(tb, Options{}), false, nil)
	c.send(wsproto.OpPing, nil)
	c.expect(wsproto.OpPong, nil)
	if len(tb.fns) != 1 {
		t.Fatalf("%d cleanups registered", len(tb.fns))
	}
	tb.fns[0]()
	if _, err := c.recv(); err != io.EOF {
		t.Errorf("after cleanup: %v, want EOF", err)
	}
}
