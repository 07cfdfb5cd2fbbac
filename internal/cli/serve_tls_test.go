package cli

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/netkit-go/netkit/internal/wstest"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// TestServeTLSHTTP2: serve --tls-cert --tls-key, started without any
// GODEBUG, serves the WebSocket port over TLS with h2 and http/1.1: it
// advertises SETTINGS_ENABLE_CONNECT_PROTOCOL, serves the page at / over
// h2, echoes over an RFC 8441 CONNECT at /ws and over the HTTP/1.1
// Upgrade, and logs the HTTP version of each socket.
func TestServeTLSHTTP2(t *testing.T) {
	if strings.Contains(os.Getenv("GODEBUG"), "http2xconnect") {
		t.Fatal("GODEBUG sets http2xconnect: this test shows that serve needs none")
	}
	certs := netkittest.NewCertificates(t)
	r := startCommand(t, "serve", "--tcp-port", "0", "--udp-port", "0", "--ws-port", "0",
		"--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey)
	addr := r.addr(t, "wss")
	hc := wstest.DialH2(t, addr, &tls.Config{RootCAs: certs.CAPool, ServerName: "localhost"})
	if v, ok := hc.Setting(http2.SettingEnableConnectProtocol); !ok || v != 1 {
		t.Fatalf("SETTINGS_ENABLE_CONNECT_PROTOCOL = %d, %v; want 1", v, ok)
	}

	page := hc.Open([][2]string{{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {":authority", addr}}, true)
	if err := page.WaitResponse(5 * time.Second); err != nil || page.Status() != http.StatusOK {
		t.Fatalf("GET / over h2: status %d, %v", page.Status(), err)
	}
	page.SetReadDeadline(time.Now().Add(5 * time.Second))
	if body, err := io.ReadAll(page); err != nil || !strings.Contains(string(body), "wss://") {
		t.Fatalf("page over h2: %v, %.80q", err, body)
	}

	st, err := hc.Connect("/ws", nil)
	if err != nil || st.Status() != http.StatusOK {
		t.Fatalf("CONNECT /ws: status %d, %v", st.Status(), err)
	}
	st.SetDeadline(time.Now().Add(5 * time.Second))
	// A masked text frame "h2!" (mask 0), and its unmasked echo.
	if _, err := st.Write([]byte{0x81, 0x83, 0, 0, 0, 0, 'h', '2', '!'}); err != nil {
		t.Fatal(err)
	}
	echo := make([]byte, 5)
	if _, err := io.ReadFull(st, echo); err != nil || string(echo) != "\x81\x03h2!" {
		t.Fatalf("echo over h2: %q, %v", echo, err)
	}
	r.log.wait(t, regexp.MustCompile(`msg=connected proto=ws .*path=/ws http=2`))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, "wss://"+addr+"/ws", &websocket.ClientConfig{TLSConfig: &tls.Config{RootCAs: certs.CAPool, ServerName: "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	c.WriteTextMessage(ctx, []byte("h1!"))
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != "h1!" {
		t.Fatalf("echo over HTTP/1.1: %q, %v", s, err)
	}
	r.log.wait(t, regexp.MustCompile(`msg=connected proto=ws .*path=/ws http=1\.1`))
	c.Close(ctx, 1000, "")
	st.Write([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}) // close 1000
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// TestWSListenTLSHTTP2: ws listen takes the same TLS flags: RFC 8441 is
// advertised and a CONNECT echoes.
func TestWSListenTLSHTTP2(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	r := startCommand(t, "ws", "listen", "0", "--echo", "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey)
	hc := wstest.DialH2(t, r.addr(t, "wss"), &tls.Config{RootCAs: certs.CAPool, ServerName: "localhost"})
	if v, _ := hc.Setting(http2.SettingEnableConnectProtocol); v != 1 {
		t.Fatalf("SETTINGS_ENABLE_CONNECT_PROTOCOL = %d, want 1", v)
	}
	st, err := hc.Connect("/ws", nil)
	if err != nil || st.Status() != http.StatusOK {
		t.Fatalf("CONNECT /ws: status %d, %v", st.Status(), err)
	}
	st.SetDeadline(time.Now().Add(5 * time.Second))
	st.Write([]byte{0x82, 0x82, 0, 0, 0, 0, 0xca, 0xfe})
	echo := make([]byte, 4)
	if _, err := io.ReadFull(st, echo); err != nil || string(echo) != "\x82\x02\xca\xfe" {
		t.Fatalf("echo over h2: %q, %v", echo, err)
	}
	st.Write([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// TestTLSFlagsGoTogether: --tls-cert without --tls-key is a usage error.
func TestTLSFlagsGoTogether(t *testing.T) {
	err := Run(context.Background(), []string{"ws", "listen", "0", "--tls-cert", "x.pem"}, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--tls-cert and --tls-key go together") {
		t.Fatalf("err %v", err)
	}
}
