package wsproto

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzFrameParser feeds arbitrary bytes, in splits chosen by seed, to a
// FrameReader and a MessageReader (never a panic, a hang or a broken
// contract), and checks that frames built from the input round-trip through
// encoding and parsing under those splits.
func FuzzFrameParser(f *testing.F) {
	f.Add(encode(cf(OpText, true, "Hello")), uint64(1), uint8(0))
	f.Add(encode(cf(OpText, false, "Hel"), cf(OpPing, true, "x"), cf(OpContinuation, true, "lo")), uint64(2), uint8(1))
	f.Add([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, uint64(3), uint8(2))
	f.Add(encode(frame{Header{Fin: true, Rsv1: true, Opcode: OpText, Masked: true}, unhex("f2 48 cd c9 c9 07 00")}), uint64(4), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, flags uint8) {
		role := Role(flags & 1)
		compression := flags&2 != 0
		cfg := ReaderConfig{Role: role, Compression: compression, MaxMessageSize: 1 << 16, MaxFrameSize: int64(flags>>2) * 100}
		rng := rand.New(rand.NewPCG(seed, 7))
		next := func() int { return 1 + rng.IntN(64) }

		// 1. Arbitrary input.
		var fr FrameReader
		fr.Init(cfg)
		var mr MessageReader
		var dec *Decompressor
		if compression {
			dec = NewDecompressorTakeover(flags&4 != 0)
		}
		mr.Init(cfg, dec)
		in1, in2 := bytes.Clone(data), bytes.Clone(data)
		var remaining int64
		for p := in1; len(p) > 0; {
			c := p[:min(next(), len(p))]
			p = p[len(c):]
			for len(c) > 0 {
				n, ev, err := fr.Parse(c)
				if err != nil {
					var pe *ProtocolError
					if !errors.As(err, &pe) || !ValidCloseCode(pe.Code) {
						t.Fatalf("bad error %v", err)
					}
					p = nil
					break
				}
				if n <= 0 || n > len(c) {
					t.Fatalf("consumed %d of %d", n, len(c))
				}
				c = c[n:]
				switch ev.Kind {
				case EventHeader:
					remaining = fr.Header().Length
				case EventPayload:
					remaining -= int64(len(ev.Payload))
					if remaining < 0 || ev.End != (remaining == 0) {
						t.Fatalf("payload overrun")
					}
				case EventControl:
					if len(ev.Payload) > MaxControlPayload || int64(len(ev.Payload)) != fr.Header().Length {
						t.Fatalf("control payload %d", len(ev.Payload))
					}
				}
			}
		}
		for p := in2; len(p) > 0; {
			n, m, err := mr.Parse(p)
			if err != nil {
				break
			}
			if n <= 0 || n > len(p) {
				t.Fatalf("message reader consumed %d of %d", n, len(p))
			}
			p = p[n:]
			if m.Op == OpText && !utf8.Valid(m.Data) {
				t.Fatalf("invalid UTF-8 delivered")
			}
			if len(m.Data) > 1<<16 {
				t.Fatalf("message over the limit: %d", len(m.Data))
			}
			mr.Release()
		}

		// 2. Round trip of valid frames built from the input.
		var frames []frame
		inMsg := false
		for d := data; len(d) >= 2 && len(frames) < 50; {
			b0, b1 := d[0], int(d[1])
			d = d[2:]
			length := min(b1, len(d))
			if b0&1 != 0 && length > 2 {
				length = min(length*97, len(d)) // some longer frames
			}
			h := Header{Fin: b0&0x80 != 0, Masked: role == RoleServer, Key: [4]byte{b0, byte(b1), 3, 4}}
			switch {
			case b0&0x40 != 0:
				h.Opcode = []Opcode{OpPing, OpPong, OpClose}[int(b0>>4)%3]
				h.Fin = true
				length = min(length, MaxControlPayload)
			case inMsg:
				h.Opcode = OpContinuation
			default:
				h.Opcode = OpBinary
				h.Rsv1 = compression && b0&2 != 0
			}
			if h.Opcode.IsData() {
				inMsg = !h.Fin
			}
			if !h.Masked {
				h.Key = [4]byte{}
			}
			frames = append(frames, frame{h, d[:length]})
			d = d[length:]
		}
		if inMsg {
			frames = append(frames, frame{Header{Fin: true, Opcode: OpContinuation, Masked: role == RoleServer}, nil})
		}
		stream := encode(frames...)
		got, err := parseFrames(t, ReaderConfig{Role: role, Compression: compression, MaxMessageSize: -1}, stream, next)
		if err != nil {
			t.Fatalf("valid stream rejected: %v", err)
		}
		if len(got) != len(frames) {
			t.Fatalf("%d frames, want %d", len(got), len(frames))
		}
		for i := range frames {
			want := frames[i].h
			want.Length = int64(len(frames[i].payload))
			if got[i].h != want || !bytes.Equal(got[i].payload, frames[i].payload) {
				t.Fatalf("frame %d: %+v, want %+v", i, got[i].h, want)
			}
		}
	})
}

