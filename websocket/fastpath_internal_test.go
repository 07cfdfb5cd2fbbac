package websocket

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
)

// seenRequest is what an UpgradeService is handed, comparable.
type seenRequest struct {
	Method, URL, Path, RawQuery, Proto, Host, RequestURI string
	ProtoMajor, ProtoMinor                               int
	RemoteAddrSet, TLSNil, Deadline, NoBody, Close       bool
	ContentLength                                        int64
}

type seen struct {
	seenRequest
	Header http.Header
}

func snapshot(r *http.Request) seen {
	_, dl := r.Context().Deadline()
	return seen{Header: r.Header.Clone(), seenRequest: seenRequest{
		Method: r.Method, URL: r.URL.String(), Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Proto: r.Proto, Host: r.Host, RequestURI: r.RequestURI,
		ProtoMajor: r.ProtoMajor, ProtoMinor: r.ProtoMinor,
		RemoteAddrSet: strings.HasPrefix(r.RemoteAddr, "127.0.0.1:"), TLSNil: r.TLS == nil,
		Deadline: dl, NoBody: r.Body == http.NoBody, Close: r.Close, ContentLength: r.ContentLength,
	}}
}

func (a seen) diff(b seen) string {
	switch {
	case a.seenRequest != b.seenRequest:
		return "fields"
	case !maps.EqualFunc(a.Header, b.Header, slices.Equal[[]string]):
		return "Header"
	}
	return ""
}

