package wsproto

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// echoServer is a minimal WebSocket echo server built from this package, as
// the websocket package will drive it: handshake checks, hijack, then a push
// loop over a MessageReader.
func echoServer(t *testing.T, w http.ResponseWriter, r *http.Request) {
	if err := CheckRequest(r); err != nil {
		err.(*HandshakeError).Respond(w)
		return
	}
	params, ext, deflate := NegotiateServer(ParseExtensions(r.Header), DeflateConfig{})
	proto := SelectSubprotocol(Subprotocols(r), []string{"echo"})
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(AppendResponse(nil, RequestKey(r), proto, ext, nil)); err != nil {
		t.Error(err)
		return
	}
	var mr MessageReader
	var comp *Compressor
	var dec *Decompressor
	if deflate {
		comp, dec = NewCompressor(params, RoleServer, DeflateConfig{Threshold: -1}), NewDecompressor(params, RoleServer)
		defer comp.Close()
	}
	mr.Init(ReaderConfig{Role: RoleServer, MaxMessageSize: 1 << 20}, dec)
	buf := make([]byte, 4096)
	var out []byte
	// Bytes the HTTP server read ahead belong to the WebSocket stream.
	pending := make([]byte, brw.Reader.Buffered())
	io.ReadFull(brw.Reader, pending)
	for {
		p := pending
		pending = nil
		if p == nil {
			n, err := nc.Read(buf)
			if err != nil {
				t.Errorf("server read: %v", err)
				return
			}
			p = buf[:n]
		}
		for len(p) > 0 {
			n, m, err := mr.Parse(p)
			if err != nil {
				pe := err.(*ProtocolError)
				out = AppendFrame(out[:0], Header{Fin: true, Opcode: OpClose}, AppendClosePayload(nil, pe.Code, pe.Reason))
				nc.Write(out)
				return
			}
			p = p[n:]
			switch m.Op {
			case OpText, OpBinary:
				h := Header{Fin: true, Opcode: m.Op}
				data := m.Data
				if comp != nil {
					if z, ok := comp.Compress(nil, m.Data); ok {
						h.Rsv1, data = true, z
					}
				}
				out = AppendFrame(out[:0], h, data)
			case OpPing:
				out = AppendFrame(out[:0], Header{Fin: true, Opcode: OpPong}, m.Data)
			case OpClose:
				out = AppendFrame(out[:0], Header{Fin: true, Opcode: OpClose}, m.Data)
				nc.Write(out)
				return
			default:
				continue
			}
			mr.Release()
			if _, err := nc.Write(out); err != nil {
				t.Errorf("server write: %v", err)
				return
			}
		}
	}
}

func TestLoopbackEcho(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handlerDone := make(chan struct{}, 8)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { handlerDone <- struct{}{} }()
		echoServer(t, w, r)
	})}
	serveDone := make(chan struct{})
	go func() { srv.Serve(ln); close(serveDone) }()
	defer func() { srv.Close(); <-serveDone }()

	for _, compress := range []bool{false, true} {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		hs := &ClientHandshake{Subprotocols: []string{"other", "echo"}}
		if compress {
			hs.Deflate = &DeflateConfig{}
		}
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/ws", nil)
		hs.SetRequestHeaders(req.Header)
		if err := req.Write(nc); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(nc)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		res, err := CheckResponse(resp, hs)
		if err != nil || res.Subprotocol != "echo" || res.Deflate != compress {
			t.Fatalf("handshake: %+v %v", res, err)
		}
		var comp *Compressor
		var dec *Decompressor
		if res.Deflate {
			comp = NewCompressor(res.DeflateParams, RoleClient, DeflateConfig{Threshold: -1})
			dec = NewDecompressor(res.DeflateParams, RoleClient)
		}
		var mr MessageReader
		mr.Init(ReaderConfig{Role: RoleClient}, dec)

		big := strings.Repeat("large message ", 20000) // 280 KB: over the pooled sizes
		sent := []string{"hello", "fragment me", "", "wörld", big}
		var out []byte
		for i, s := range sent {
			payload := []byte(s)
			rsv1 := false
			if comp != nil {
				if z, ok := comp.Compress(nil, payload); ok {
					payload, rsv1 = z, true
				}
			}
			// Fragment every other message in three, with a ping inside.
			if i%2 == 1 && len(payload) >= 3 {
				third := len(payload) / 3
				out = AppendFrame(out[:0], Header{Opcode: OpText, Rsv1: rsv1, Masked: true, Key: NewMaskKey()}, payload[:third])
				out = AppendFrame(out, Header{Fin: true, Opcode: OpPing, Masked: true, Key: NewMaskKey()}, []byte("p"))
				out = AppendFrame(out, Header{Opcode: OpContinuation, Masked: true, Key: NewMaskKey()}, payload[third:2*third])
				out = AppendFrame(out, Header{Fin: true, Opcode: OpContinuation, Masked: true, Key: NewMaskKey()}, payload[2*third:])
			} else {
				out = AppendFrame(out[:0], Header{Fin: true, Opcode: OpText, Rsv1: rsv1, Masked: true, Key: NewMaskKey()}, payload)
			}
			if _, err := nc.Write(out); err != nil {
				t.Fatal(err)
			}
		}
		out = AppendFrame(out[:0], Header{Fin: true, Opcode: OpClose, Masked: true, Key: NewMaskKey()}, AppendClosePayload(nil, CloseNormalClosure, "done"))
		nc.Write(out)

		var got []string
		var pongs, closeCode int
		buf := make([]byte, 3000)
	read:
		for {
			n, err := br.Read(buf)
			if err != nil {
				t.Fatalf("client read: %v (got %d messages)", err, len(got))
			}
			for p := buf[:n]; len(p) > 0; {
				k, m, err := mr.Parse(p)
				if err != nil {
					t.Fatalf("client parse: %v", err)
				}
				p = p[k:]
				switch m.Op {
				case OpText:
					got = append(got, string(m.Data))
					if m.Compressed && !compress || compress && len(m.Data) > 1000 && !m.Compressed {
						t.Errorf("%d bytes: compressed %v", len(m.Data), m.Compressed)
					}
				case OpPong:
					pongs++
				case OpClose:
					closeCode = m.CloseCode
					break read
				}
				mr.Release()
			}
		}
		nc.Close()
		if comp != nil {
			comp.Close()
		}
		<-handlerDone
		if len(got) != len(sent) || pongs != 2 || closeCode != CloseNormalClosure {
			t.Fatalf("compress %v: %d messages, %d pongs, close %d", compress, len(got), pongs, closeCode)
		}
		for i := range sent {
			if got[i] != sent[i] {
				t.Errorf("compress %v: message %d differs (%d bytes, want %d)", compress, i, len(got[i]), len(sent[i]))
			}
		}
	}

	// A request that fails the checks gets the right status.
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(nc, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 426 || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Fatalf("bad version: %d %v", resp.StatusCode, resp.Header)
	}
	<-handlerDone
}
