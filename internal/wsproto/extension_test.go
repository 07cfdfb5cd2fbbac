package wsproto

import (
	"fmt"
	"net/http"
	"testing"
)

func hdr(values ...string) http.Header {
	h := http.Header{}
	for _, v := range values {
		h.Add("Sec-WebSocket-Extensions", v)
	}
	return h
}

func TestParseExtensions(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, "[]"},
		{[]string{""}, "[]"},
		{[]string{"permessage-deflate"}, "[permessage-deflate]"},
		{[]string{"permessage-deflate; client_max_window_bits"}, "[permessage-deflate; client_max_window_bits]"},
		{[]string{"permessage-deflate;client_max_window_bits=10;server_no_context_takeover"}, "[permessage-deflate; client_max_window_bits=10; server_no_context_takeover]"},
		{[]string{`permessage-deflate; server_max_window_bits="10", permessage-deflate`}, "[permessage-deflate; server_max_window_bits=10 permessage-deflate]"},
		{[]string{"foo, bar; baz=1", "permessage-deflate"}, "[foo bar; baz=1 permessage-deflate]"},
		{[]string{" , ,foo ,, "}, "[foo]"},
		{[]string{"\tfoo ;\tx = 1 , bar"}, "[foo; x=1 bar]"},
		// quoted values: commas inside quotes do not split; escapes unquote
		{[]string{`x; a="1,2", y`}, "[y]"},           // "1,2" is not a token: x dropped
		{[]string{`x; a="\12", y`}, "[x; a=12 y]"},   // escape
		{[]string{`x; a="", y`}, "[y]"},              // empty value is not a token
		{[]string{`x; a="unterminated, y`}, "[]"},    // swallowed to the end
		{[]string{`x; =1, y`}, "[y]"},                // missing parameter name
		{[]string{`x; a=, y`}, "[y]"},                // missing value
		{[]string{`x y, z`}, "[z]"},                  // junk after the name
		{[]string{`"x", z`}, "[z]"},                  // quoted name
		{[]string{`x; a=1 b, z`}, "[z]"},             // junk after a value
		{[]string{`x; a="1" b, z`}, "[z]"},           // junk after a quoted value
		{[]string{`x; a="1";b, z`}, "[x; a=1; b z]"}, // quoted then another
	} {
		got := fmt.Sprint(ParseExtensions(hdr(tc.in...)))
		if got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestNegotiateServer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		offer []string
		cfg   DeflateConfig
		want  string // response; "" = declined
	}{
		{"no offer", nil, DeflateConfig{}, ""},
		{"other extension", []string{"x-webkit-deflate-frame"}, DeflateConfig{}, ""},
		{"plain", []string{"permessage-deflate"}, DeflateConfig{}, "permessage-deflate; server_no_context_takeover"},
		{"case-insensitive", []string{"Permessage-Deflate; Client_Max_Window_Bits"}, DeflateConfig{}, "permessage-deflate; server_no_context_takeover"},
		{"chrome", []string{"permessage-deflate; client_max_window_bits"}, DeflateConfig{}, "permessage-deflate; server_no_context_takeover"},
		{"server takeover configured", []string{"permessage-deflate; client_max_window_bits"}, DeflateConfig{ContextTakeover: true}, "permessage-deflate"},
		{"client forbids server takeover", []string{"permessage-deflate; server_no_context_takeover"}, DeflateConfig{ContextTakeover: true}, "permessage-deflate; server_no_context_takeover"},
		{"client_no_context_takeover honoured", []string{"permessage-deflate; client_no_context_takeover"}, DeflateConfig{}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"peer no takeover configured", []string{"permessage-deflate"}, DeflateConfig{PeerNoContextTakeover: true}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"server window 10", []string{"permessage-deflate; server_max_window_bits=10"}, DeflateConfig{}, "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"},
		{"server window 15", []string{"permessage-deflate; server_max_window_bits=15"}, DeflateConfig{}, "permessage-deflate; server_no_context_takeover; server_max_window_bits=15"},
		{"server window 8 quoted", []string{`permessage-deflate; server_max_window_bits="8"`}, DeflateConfig{}, "permessage-deflate; server_no_context_takeover; server_max_window_bits=8"},
		{"client window value", []string{"permessage-deflate; client_max_window_bits=9"}, DeflateConfig{}, "permessage-deflate; server_no_context_takeover"},
		{"server window 7 declined", []string{"permessage-deflate; server_max_window_bits=7"}, DeflateConfig{}, ""},
		{"server window 16 declined", []string{"permessage-deflate; server_max_window_bits=16"}, DeflateConfig{}, ""},
		{"server window leading zero declined", []string{"permessage-deflate; server_max_window_bits=09"}, DeflateConfig{}, ""},
		{"server window without value declined", []string{"permessage-deflate; server_max_window_bits"}, DeflateConfig{}, ""},
		{"client window 20 declined", []string{"permessage-deflate; client_max_window_bits=20"}, DeflateConfig{}, ""},
		{"value on flag declined", []string{"permessage-deflate; server_no_context_takeover=1"}, DeflateConfig{}, ""},
		{"duplicate declined", []string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}, DeflateConfig{}, ""},
		{"unknown param declined", []string{"permessage-deflate; foo"}, DeflateConfig{}, ""},
		{"first bad, second good", []string{"permessage-deflate; server_max_window_bits=5, permessage-deflate; client_no_context_takeover"}, DeflateConfig{}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"first acceptable wins", []string{"foo", "permessage-deflate; server_max_window_bits=12", "permessage-deflate"}, DeflateConfig{}, "permessage-deflate; server_no_context_takeover; server_max_window_bits=12"},
	} {
		params, resp, ok := NegotiateServer(ParseExtensions(hdr(tc.offer...)), tc.cfg)
		if ok != (tc.want != "") || resp != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.name, resp, ok, tc.want)
			continue
		}
		if ok && params.String() != resp {
			t.Errorf("%s: params %+v do not format as the response", tc.name, params)
		}
		if !ok {
			continue
		}
		// The client side accepts every response we make to its offer.
		got, ok2, err := NegotiateClient(hdr(resp), DeflateConfig{})
		if err != nil || !ok2 || got != params {
			t.Errorf("%s: client rejects our response: %+v %v %v", tc.name, got, ok2, err)
		}
	}
}

