package websocket_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/netkit-go/netkit/websocket"
)

// TestCompressionPeerMaxWindowBits: a server caps the client's window
// with client_max_window_bits (declining offers that cannot take it); a
// client requests server_max_window_bits; invalid values are refused.
func TestCompressionPeerMaxWindowBits(t *testing.T) {
	l := serveEcho(t, &websocket.ServiceConfig{Compression: websocket.CompressionConfig{PeerMaxWindowBits: 10}})
	msg := []byte(strings.Repeat("window bits ", 100))
	for offer, want := range map[string]string{
		"permessage-deflate; client_max_window_bits":   "client_max_window_bits=10",
		"permessage-deflate; client_max_window_bits=9": "client_max_window_bits=9",
		"permessage-deflate":                           "",
	} {
		c := dialWS(t, addrOf(l), "/ws", http.Header{"Sec-Websocket-Extensions": {offer}})
		ext := c.resp.Header.Get("Sec-Websocket-Extensions")
		if want == "" && ext != "" || want != "" && !strings.Contains(ext, want) {
			t.Errorf("offer %q: answer %q, want %q", offer, ext, want)
		}
		c.sendText(string(msg))
		c.expectMessage(opText, msg)
	}

	url := clServe(t, "/w", websocket.Static(websocket.Echo), nil)
	c := clDial(t, url, &websocket.ClientConfig{Compression: websocket.CompressionConfig{PeerMaxWindowBits: 11}})
	if ext := c.HandshakeResponse().Header.Get("Sec-Websocket-Extensions"); !strings.Contains(ext, "server_max_window_bits=11") {
		t.Fatalf("answer %q", ext)
	}
	ctx := testCtx(t)
	c.WriteTextMessage(ctx, msg)
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != string(msg) {
		t.Fatalf("echo: %v", err)
	}

	if _, err := websocket.Dial(ctx, url, &websocket.ClientConfig{Compression: websocket.CompressionConfig{PeerMaxWindowBits: 7}}); err == nil {
		t.Error("Dial accepted PeerMaxWindowBits 7")
	}
	ln, err := websocket.NewListener(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ln.Attach("/", websocket.Static(websocket.Echo), &websocket.ServiceConfig{Compression: websocket.CompressionConfig{PeerMaxWindowBits: 16}}); err == nil {
		t.Error("Attach accepted PeerMaxWindowBits 16")
	}
}