// FuzzHandshake runs raw request bytes through http.ReadRequest and the
// server-side checks and negotiation; whatever passes must produce a
// response that the client-side checks accept.
func FuzzHandshake(f *testing.F) {
	f.Add([]byte("GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: foo; a=\"b,c\", permessage-deflate; server_max_window_bits=10; client_no_context_takeover\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.0\r\nUpgrade: h2c\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		IsUpgradeRequest(r)
		exts := ParseExtensions(r.Header)
		for _, e := range exts {
			if !isToken(e.Name) {
				t.Fatalf("extension name %q", e.Name)
			}
			for _, p := range e.Params {
				if !isToken(p.Name) || (p.Value != "" && !isToken(p.Value)) {
					t.Fatalf("param %q=%q", p.Name, p.Value)
				}
			}
		}
		params, ext, deflate := NegotiateServer(exts, DeflateConfig{})
		err = CheckRequest(r)
		if err != nil {
			var he *HandshakeError
			if !errors.As(err, &he) || (he.Status != 400 && he.Status != 405 && he.Status != 426) {
				t.Fatalf("error %v", err)
			}
			return
		}
		offered := Subprotocols(r)
		proto := ""
		if len(offered) > 0 {
			proto = offered[len(offered)-1]
		}
		key := RequestKey(r)
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(AppendResponse(nil, key, proto, ext, nil))), nil)
		if err != nil {
			t.Fatalf("our response does not parse: %v", err)
		}
		hs := &ClientHandshake{Key: key, Subprotocols: offered}
		if deflate {
			hs.Deflate = &DeflateConfig{}
		}
		res, err := CheckResponse(resp, hs)
		if err != nil || res.Subprotocol != proto || res.Deflate != deflate || res.DeflateParams != params {
			t.Fatalf("our response fails the client checks: %+v %v", res, err)
		}
	})
}

// Note for CI: pooled flate state makes coverage vary from run to run, so
// minimizing a new input can use all of the default -fuzzminimizetime (60 s);
// run the targets with -fuzzminimizetime=5s.