func TestClientDeflate(t *testing.T) {
	if got := ClientDeflateOffer(DeflateConfig{}); got != "permessage-deflate; client_max_window_bits; client_no_context_takeover" {
		t.Errorf("offer %q", got)
	}
	if got := ClientDeflateOffer(DeflateConfig{ContextTakeover: true, PeerNoContextTakeover: true}); got != "permessage-deflate; client_max_window_bits; server_no_context_takeover" {
		t.Errorf("offer %q", got)
	}
	// Our own offer is acceptable to our server.
	if _, _, ok := NegotiateServer(ParseExtensions(hdr(ClientDeflateOffer(DeflateConfig{PeerNoContextTakeover: true}))), DeflateConfig{}); !ok {
		t.Error("server declines our client offer")
	}
	for _, tc := range []struct {
		name string
		resp []string
		cfg  DeflateConfig
		want DeflateParams
		ok   bool
		err  bool
	}{
		{"declined", nil, DeflateConfig{}, DeflateParams{}, false, false},
		{"plain", []string{"permessage-deflate"}, DeflateConfig{}, DeflateParams{}, true, false},
		{"all params", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10"}, DeflateConfig{},
			DeflateParams{true, true, 9, 10}, true, false},
		{"unsolicited server_no_context_takeover is fine", []string{"permessage-deflate; server_no_context_takeover"}, DeflateConfig{}, DeflateParams{ServerNoContextTakeover: true}, true, false},
		{"client window without value", []string{"permessage-deflate; client_max_window_bits"}, DeflateConfig{}, DeflateParams{}, false, true},
		{"two extensions", []string{"permessage-deflate, permessage-deflate"}, DeflateConfig{}, DeflateParams{}, false, true},
		{"other extension", []string{"foo"}, DeflateConfig{}, DeflateParams{}, false, true},
		{"malformed", []string{"permessage-deflate; a="}, DeflateConfig{}, DeflateParams{}, false, true},
		{"bad window", []string{"permessage-deflate; server_max_window_bits=16"}, DeflateConfig{}, DeflateParams{}, false, true},
		{"unknown param", []string{"permessage-deflate; x"}, DeflateConfig{}, DeflateParams{}, false, true},
		{"asked server_no_context_takeover, ignored", []string{"permessage-deflate"}, DeflateConfig{PeerNoContextTakeover: true}, DeflateParams{}, false, true},
		{"asked server_no_context_takeover, granted", []string{"permessage-deflate; server_no_context_takeover"}, DeflateConfig{PeerNoContextTakeover: true}, DeflateParams{ServerNoContextTakeover: true}, true, false},
	} {
		got, ok, err := NegotiateClient(hdr(tc.resp...), tc.cfg)
		if got != tc.want || ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("%s: %+v %v %v", tc.name, got, ok, err)
		}
	}
}

func TestTokens(t *testing.T) {
	if !ValidToken("chat.v2") || ValidToken("") || ValidToken("a b") || ValidToken("a,b") || ValidToken("é") || ValidToken("a\"") {
		t.Error("ValidToken")
	}
	got := fmt.Sprint(ParseTokenList([]string{"chat, superchat", " ,v2.json ,", "bad token, ok"}))
	if got != "[chat superchat v2.json ok]" {
		t.Errorf("ParseTokenList: %s", got)
	}
	for _, tc := range []struct {
		offered, supported []string
		want               string
	}{
		{[]string{"a", "b"}, []string{"b", "a"}, "b"},
		{[]string{"a", "b"}, []string{"c"}, ""},
		{nil, []string{"c"}, ""},
		{[]string{"Chat"}, []string{"chat"}, ""},
	} {
		if got := SelectSubprotocol(tc.offered, tc.supported); got != tc.want {
			t.Errorf("SelectSubprotocol(%v, %v) = %q", tc.offered, tc.supported, got)
		}
	}
}
