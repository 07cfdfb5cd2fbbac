package h2ext_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/netkit-go/netkit/internal/h2ext"
	"github.com/netkit-go/netkit/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// advertises dials srv over TLS with ALPN h2 and reports whether the server's first SETTINGS
// frame carries SETTINGS_ENABLE_CONNECT_PROTOCOL=1.
func advertises(t *testing.T, addr string) bool {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN = %q, want h2", p)
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fr := http2.NewFramer(io.Discard, c)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		sf, ok := f.(*http2.SettingsFrame)
		if !ok || sf.IsAck() {
			continue
		}
		v, ok := sf.Value(http2.SettingEnableConnectProtocol)
		return ok && v == 1
	}
}

func serve(t *testing.T, xnet bool) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if xnet {
		if err := http2.ConfigureServer(srv.Config, nil); err != nil {
			t.Fatal(err)
		}
		srv.TLS = srv.Config.TLSConfig
	} else {
		srv.EnableHTTP2 = true
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestOnlyXNetServersAdvertise: with the package linked, a golang.org/x/net/http2 server
// advertises extended CONNECT while an ordinary net/http server in the same process does not.
func TestOnlyXNetServersAdvertise(t *testing.T) {
	if !h2ext.Enabled() {
		t.Fatal("Enabled() = false")
	}
	if !advertises(t, serve(t, true)) {
		t.Error("x/net/http2 server does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL")
	}
	if advertises(t, serve(t, false)) {
		t.Error("net/http's own HTTP/2 server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL; it must be unchanged")
	}
}
