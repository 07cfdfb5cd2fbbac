package netkit_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit"
	"github.com/netkit-go/netkit/internal/evloop"
	"github.com/netkit-go/netkit/socket"
	"github.com/netkit-go/netkit/tcp"
	"github.com/netkit-go/netkit/websocket"
)

// face is one face's listener, started with an Engine.
type face struct {
	name string
	// start returns the listener's address and its stop.
	start func(t *testing.T, e netkit.Engine) (addr string, stop func() error)
	// hold opens one connection and leaves it idle once served.
	hold func(t *testing.T, addr string) io.Closer
}

// startable is what every face's Listener has.
type startable interface {
	Start() error
	Addr() net.Addr
	ImmediateStop() error
}

// started checks NewListener's err, attaches with attach, starts l and
// returns its address and stop.
func started(t *testing.T, l startable, err error, attach func() error) (string, func() error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if err := attach(); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	return l.Addr().String(), l.ImmediateStop
}

var engineFaces = []face{
	{"tcp", func(t *testing.T, e netkit.Engine) (string, func() error) {
		l, err := tcp.NewListener(0, &tcp.ListenerConfig{LocalHost: "127.0.0.1", Engine: e})
		return started(t, l, err, func() error { return l.Attach(tcp.EchoService) })
	}, holdEcho},
	{"socket", func(t *testing.T, e netkit.Engine) (string, func() error) {
		l, err := socket.NewListener(0, &socket.ListenerConfig{Interface: "127.0.0.1", Engine: e})
		echo := socket.ContentFunc(func(c *socket.Caller, b []byte) { c.Write(context.Background(), b) })
		return started(t, l, err, func() error { return l.Attach(echo) })
	}, holdEcho},
	{"websocket", func(t *testing.T, e netkit.Engine) (string, func() error) {
		l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", Engine: e})
		return started(t, l, err, func() error { return l.Attach("/ws", websocket.Static(websocket.Echo), nil) })
	}, holdUpgraded},
}

// holdEcho opens a connection and waits for one echo.
func holdEcho(t *testing.T, addr string) io.Closer {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b := []byte{'x'}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("echo: %v", err)
	}
	return c
}

// holdUpgraded opens a WebSocket with the synchronous Client, which
// holds no goroutine of its own while the connection idles.
func holdUpgraded(t *testing.T, addr string) io.Closer {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	return closerFunc(func() error { return c.Close(context.Background(), 1000, "") })
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// effective is the backend a listener configured with e runs on: the
// NETKIT_ENGINE override first, then the default, and goroutines where
// there is no event loop.
func effective(e netkit.Engine) netkit.Engine {
	switch strings.TrimSpace(os.Getenv(netkit.EnvEngine)) {
	case "goroutine":
		e = netkit.EngineGoroutine
	case "evloop":
		e = netkit.EngineEventLoop
	}
	if e == netkit.EngineDefault {
		e = netkit.EngineEventLoop
	}
	if e == netkit.EngineEventLoop && !evloop.Supported {
		e = netkit.EngineGoroutine
	}
	return e
}

// TestListenerEngine: every face's ListenerConfig.Engine picks the backend,
// seen in what an idle connection costs: a goroutine each on
// EngineGoroutine, none on the event loop (only its loops and parked pool
// workers); NETKIT_ENGINE overrides the field.
func TestListenerEngine(t *testing.T) {
	const n = 64
	run := func(t *testing.T, f face, e netkit.Engine) {
		base := runtime.NumGoroutine()
		addr, stop := f.start(t, e)
		conns := make([]io.Closer, 0, n)
		defer func() {
			for _, c := range conns {
				c.Close()
			}
			if err := stop(); err != nil {
				t.Error(err)
			}
		}()
		for range n {
			conns = append(conns, f.hold(t, addr))
		}
		want := effective(e)
		// The loops and the pool workers they keep parked (one per P
		// each), the accept loop, and slack for the runtime's own.
		loopBound := base + 2*runtime.GOMAXPROCS(0) + 8
		var ok func() bool
		if want == netkit.EngineGoroutine {
			ok = func() bool { return runtime.NumGoroutine() >= base+n }
		} else {
			ok = func() bool { return runtime.NumGoroutine() <= loopBound }
		}
		if !waitFor(5*time.Second, ok) {
			t.Fatalf("Engine %v (runs as %v): %d goroutines with %d idle connections, %d before",
				e, want, runtime.NumGoroutine(), n, base)
		}
	}
	for _, f := range engineFaces {
		for _, e := range []netkit.Engine{netkit.EngineDefault, netkit.EngineGoroutine, netkit.EngineEventLoop} {
			t.Run(f.name+"/"+e.String(), func(t *testing.T) { run(t, f, e) })
		}
		t.Run(f.name+"/override", func(t *testing.T) {
			t.Setenv(netkit.EnvEngine, "goroutine")
			run(t, f, netkit.EngineEventLoop)
		})
	}
}

// TestListenerEngineUnknown: a value that names no engine is an error from
// every face's NewListener, not a silent default.
func TestListenerEngineUnknown(t *testing.T) {
	bad := netkit.Engine(7)
	_, terr := tcp.NewListener(0, &tcp.ListenerConfig{Engine: bad})
	_, serr := socket.NewListener(0, &socket.ListenerConfig{Engine: bad})
	_, werr := websocket.NewListener(0, &websocket.ListenerConfig{Engine: bad})
	for name, err := range map[string]error{"tcp": terr, "socket": serr, "websocket": werr} {
		if err == nil || !strings.Contains(err.Error(), "unknown engine 7") {
			t.Errorf("%s: NewListener with Engine(7): %v, want an unknown-engine error", name, err)
		}
	}
	var e *tcp.Error
	if !errors.As(terr, &e) {
		t.Errorf("tcp: %T, want *tcp.Error", terr)
	}
}

// waitFor polls cond every millisecond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

func TestEngineString(t *testing.T) {
	for e, want := range map[netkit.Engine]string{
		netkit.EngineDefault: "default", netkit.EngineGoroutine: "goroutine",
		netkit.EngineEventLoop: "evloop", netkit.Engine(-2): "Engine(-2)",
	} {
		if got := e.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(e), got, want)
		}
	}
}
