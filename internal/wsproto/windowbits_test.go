package wsproto

import (
	"net/http"
	"testing"
)

// TestClientPeerMaxWindowBits: a client that asked for
// server_max_window_bits fails a handshake whose answer lacks or exceeds
// it.
func TestClientPeerMaxWindowBits(t *testing.T) {
	cfg := DeflateConfig{PeerMaxWindowBits: 10}
	if offer := ClientDeflateOffer(cfg); offer != "permessage-deflate; client_max_window_bits; client_no_context_takeover; server_max_window_bits=10" {
		t.Fatalf("offer %q", offer)
	}
	for answer, ok := range map[string]bool{
		"permessage-deflate; server_max_window_bits=10": true,
		"permessage-deflate; server_max_window_bits=9":  true,
		"permessage-deflate; server_max_window_bits=12": false,
		"permessage-deflate":                            false,
	} {
		_, _, err := NegotiateClient(http.Header{"Sec-Websocket-Extensions": {answer}}, cfg)
		if (err == nil) != ok {
			t.Errorf("%q: %v", answer, err)
		}
	}
}