// fastPathListener starts a Listener at "/chat" whose UpgradeService
// reports each request it sees on the returned channel and accepts it with
// Echo; noFast sends every request through net/http.
func fastPathListener(t *testing.T, noFast bool, cfg ListenerConfig) (*Listener, <-chan seen) {
	t.Helper()
	cfg.Host, cfg.Logger = "127.0.0.1", netkittest.DiscardLogger
	l, err := NewListener(0, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	l.noFastPath = noFast
	seenc := make(chan seen, 1)
	up := UpgradeFunc(func(r *http.Request, h http.Header) (Service, error) {
		seenc <- snapshot(r)
		h.Set("X-Seen", "1")
		return Echo, nil
	})
	if err := l.Attach("/chat", up, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	return l, seenc
}

// exchange sends raw (in pieces of at most chunk bytes if chunk > 0 ... the
// engine may still read them together) and returns the response's status,
// its header without Date, and the connection and reader positioned after
// the response head.
func exchange(t *testing.T, addr string, raw []byte) (int, http.Header, net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	h := resp.Header.Clone()
	h.Del("Date")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp.StatusCode, h, nc, br
}

const fpKey = "dGhlIHNhbXBsZSBub25jZQ=="

func upgradeHead(target string, extra ...string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + fpKey + "\r\nSec-WebSocket-Version: 13\r\n" + strings.Join(extra, "") + "\r\n"
}

// maskedText is a client's masked text frame.
func maskedText(s string) []byte {
	mask := [4]byte{1, 2, 3, 4}
	b := append([]byte{0x81, 0x80 | byte(len(s))}, mask[:]...)
	for i := range len(s) {
		b = append(b, s[i]^mask[i%4])
	}
	return b
}

// TestHandshakeFastPathMatchesNetHTTP sends the same raw bytes to a
// Listener with the handshake fast path and one reading every request
// with net/http: the path each takes is the expected one, the request the
// UpgradeService sees is the same, and so is the answer (status and
// header); after a 101, the bytes sent with the request are the first
// frame. Every declined request is replayed to net/http whole.
func TestHandshakeFastPathMatchesNetHTTP(t *testing.T) {
	long := strings.Repeat("a", DefaultMaxHeaderSize)
	cases := []struct {
		name   string
		raw    string
		fast   bool // taken by the fast path
		status int
	}{
		{"plain", upgradeHead("/chat"), true, 101},
		{"query, escapes, odd case", "GET /chat?room=a%20b&x=1 HTTP/1.1\r\nhost: 127.0.0.1:80\r\nupgrade: WebSocket\r\n" +
			"connection: keep-alive, upgrade\r\nsec-websocket-key: " + fpKey + "\r\nsec-websocket-version: 13\r\n" +
			"X-Dup: 1\r\nx-dup: 2\r\nX-Empty:\r\nPragma: no-cache\r\nOrigin: http://127.0.0.1:80\r\n" +
			"Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n", true, 101},
		{"with a frame", upgradeHead("/chat") + string(maskedText("early")), true, 101},
		{"unknown path", upgradeHead("/other"), true, 404},
		{"bad version", strings.Replace(upgradeHead("/chat"), "Version: 13", "Version: 8", 1), true, 426},
		{"no key", strings.Replace(upgradeHead("/chat"), "Sec-WebSocket-Key: "+fpKey+"\r\n", "", 1), true, 400},
		{"cleaned path", upgradeHead("/a/../chat"), true, 101},
		{"HTTP/1.0", strings.Replace(upgradeHead("/chat"), "HTTP/1.1", "HTTP/1.0", 1), false, 400},
		{"POST", strings.Replace(upgradeHead("/chat"), "GET", "POST", 1), false, 405},
		{"absolute form", strings.Replace(upgradeHead("/chat"), "GET /chat", "GET http://127.0.0.1/chat", 1), false, 101},
		{"Connection: close", upgradeHead("/chat", "Connection: close\r\n"), false, 101},
		{"Content-Length", upgradeHead("/chat", "Content-Length: 0\r\n"), false, 101},
		{"bare LF", strings.ReplaceAll(upgradeHead("/chat"), "\r\n", "\n"), false, 101},
		{"obs-fold", upgradeHead("/chat", "X-Fold: a\r\n b\r\n"), false, 101},
		{"no Host", strings.Replace(upgradeHead("/chat"), "Host: 127.0.0.1\r\n", "", 1), false, 400},
		{"two Hosts", upgradeHead("/chat", "Host: other\r\n"), false, 400},
		{"bad Host", strings.Replace(upgradeHead("/chat"), "Host: 127.0.0.1", "Host: a b", 1), false, 101},
		{"bad escape", upgradeHead("/chat%zz"), false, 400},
		{"not an upgrade", "GET /chat HTTP/1.1\r\nHost: x\r\n\r\n", false, 400},
		{"space in name", upgradeHead("/chat", "Bad Name: x\r\n"), false, 101},
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", false, 400},
		{"too many fields", upgradeHead("/chat", strings.Repeat("X-A: 1\r\n", 70)), false, 101},
		{"header too large", upgradeHead("/chat", "X-Long: "+long+long+"\r\n"), false, 431},
	}
	type result struct {
		status int
		header http.Header
		seen   *seen
		echo   []byte
	}
	run := func(t *testing.T, l *Listener, seen <-chan seen, raw string) result {
		status, h, nc, br := exchange(t, l.Addr().String(), []byte(raw))
		r := result{status: status, header: h}
		select {
		case s := <-seen:
			r.seen = &s
		default:
		}
		if status == http.StatusSwitchingProtocols {
			nc.Write(maskedText("ping"))
			// The echo of "early" (when sent) comes before that of "ping".
			want := []byte("\x81\x04ping")
			if strings.Contains(raw, string(maskedText("early"))) {
				want = append([]byte("\x81\x05early"), want...)
			}
			r.echo = make([]byte, len(want))
			if _, err := io.ReadFull(br, r.echo); err != nil {
				t.Fatalf("reading the echo: %v", err)
			}
			if !bytes.Equal(r.echo, want) {
				t.Fatalf("echo %q, want %q", r.echo, want)
			}
		}
		return r
	}
	fastL, fastSeen := fastPathListener(t, false, ListenerConfig{})
	slowL, slowSeen := fastPathListener(t, true, ListenerConfig{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := [2]uint64{fastL.requests[0].Load(), fastL.requests[1].Load()}
			got := run(t, fastL, fastSeen, tc.raw)
			if f := fastL.requests[1].Load() - before[1]; (f == 1) != tc.fast || f+fastL.requests[0].Load()-before[0] != 1 {
				t.Fatalf("fast path taken %d times, want %v", f, tc.fast)
			}
			slowFast := slowL.requests[1].Load()
			want := run(t, slowL, slowSeen, tc.raw)
			if slowL.requests[1].Load() != slowFast || slowFast != 0 {
				t.Fatal("the net/http listener took the fast path")
			}
			if got.status != tc.status || want.status != tc.status {
				t.Fatalf("status %d (net/http %d), want %d", got.status, want.status, tc.status)
			}
			if !maps.EqualFunc(got.header, want.header, slices.Equal[[]string]) {
				t.Fatalf("response header:\n got %v\nwant %v", got.header, want.header)
			}
			if (got.seen == nil) != (want.seen == nil) || (got.seen == nil) != (tc.status != 101) {
				t.Fatalf("service called: fast %v, net/http %v", got.seen != nil, want.seen != nil)
			}
			if got.seen != nil {
				if d := got.seen.diff(*want.seen); d != "" {
					t.Fatalf("%s of the request differs:\n got %+v\nwant %+v", d, *got.seen, *want.seen)
				}
				if !got.seen.RemoteAddrSet || !got.seen.TLSNil || !got.seen.Deadline || !got.seen.NoBody {
					t.Fatalf("request not as a handler's: %+v", *got.seen)
				}
			}
		})
	}
}

// pieceConn hands its reads out at most n bytes at a time.
type pieceConn struct {
	net.Conn
	n int
}

func (c *pieceConn) Read(p []byte) (int, error) { return c.Conn.Read(p[:min(len(p), c.n)]) }

type pieceListener struct {
	net.Listener
	n int
}

func (l *pieceListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &pieceConn{Conn: c, n: l.n}, nil
}

// TestHandshakeFastPathInPieces: a request read a few bytes at a time
// takes the fast path (the parser keeps the pieces), the bytes after it
// are the first frame, and a declined one read in pieces is replayed
// whole to net/http (the same 101, and the 431 of a head over the limit).
func TestHandshakeFastPathInPieces(t *testing.T) {
	for _, n := range []int{1, 7, 100, 1 << 20} {
		l, err := NewListener(0, &ListenerConfig{Logger: netkittest.DiscardLogger})
		if err != nil {
			t.Fatal(err)
		}
		seenc := make(chan seen, 1)
		l.Attach("/chat", UpgradeFunc(func(r *http.Request, h http.Header) (Service, error) {
			seenc <- snapshot(r)
			return Echo, nil
		}), nil)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Serve(&pieceListener{Listener: ln, n: n}); err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		for _, tc := range []struct {
			raw    string
			fast   bool
			status int
		}{
			{upgradeHead("/chat?a=b", "Origin: http://127.0.0.1\r\n") + string(maskedText("early")), true, 101},
			{upgradeHead("/chat", "Connection: close\r\n"), false, 101},
			{upgradeHead("/chat", "Content-Length: 0\r\n") + string(maskedText("early")), false, 101},
			{upgradeHead("/chat", "X-Long: "+strings.Repeat("b", DefaultMaxHeaderSize+4096)+"\r\n"), false, 431},
		} {
			before := l.requests[1].Load()
			status, _, nc, br := exchange(t, addr, []byte(tc.raw))
			if status != tc.status || (l.requests[1].Load() > before) != tc.fast {
				t.Fatalf("pieces of %d, %.40q: status %d, fast path %v", n, tc.raw, status, l.requests[1].Load() > before)
			}
			if status != 101 {
				continue
			}
			if s := <-seenc; s.URL != "/chat?a=b" && s.URL != "/chat" {
				t.Fatalf("pieces of %d: URL %q", n, s.URL)
			}
			if !strings.HasSuffix(tc.raw, string(maskedText("early"))) {
				nc.Close()
				continue
			}
			buf := make([]byte, 7)
			if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "\x81\x05early" {
				t.Fatalf("pieces of %d: first frame %q, %v", n, buf, err)
			}
			nc.Close()
		}
		l.ImmediateStop()
	}
}

// TestHandshakeFastPathSilentClients: a client that sends part of a
// request then goes away, or says nothing until the Timeout, is closed
// without an answer, as with net/http.
func TestHandshakeFastPathSilentClients(t *testing.T) {
	l, _ := fastPathListener(t, false, ListenerConfig{Timeout: 200 * time.Millisecond})
	for _, raw := range []string{"", "GET /chat HTTP/1.1\r\nHost: x\r\n", "GET /ch"} {
		nc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		nc.Write([]byte(raw))
		b, err := io.ReadAll(nc) // until the server's close (the Timeout)
		nc.Close()
		if len(b) != 0 || err != nil {
			t.Fatalf("%q: got %q, %v; want a silent close", raw, b, err)
		}
	}
	// Gone mid-request: the connection is freed.
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc.Write([]byte("GET /chat HTTP/1.1\r\nHo"))
	nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for l.Len() != 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("%d connections left", l.Len())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// BenchmarkListenerHandshake is a ws:// handshake against a Listener,
// with the fast path and with every request read by net/http: dial,
// upgrade request, 101, close frame, the server's close, EOF. cpu-ns/op
// is the process's CPU time (client and server; the client's share is the
// same in both) per handshake.
func BenchmarkListenerHandshake(b *testing.B) {
	for _, bc := range []struct {
		name   string
		noFast bool
	}{{"fastpath", false}, {"net-http", true}} {
		b.Run(bc.name, func(b *testing.B) {
			l, err := NewListener(0, &ListenerConfig{Host: "127.0.0.1", Logger: netkittest.DiscardLogger})
			if err != nil {
				b.Fatal(err)
			}
			l.noFastPath = bc.noFast
			l.Attach("/chat", Static(Echo), nil)
			if err := l.Start(); err != nil {
				b.Fatal(err)
			}
			defer l.ImmediateStop()
			addr := l.Addr().String()
			req := []byte(upgradeHead("/chat", "Origin: http://127.0.0.1\r\n", "User-Agent: bench\r\n"))
			closeFrame := []byte{0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2}
			buf := make([]byte, 4096)
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				nc.Write(req)
				n, err := nc.Read(buf) // the 101 (one segment on loopback)
				if err != nil || !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 101 ")) {
					b.Fatalf("%q, %v", buf[:n], err)
				}
				nc.Write(closeFrame)
				for err == nil {
					_, err = nc.Read(buf)
				}
				nc.Close()
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// TestHandshakeFastPathReplaysBodies: requests the fast path declines
// reach Fallback whole, body included, whether the body came with the
// head or after it.
func TestHandshakeFastPathReplaysBodies(t *testing.T) {
	fb := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(append([]byte(r.Method+" "+r.URL.Path+" "), b...))
	})
	l, _ := fastPathListener(t, false, ListenerConfig{Fallback: fb})
	for _, raw := range []string{
		"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"GET /page HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"PUT /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	} {
		nc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		nc.Write([]byte(raw))
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		nc.Close()
		method, path, _ := strings.Cut(raw, " ")
		path, _, _ = strings.Cut(path, " ")
		if want := method + " " + path + " hello"; resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("%q: %d %q, want 200 %q", raw, resp.StatusCode, body, want)
		}
	}
	if l.requests[1].Load() != 0 || l.requests[0].Load() != 3 {
		t.Fatalf("paths taken: %d net/http, %d fast", l.requests[0].Load(), l.requests[1].Load())
	}
}
