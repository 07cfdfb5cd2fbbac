package websocket_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

func TestCompressionNegotiation(t *testing.T) {
	offer := func(v string) http.Header { return http.Header{"Sec-Websocket-Extensions": {v}} }
	l := serveEcho(t, nil)
	msg := []byte(strings.Repeat("compress me please ", 50))
	t.Run("default answers server_no_context_takeover", func(t *testing.T) {
		c := dialWS(t, addrOf(l), "/ws", offer("permessage-deflate; client_max_window_bits"))
		ext := c.resp.Header.Get("Sec-Websocket-Extensions")
		if !strings.Contains(ext, "permessage-deflate") || !strings.Contains(ext, "server_no_context_takeover") {
			t.Fatalf("extensions %q", ext)
		}
		for i := 0; i < 3; i++ {
			c.dict = nil // no context takeover: each message decodes alone
			c.sendText(string(msg))
			if ev := c.expectMessage(opText, msg); !ev.comp {
				t.Fatal("reply not compressed")
			}
		}
		c.sendText("tiny")
		if ev := c.expectMessage(opText, []byte("tiny")); ev.comp {
			t.Fatal("a message under the threshold was compressed")
		}
	})
	t.Run("small server window gets Huffman-only output", func(t *testing.T) {
		c := dialWS(t, addrOf(l), "/ws", offer("permessage-deflate; server_max_window_bits=9"))
		if ext := c.resp.Header.Get("Sec-Websocket-Extensions"); !strings.Contains(ext, "server_max_window_bits=9") {
			t.Fatalf("extensions %q", ext)
		}
		c.sendText(string(msg))
		c.expectMessage(opText, msg)
	})
	t.Run("invalid offer runs uncompressed", func(t *testing.T) {
		c := dialWS(t, addrOf(l), "/ws", offer("permessage-deflate; server_max_window_bits=20"))
		if ext := c.resp.Header.Get("Sec-Websocket-Extensions"); ext != "" {
			t.Fatalf("extensions %q", ext)
		}
		c.sendText(string(msg))
		if ev := c.expectMessage(opText, msg); ev.comp {
			t.Fatal("compressed without negotiation")
		}
	})
	t.Run("disabled", func(t *testing.T) {
		l2 := serveEcho(t, &websocket.ServiceConfig{Compression: websocket.CompressionConfig{Disable: true}})
		c := dialWS(t, addrOf(l2), "/ws", offer("permessage-deflate"))
		if ext := c.resp.Header.Get("Sec-Websocket-Extensions"); ext != "" {
			t.Fatalf("extensions %q", ext)
		}
	})
	t.Run("server context takeover", func(t *testing.T) {
		l2 := serveEcho(t, &websocket.ServiceConfig{Compression: websocket.CompressionConfig{ContextTakeover: true}})
		c := dialWS(t, addrOf(l2), "/ws", offer("permessage-deflate"))
		if ext := c.resp.Header.Get("Sec-Websocket-Extensions"); strings.Contains(ext, "server_no_context_takeover") {
			t.Fatalf("extensions %q", ext)
		}
		for i := 0; i < 3; i++ {
			c.sendText(string(msg))
			c.expectMessage(opText, msg) // decoded with the running dictionary
		}
	})
}

// TestUpgradeTimeoutResetAfterHandshake: the listener's request timeout
// does not apply to the WebSocket connection.
func TestUpgradeTimeoutResetAfterHandshake(t *testing.T) {
	l := serve(t, "/ws", websocket.Static(websocket.Echo), nil, &websocket.ListenerConfig{Timeout: 200 * time.Millisecond})
	c := dialWS(t, addrOf(l), "/ws", nil)
	c.expectNothing(500 * time.Millisecond) // idle past the request timeout
	c.sendText("still open")
	c.expectMessage(opText, []byte("still open"))
}
