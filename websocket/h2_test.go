package websocket_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/http2"

	"github.com/netkit-go/netkit/internal/wstest"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// h2Listener starts a TLS Listener serving up at /ws and returns its
// address.
func h2Listener(t *testing.T, up websocket.UpgradeService, sc *websocket.ServiceConfig, cfg *websocket.ListenerConfig) (*websocket.Listener, string) {
	t.Helper()
	certs := netkittest.NewCertificates(t)
	if cfg == nil {
		cfg = &websocket.ListenerConfig{}
	}
	cfg.Host = "127.0.0.1"
	cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{certs.Server}}
	l, err := websocket.NewListener(0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/ws", up, sc); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	return l, l.Addr().String()
}

func echoUpgrade() websocket.UpgradeService {
	return websocket.UpgradeFunc(func(*http.Request, http.Header) (websocket.Service, error) { return websocket.Echo, nil })
}

// h2Raw opens an extended CONNECT on hc and returns a raw WebSocket
// client over the stream (rawclient_test.go's frames and expectations).
func h2Raw(t *testing.T, hc *wstest.H2Conn, path string, header http.Header) (*rawClient, *wstest.H2Stream) {
	t.Helper()
	st, err := hc.Connect(path, header)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status() != http.StatusOK {
		t.Fatalf("CONNECT status %d, want 200", st.Status())
	}
	c := &rawClient{t: t, nc: st, br: bufio.NewReader(st)}
	if strings.Contains(st.Header().Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		c.deflate = true
	}
	return c, st
}

// TestH2ListenerEcho: a TLS Listener negotiates h2, advertises
// SETTINGS_ENABLE_CONNECT_PROTOCOL, and echoes text and binary messages on
// several WebSockets that are streams of one connection; the answer is 200
// without Sec-WebSocket-Accept.
func TestH2ListenerEcho(t *testing.T) {
	_, addr := h2Listener(t, echoUpgrade(), nil, nil)
	hc := wstest.DialH2(t, addr, nil)
	if v, ok := hc.Setting(http2.SettingEnableConnectProtocol); !ok || v != 1 {
		t.Fatalf("SETTINGS_ENABLE_CONNECT_PROTOCOL = %d, %v; want 1", v, ok)
	}
	var clients []*rawClient
	for range 3 {
		c, st := h2Raw(t, hc, "/ws", nil)
		if v := st.Header().Get("Sec-WebSocket-Accept"); v != "" {
			t.Errorf("Sec-WebSocket-Accept %q in an RFC 8441 answer", v)
		}
		clients = append(clients, c)
	}
	for i, c := range clients {
		msg := strings.Repeat("x", i+1)
		c.sendText(msg)
		c.expectMessage(opText, []byte(msg))
		c.sendBinary([]byte{byte(i), 1, 2})
		c.expectMessage(opBinary, []byte{byte(i), 1, 2})
	}
	for _, c := range clients {
		c.send(true, 0, opClose, closePayload(1000, "bye"))
		c.expectClose(1000)
	}
}

// TestH2HandlerMountEcho: a Handler mounted on a user's http.Server
// given to ConfigureHTTP2 accepts the extended CONNECT and echoes; the
// same path still takes the HTTP/1.1 Upgrade.
func TestH2HandlerMountEcho(t *testing.T) {
	h := websocket.NewHandler(echoUpgrade(), nil)
	srv := httptest.NewUnstartedServer(h)
	if err := websocket.ConfigureHTTP2(srv.Config); err != nil {
		t.Fatal(err)
	}
	srv.TLS = srv.Config.TLSConfig
	srv.StartTLS()
	t.Cleanup(func() {
		h.ImmediateStop()
		srv.Close()
	})
	addr := srv.Listener.Addr().String()
	hc := wstest.DialH2(t, addr, nil)
	if v, _ := hc.Setting(http2.SettingEnableConnectProtocol); v != 1 {
		t.Fatalf("SETTINGS_ENABLE_CONNECT_PROTOCOL = %d; want 1", v)
	}
	c, _ := h2Raw(t, hc, "/ws", nil)
	c.sendText("over h2")
	c.expectMessage(opText, []byte("over h2"))
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	c.sendBinary(big)
	c.expectMessage(opBinary, big)

	// HTTP/1.1 Upgrade on the same server, same path.
	tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	c1 := upgradeRaw(t, tc, addr, "/ws", nil)
	if c1.resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("HTTP/1.1 upgrade status %d", c1.resp.StatusCode)
	}
	c1.sendText("over h1")
	c1.expectMessage(opText, []byte("over h1"))
}
