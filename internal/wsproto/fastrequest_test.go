package wsproto

import (
	"bufio"
	"bytes"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

const sampleUpgrade = "GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n" +
	"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n" +
	"Sec-WebSocket-Protocol: v2\r\nsec-websocket-version: 13\r\nPragma: no-cache\r\n\r\n"

// netHTTPRequest is what net/http's server hands a handler for raw (Host
// removed from the header), and the bytes its head took.
func netHTTPRequest(raw []byte) (*http.Request, int, error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	r, err := http.ReadRequest(br)
	if err != nil {
		return nil, 0, err
	}
	delete(r.Header, "Host")
	return r, len(raw) - br.Buffered(), nil
}

// sameRequest reports the first field where a and b differ, or "".
func sameRequest(a, b *http.Request) string {
	switch {
	case a.Method != b.Method:
		return "Method"
	case a.URL.String() != b.URL.String() || a.URL.Path != b.URL.Path || a.URL.RawQuery != b.URL.RawQuery:
		return "URL"
	case a.RequestURI != b.RequestURI:
		return "RequestURI"
	case a.Host != b.Host:
		return "Host"
	case a.Proto != b.Proto || a.ProtoMajor != b.ProtoMajor || a.ProtoMinor != b.ProtoMinor:
		return "Proto"
	case a.Close != b.Close || a.ContentLength != b.ContentLength:
		return "Close/ContentLength"
	case !maps.EqualFunc(a.Header, b.Header, slices.Equal[[]string]):
		return "Header"
	}
	return ""
}

func TestRequestParserMatchesNetHTTP(t *testing.T) {
	for _, split := range []int{len(sampleUpgrade), 1, 3, 17, len(sampleUpgrade) - 3, len(sampleUpgrade) - 1} {
		raw := []byte(sampleUpgrade + "\x81\x05early")
		var p RequestParser
		n1, st := p.Feed(raw[:split])
		if split < len(sampleUpgrade) {
			if st != NeedMore || n1 != split {
				t.Fatalf("split %d: first piece = %d, %v", split, n1, st)
			}
			var n2 int
			n2, st = p.Feed(raw[split:])
			n1 += n2
		}
		if st != FastPath || n1 != len(sampleUpgrade) {
			t.Fatalf("split %d: status %v, consumed %d of %d", split, st, n1, len(sampleUpgrade))
		}
		got := p.Request()
		want, _, err := netHTTPRequest(raw)
		if err != nil {
			t.Fatal(err)
		}
		if d := sameRequest(got, want); d != "" {
			t.Fatalf("split %d: %s differs:\n got %+v\nwant %+v", split, d, got, want)
		}
		if err := CheckRequest(got); err != nil {
			t.Fatal(err)
		}
		if got.Header.Get("Cache-Control") != "no-cache" || got.Body != http.NoBody {
			t.Fatal("Pragma fix-up or Body missing")
		}
	}
}

func TestRequestParserDeclines(t *testing.T) {
	base := strings.TrimSuffix(sampleUpgrade, "\r\n")
	for name, raw := range map[string]string{
		"POST":               strings.Replace(sampleUpgrade, "GET", "POST", 1),
		"HTTP/1.0":           strings.Replace(sampleUpgrade, "HTTP/1.1", "HTTP/1.0", 1),
		"absolute target":    strings.Replace(sampleUpgrade, "/chat", "http://x/chat", 1),
		"double slash":       strings.Replace(sampleUpgrade, "/chat", "//chat", 1),
		"bare LF":            strings.Replace(sampleUpgrade, "Origin: http://example.com\r\n", "Origin: x\n", 1),
		"obs-fold":           base + " folded\r\n\r\n",
		"body":               base + "Content-Length: 3\r\n\r\nabc",
		"chunked":            base + "Transfer-Encoding: chunked\r\n\r\n",
		"expect":             base + "Expect: 100-continue\r\n\r\n",
		"connection close":   base + "Connection: close\r\n\r\n",
		"two hosts":          base + "Host: other\r\n\r\n",
		"no host":            strings.Replace(sampleUpgrade, "Host: server.example.com\r\n", "", 1),
		"bad host":           strings.Replace(sampleUpgrade, "server.example.com", "a b", 1),
		"not an upgrade":     strings.Replace(sampleUpgrade, "Upgrade: websocket\r\n", "", 1),
		"bad name":           base + "Bad Name: x\r\n\r\n",
		"control in value":   base + "X: a\x01b\r\n\r\n",
		"too many fields":    base + strings.Repeat("X: y\r\n", DefaultFastMaxFields) + "\r\n",
		"too long":           base + "X: " + strings.Repeat("y", DefaultFastMaxHeaderBytes) + "\r\n\r\n",
		"garbage":            "\x16\x03\x01\x02\x00",
		"space before colon": base + "X : y\r\n\r\n",
	} {
		var p RequestParser
		if _, st := p.Feed([]byte(raw)); st != NotFastPath {
			t.Errorf("%s: status %v, want NotFastPath", name, st)
		}
		if p.Request() != nil {
			t.Errorf("%s: Request after NotFastPath", name)
		}
	}
}

// TestRequestParserReplay: after NotFastPath, Buffered plus the rest of
// the input is exactly what was fed, so net/http can read it all.
func TestRequestParserReplay(t *testing.T) {
	raw := []byte(strings.Replace(sampleUpgrade, "HTTP/1.1", "HTTP/1.0", 1))
	var p RequestParser
	var n int
	var st ParseStatus
	for i := 0; i < len(raw) && st == NeedMore; i += 10 {
		var m int
		m, st = p.Feed(raw[i:min(i+10, len(raw))])
		n = i + m
	}
	if st != NotFastPath {
		t.Fatalf("status %v", st)
	}
	if got := append(bytes.Clone(p.Buffered()), raw[n:]...); !bytes.Equal(got, raw) {
		t.Fatalf("replay %q, want %q", got, raw)
	}
	p.Reset()
	if _, st := p.Feed([]byte(sampleUpgrade)); st != FastPath {
		t.Fatalf("after Reset: %v", st)
	}
}

func BenchmarkUpgradeRequest(b *testing.B) {
	raw := []byte(sampleUpgrade)
	b.Run("fastpath", func(b *testing.B) {
		b.ReportAllocs()
		var p RequestParser
		for b.Loop() {
			p.Reset()
			if _, st := p.Feed(raw); st != FastPath {
				b.Fatal(st)
			}
			if p.Request() == nil {
				b.Fatal("no request")
			}
		}
	})
	b.Run("net-http-ReadRequest", func(b *testing.B) {
		b.ReportAllocs()
		rd := bytes.NewReader(raw)
		br := bufio.NewReader(rd)
		for b.Loop() {
			rd.Reset(raw)
			br.Reset(rd)
			if _, err := http.ReadRequest(br); err != nil {
				b.Fatal(err)
			}
		}
	})
}