// FuzzDeflateReader inflates arbitrary input with a cap: never a panic,
// never more output than the cap, errors are 1007 or 1009; collecting the
// input in two fragments gives the same result; and the input compressed by
// a Compressor inflates back to itself.
func FuzzDeflateReader(f *testing.F) {
	f.Add(unhex("f2 48 cd c9 c9 07 00"), false, uint16(3))
	f.Add(unhex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"), true, uint16(5))
	f.Add(unhex("00 05 00 fa ff 48 65 6c 6c 6f 00"), false, uint16(100))
	f.Add(unhex("f3 48 cd c9 c9 07 00 00"), true, uint16(0))
	f.Add(func() []byte {
		c := NewCompressorLevel(9, -1, false)
		b, _ := c.Compress(nil, make([]byte, 1<<20))
		return b
	}(), false, uint16(500))
	f.Fuzz(func(t *testing.T, data []byte, takeover bool, split uint16) {
		const max = 64 << 10
		d := NewDecompressorTakeover(takeover)
		out, err := d.Decompress(nil, data, max)
		if len(out) > max+1 {
			t.Fatalf("output %d over the cap", len(out))
		}
		if err != nil {
			if c := closeCode(err); c != 1007 && c != 1009 {
				t.Fatalf("error %v", err)
			}
		}
		d2 := NewDecompressorTakeover(takeover)
		s := min(int(split), len(data))
		d2.Write(data[:s])
		d2.Write(data[s:])
		out2, err2 := d2.Finish(nil, max)
		if (err == nil) != (err2 == nil) || (err == nil && !bytes.Equal(out, out2)) {
			t.Fatalf("fragments differ: %v / %v", err, err2)
		}
		// Levels 1 and HuffmanOnly: cheap enough per run (a level 2-9
		// Reset clears 640 KiB of hash tables, which makes minimizing
		// crawl); the other levels are covered by TestCompressRoundTrip.
		// Levels 1 and HuffmanOnly keep each run cheap (levels 2-9 clear
		// 640 KiB of hash tables per message); TestCompressRoundTrip covers
		// the others.
		for _, level := range []int{1, -2} {
			c := NewCompressorLevel(level, -1, takeover)
			z, ok := c.Compress(nil, data)
			c.Close()
			if !ok {
				continue
			}
			back, err := NewDecompressorTakeover(false).Decompress(nil, z, int64(len(data)))
			if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("level %d round trip: %v", level, err)
			}
		}
	})
}

