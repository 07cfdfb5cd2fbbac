package wsproto

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAcceptKey(t *testing.T) {
	// RFC 6455 §1.3.
	if got := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("AcceptKey = %q", got)
	}
	k1, k2 := NewClientKey(), NewClientKey()
	b, err := base64.StdEncoding.DecodeString(k1)
	if err != nil || len(b) != 16 || k1 == k2 || !validKey(k1) {
		t.Fatalf("NewClientKey %q %q: %v", k1, k2, err)
	}
}

func upgradeRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://example.com/chat", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.Header.Set("Sec-WebSocket-Version", "13")
	return r
}

func TestCheckRequest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(r *http.Request)
		status int
	}{
		{"valid", func(r *http.Request) {}, 0},
		{"token lists", func(r *http.Request) {
			r.Header.Set("Connection", "keep-alive, Upgrade")
			r.Header.Set("Upgrade", "h2c, WebSocket")
		}, 0},
		{"split header lines", func(r *http.Request) {
			r.Header["Connection"] = []string{"keep-alive", "upgrade"}
		}, 0},
		{"subprotocols", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Protocol", "chat, superchat") }, 0},
		{"bad subprotocol", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Protocol", "chat, a b") }, 400},
		{"POST", func(r *http.Request) { r.Method = http.MethodPost }, 405},
		{"HTTP/1.0", func(r *http.Request) { r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0 }, 400},
		{"no host", func(r *http.Request) { r.Host = "" }, 400},
		{"no Connection", func(r *http.Request) { r.Header.Del("Connection") }, 400},
		{"Connection keep-alive", func(r *http.Request) { r.Header.Set("Connection", "keep-alive") }, 400},
		{"Connection upgraded (not a token match)", func(r *http.Request) { r.Header.Set("Connection", "upgraded") }, 400},
		{"no Upgrade", func(r *http.Request) { r.Header.Del("Upgrade") }, 400},
		{"Upgrade h2c", func(r *http.Request) { r.Header.Set("Upgrade", "h2c") }, 400},
		{"no version", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Version") }, 426},
		{"version 8", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") }, 426},
		{"two versions", func(r *http.Request) { r.Header.Add("Sec-WebSocket-Version", "8") }, 426},
		{"no key", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Key") }, 400},
		{"two keys", func(r *http.Request) { r.Header.Add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==") }, 400},
		{"short key", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZQ==") }, 400},
		{"not base64", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "!GhlIHNhbXBsZSBub25jZQ==") }, 400},
		{"17 bytes", func(r *http.Request) {
			r.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString(make([]byte, 17)))
		}, 400},
	} {
		r := upgradeRequest()
		tc.edit(r)
		err := CheckRequest(r)
		var he *HandshakeError
		switch {
		case tc.status == 0 && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.status != 0 && (!errors.As(err, &he) || he.Status != tc.status):
			t.Errorf("%s: %v, want status %d", tc.name, err, tc.status)
		}
	}
	r := upgradeRequest()
	if !IsUpgradeRequest(r) || RequestKey(r) != "dGhlIHNhbXBsZSBub25jZQ==" {
		t.Error("IsUpgradeRequest/RequestKey")
	}
	r.Header.Set("Sec-WebSocket-Protocol", "a, b")
	r.Header.Add("Sec-WebSocket-Protocol", "c")
	if got := strings.Join(Subprotocols(r), " "); got != "a b c" {
		t.Errorf("Subprotocols %q", got)
	}
	r.Header.Del("Upgrade")
	if IsUpgradeRequest(r) {
		t.Error("IsUpgradeRequest without Upgrade")
	}
}

func TestHandshakeErrorRespond(t *testing.T) {
	for _, tc := range []struct {
		err    *HandshakeError
		header string
		value  string
	}{
		{&HandshakeError{Status: 426, Message: "version"}, "Sec-WebSocket-Version", "13"},
		{&HandshakeError{Status: 405, Message: "method"}, "Allow", "GET"},
		{&HandshakeError{Message: "no status"}, "", ""},
	} {
		w := httptest.NewRecorder()
		tc.err.Respond(w)
		want := tc.err.Status
		if want == 0 {
			want = 400
		}
		if w.Code != want || (tc.header != "" && w.Header().Get(tc.header) != tc.value) || !strings.Contains(w.Body.String(), tc.err.Message) {
			t.Errorf("%v: %d %v", tc.err, w.Code, w.Header())
		}
	}
	if (&HandshakeError{Message: "x"}).Error() != "websocket: handshake: x" {
		t.Error("Error()")
	}
}

func TestAppendResponse(t *testing.T) {
	extra := http.Header{"X-Test": {"1"}, "Bad": {"a\r\nInjected: yes"}}
	raw := AppendResponse(nil, "dGhlIHNhbXBsZSBub25jZQ==", "chat", "permessage-deflate", extra)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	c := &ClientHandshake{Key: "dGhlIHNhbXBsZSBub25jZQ==", Subprotocols: []string{"chat"}, Deflate: &DeflateConfig{}}
	res, err := CheckResponse(resp, c)
	if err != nil || res.Subprotocol != "chat" || !res.Deflate {
		t.Fatalf("CheckResponse: %+v %v", res, err)
	}
	if resp.Header.Get("X-Test") != "1" || resp.Header.Get("Injected") != "" || resp.Header.Get("Bad") != "" {
		t.Fatalf("extra headers: %v", resp.Header)
	}
}

func TestCheckResponse(t *testing.T) {
	key := "dGhlIHNhbXBsZSBub25jZQ=="
	good := func() *http.Response {
		return &http.Response{StatusCode: 101, Header: http.Header{
			"Upgrade":              {"websocket"},
			"Connection":           {"Upgrade"},
			"Sec-Websocket-Accept": {AcceptKey(key)},
		}}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*http.Response)
		offer ClientHandshake
		ok    bool
	}{
		{"valid", func(*http.Response) {}, ClientHandshake{}, true},
		{"status 200", func(r *http.Response) { r.StatusCode = 200 }, ClientHandshake{}, false},
		{"status 403", func(r *http.Response) { r.StatusCode = 403 }, ClientHandshake{}, false},
		{"no upgrade", func(r *http.Response) { r.Header.Del("Upgrade") }, ClientHandshake{}, false},
		{"no connection", func(r *http.Response) { r.Header.Del("Connection") }, ClientHandshake{}, false},
		{"wrong accept", func(r *http.Response) { r.Header.Set("Sec-WebSocket-Accept", AcceptKey("other")) }, ClientHandshake{}, false},
		{"no accept", func(r *http.Response) { r.Header.Del("Sec-WebSocket-Accept") }, ClientHandshake{}, false},
		{"offered subprotocol", func(r *http.Response) { r.Header.Set("Sec-WebSocket-Protocol", "b") }, ClientHandshake{Subprotocols: []string{"a", "b"}}, true},
		{"unoffered subprotocol", func(r *http.Response) { r.Header.Set("Sec-WebSocket-Protocol", "c") }, ClientHandshake{Subprotocols: []string{"a", "b"}}, false},
		{"two subprotocols", func(r *http.Response) { r.Header["Sec-Websocket-Protocol"] = []string{"a", "b"} }, ClientHandshake{Subprotocols: []string{"a", "b"}}, false},
		{"server picks none", func(*http.Response) {}, ClientHandshake{Subprotocols: []string{"a"}}, true},
		{"unoffered extension", func(r *http.Response) { r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate") }, ClientHandshake{}, false},
		{"offered deflate accepted", func(r *http.Response) { r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate") }, ClientHandshake{Deflate: &DeflateConfig{}}, true},
		{"offered deflate declined", func(*http.Response) {}, ClientHandshake{Deflate: &DeflateConfig{}}, true},
		{"deflate bad params", func(r *http.Response) { r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate; bogus") }, ClientHandshake{Deflate: &DeflateConfig{}}, false},
	} {
		resp := good()
		tc.edit(resp)
		c := tc.offer
		c.Key = key
		_, err := CheckResponse(resp, &c)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
		var he *HandshakeError
		if err != nil && (!errors.As(err, &he) || he.Status != resp.StatusCode) {
			t.Errorf("%s: error %v does not carry status %d", tc.name, err, resp.StatusCode)
		}
	}
}

func TestClientHandshakeHeaders(t *testing.T) {
	c := &ClientHandshake{Subprotocols: []string{"chat", "v2"}, Deflate: &DeflateConfig{}}
	r := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
	c.SetRequestHeaders(r.Header)
	if err := CheckRequest(r); err != nil {
		t.Fatalf("our request fails our check: %v", err)
	}
	if c.Key == "" || RequestKey(r) != c.Key || strings.Join(Subprotocols(r), ",") != "chat,v2" {
		t.Fatalf("headers %v", r.Header)
	}
	if _, _, ok := NegotiateServer(ParseExtensions(r.Header), DeflateConfig{}); !ok {
		t.Fatal("deflate offer not accepted")
	}
}

// RFC 8441 §4–5: the extended CONNECT's checks and their statuses.
func TestCheckRequestExtendedConnect(t *testing.T) {
	req := func(protocol, version string) *http.Request {
		r := &http.Request{Method: http.MethodConnect, Proto: "HTTP/2.0", ProtoMajor: 2, Host: "example.com", Header: http.Header{}}
		if protocol != "" {
			r.Header.Set(":protocol", protocol)
		}
		if version != "" {
			r.Header.Set("Sec-WebSocket-Version", version)
		}
		return r
	}
	if err := CheckRequest(req("websocket", "13")); err != nil {
		t.Fatalf("valid CONNECT: %v", err)
	}
	if !IsExtendedConnect(req("websocket", "13")) || IsExtendedConnect(req("", "13")) {
		t.Fatal("IsExtendedConnect")
	}
	for _, tc := range []struct {
		r       *http.Request
		status  int
		version bool
	}{
		{req("websocket", "12"), http.StatusBadRequest, true},
		{req("websocket", ""), http.StatusBadRequest, true},
		{req("connect-udp", "13"), http.StatusNotImplemented, false},
		{req("", "13"), http.StatusBadRequest, false},
	} {
		err := CheckRequest(tc.r)
		var he *HandshakeError
		if !errors.As(err, &he) || he.Status != tc.status || he.Version != tc.version {
			t.Errorf(":protocol %q version %q: %v, want status %d (version header %v)", tc.r.Header.Get(":protocol"), tc.r.Header.Get("Sec-WebSocket-Version"), err, tc.status, tc.version)
		}
	}
}
