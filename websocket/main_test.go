package websocket_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// quietLogger discards logs: tests provoke errors and panics on purpose.
var quietLogger = netkittest.DiscardLogger

// testCtx returns a context bounded well below the test timeout.
func testCtx(t testing.TB) context.Context { return netkittest.Context(t) }

// serve starts a listener on 127.0.0.1:0 with up attached at path.
func serve(t testing.TB, path string, up websocket.UpgradeService, sc *websocket.ServiceConfig, lc *websocket.ListenerConfig) *websocket.Listener {
	t.Helper()
	var c websocket.ListenerConfig
	if lc != nil {
		c = *lc
	}
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.Logger == nil {
		c.Logger = quietLogger
	}
	var s websocket.ServiceConfig
	if sc != nil {
		s = *sc
	}
	if s.Logger == nil {
		s.Logger = quietLogger
	}
	l, err := websocket.NewListener(0, &c)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach(path, up, &s); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	return l
}

// serveEcho starts an echo listener at /ws.
func serveEcho(t testing.TB, sc *websocket.ServiceConfig) *websocket.Listener {
	return serve(t, "/ws", websocket.Static(websocket.Echo), sc, nil)
}

func addrOf(l *websocket.Listener) string { return l.Addr().String() }

func wsURL(l *websocket.Listener, path string) string {
	return "ws://" + addrOf(l) + path
}

func portOf(t testing.TB, a net.Addr) string {
	t.Helper()
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strconv.Atoi(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// upgradeWith returns an UpgradeService that always returns s.
func upgradeWith(s websocket.Service) websocket.UpgradeService { return websocket.Static(s) }

var _ = http.StatusOK