// FuzzUTF8 checks ValidUTF8 and the UTF8Validator against utf8.Valid, with
// the input split at two points and byte by byte.
func FuzzUTF8(f *testing.F) {
	for _, s := range utf8Cases {
		f.Add([]byte(s), uint16(1), uint16(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, s1, s2 uint16) {
		want := utf8.Valid(data)
		if ValidUTF8(data) != want {
			t.Fatalf("ValidUTF8(%q) = %v", data, !want)
		}
		i := min(int(s1), len(data))
		j := min(i+int(s2), len(data))
		var v UTF8Validator
		ok := v.Write(data[:i])
		ok = v.Write(data[i:j]) && ok
		ok = v.Write(data[j:]) && ok
		if got := ok && v.Done(); got != want {
			t.Fatalf("split %d,%d: %v, want %v", i, j, got, want)
		}
		if !want && ok && v.Done() {
			t.Fatal("accepted invalid")
		}
		v.Reset()
		ok = true
		for k := range data {
			ok = v.Write(data[k:k+1]) && ok
		}
		if got := ok && v.Done(); got != want {
			t.Fatalf("bytewise: %v, want %v", got, want)
		}
		// An invalid text is reported no later than the chunk that makes
		// every continuation impossible: a valid prefix never fails.
		if want {
			var v2 UTF8Validator
			for k := 0; k < len(data); k += 3 {
				if !v2.Write(data[k:min(k+3, len(data))]) {
					t.Fatalf("valid text failed at %d", k)
				}
			}
		}
	})
}

// FuzzRequestParser feeds raw bytes to the handshake fast path in two
// pieces: the status does not depend on the split, and whatever it takes
// (FastPath) net/http parses to the same request; NotFastPath leaves the
// bytes for net/http to replay.
func FuzzRequestParser(f *testing.F) {
	f.Add([]byte("GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\x81\x80abcd"), 10)
	f.Add([]byte("GET /a?b=c%20d HTTP/1.1\r\nhost: x:80\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\nX-Empty:\r\nX-Dup: 1\r\nx-dup: 2\r\nPragma: no-cache\r\n\r\n"), 3)
	f.Add([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na"), 1)
	f.Fuzz(func(t *testing.T, raw []byte, split int) {
		if split < 0 {
			split = -split
		}
		split %= len(raw) + 1
		var whole RequestParser
		n, st := whole.Feed(raw)
		if n < 0 || n > len(raw) {
			t.Fatalf("consumed %d of %d", n, len(raw))
		}
		var parts RequestParser
		n1, st1 := parts.Feed(raw[:split])
		if st1 == NeedMore {
			var n2 int
			n2, st1 = parts.Feed(raw[split:])
			n1 += n2
		}
		if st1 != st || (st == FastPath && n1 != n) {
			t.Fatalf("split at %d: %v/%d, whole: %v/%d", split, st1, n1, st, n)
		}
		switch st {
		case NotFastPath:
			if got := append(bytes.Clone(whole.Buffered()), raw[n:]...); !bytes.Equal(got, raw) {
				t.Fatalf("replay differs")
			}
		case FastPath:
			got := whole.Request()
			want, wantN, err := netHTTPRequest(raw)
			if err != nil {
				t.Fatalf("fast path took what net/http rejects: %v", err)
			}
			if len(raw) <= 4096 && n != wantN { // net/http's bufio holds 4 KiB
				t.Fatalf("head is %d bytes, net/http read %d", n, wantN)
			}
			if d := sameRequest(got, want); d != "" {
				t.Fatalf("%s differs:\n got %+v\nwant %+v", d, got, want)
			}
			if d := sameRequest(parts.Request(), want); d != "" {
				t.Fatalf("split: %s differs", d)
			}
		}
	})
}

// FuzzH2Handshake: an RFC 8441 extended CONNECT with arbitrary
// :protocol, version, subprotocol and extension headers either fails
// CheckRequest with 400 (Version set exactly when the version is wrong)
// or 501, or passes; and the answer the server side would give (200 with
// the negotiated subprotocol and extensions) passes the client's
// CheckH2Response with the same result; any other status is refused.
func FuzzH2Handshake(f *testing.F) {
	f.Add("websocket", "13", "chat, superchat", "permessage-deflate; client_max_window_bits", 200)
	f.Add("websocket", "12", "", "", 200)
	f.Add("chat", "13", "", "", 200)
	f.Add("", "13", "", "", 200)
	f.Add("websocket", " 13 ", "a,,b", "permessage-deflate; server_max_window_bits=8", 101)
	f.Fuzz(func(t *testing.T, protocol, version, subprotocols, extensions string, status int) {
		h := http.Header{}
		if protocol != "" {
			h.Set(":protocol", protocol)
		}
		h.Set("Sec-Websocket-Version", version)
		if subprotocols != "" {
			h.Set("Sec-Websocket-Protocol", subprotocols)
		}
		if extensions != "" {
			h.Set("Sec-Websocket-Extensions", extensions)
		}
		r := &http.Request{Method: http.MethodConnect, Proto: "HTTP/2.0", ProtoMajor: 2, Host: "x", Header: h}
		if err := CheckRequest(r); err != nil {
			var he *HandshakeError
			if !errors.As(err, &he) || (he.Status != 400 && he.Status != 501) {
				t.Fatalf("error %v", err)
			}
			if he.Version != (he.Status == 400 && strings.EqualFold(protocol, "websocket") && strings.Trim(version, " \t") != "13") {
				t.Fatalf("Version %v for %q: %v", he.Version, version, err)
			}
			return
		}
		exts := ParseExtensions(r.Header)
		params, ext, deflate := NegotiateServer(exts, DeflateConfig{})
		offered := Subprotocols(r)
		resp := &http.Response{StatusCode: status, Header: http.Header{}}
		proto := ""
		if len(offered) > 0 {
			proto = offered[0]
			resp.Header.Set("Sec-Websocket-Protocol", proto)
		}
		if ext != "" {
			resp.Header.Set("Sec-Websocket-Extensions", ext)
		}
		hs := &ClientHandshake{Subprotocols: offered}
		if deflate {
			hs.Deflate = &DeflateConfig{}
		}
		res, err := CheckH2Response(resp, hs)
		if status != http.StatusOK {
			var he *HandshakeError
			if !errors.As(err, &he) || he.Status != status {
				t.Fatalf("status %d accepted or untyped: %v", status, err)
			}
			return
		}
		if err != nil || res.Subprotocol != proto || res.Deflate != deflate || res.DeflateParams != params {
			t.Fatalf("our answer fails the client checks: %+v %v", res, err)
		}
	})
}
