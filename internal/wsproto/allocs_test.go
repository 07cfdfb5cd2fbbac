//go:build !race

package wsproto

import (
	"bytes"
	"testing"
)

func TestAllocsFrameParse(t *testing.T) {
	stream := AppendFrame(nil, Header{Fin: true, Opcode: OpBinary, Masked: true, Key: testKey}, bytes.Repeat([]byte("x"), 1024))
	var r FrameReader
	r.Init(ReaderConfig{})
	n := testing.AllocsPerRun(1000, func() {
		for p := stream; len(p) > 0; {
			k, _, err := r.Parse(p)
			if err != nil {
				panic(err)
			}
			p = p[k:]
		}
	})
	if n != 0 {
		t.Fatalf("parsing a masked 1 KiB frame allocates %v times", n)
	}
	// Byte by byte (header and control frames buffered inside the reader).
	stream = encode(cf(OpText, false, "ab"), cf(OpPing, true, "ping"), cf(OpContinuation, true, "cd"))
	n = testing.AllocsPerRun(100, func() {
		for i := range stream {
			if _, _, err := r.Parse(stream[i : i+1]); err != nil {
				panic(err)
			}
		}
	})
	if n != 0 {
		t.Fatalf("bytewise parsing allocates %v times", n)
	}
}

func TestAllocsMessageReader(t *testing.T) {
	pristine := encode(
		cf(OpText, true, string(bytes.Repeat([]byte("é"), 512))),                                  // whole: zero copy
		cf(OpText, false, "fragmented "), cf(OpPing, true, "x"), cf(OpContinuation, true, "text"), // pooled buffer
		cf(OpBinary, false, string(make([]byte, 3000))), cf(OpContinuation, true, string(make([]byte, 3000))),
		cf(OpClose, true, "\x03\xe8bye"),
	)
	work := make([]byte, len(pristine))
	var r MessageReader
	r.Init(ReaderConfig{}, nil)
	run := func(chunk int) {
		copy(work, pristine)
		r.Reset()
		msgs := 0
		for p := work; len(p) > 0; {
			c := min(chunk, len(p))
			for q := p[:c]; len(q) > 0; {
				n, m, err := r.Parse(q)
				if err != nil {
					panic(err)
				}
				q = q[n:]
				if m.Op != 0 {
					msgs++
					r.Release()
				}
			}
			p = p[c:]
		}
		if msgs != 5 {
			panic("lost messages")
		}
	}
	for _, chunk := range []int{len(pristine), 100, 7} {
		run(chunk) // warm the pool
		if n := testing.AllocsPerRun(200, func() { run(chunk) }); n != 0 {
			t.Errorf("MessageReader in %d-byte chunks allocates %v times", chunk, n)
		}
	}
}

func TestAllocsEncode(t *testing.T) {
	payload := bytes.Repeat([]byte("y"), 1024)
	dst := make([]byte, 0, 2048)
	var hb [MaxHeaderSize]byte
	key := NewMaskKey()
	n := testing.AllocsPerRun(1000, func() {
		out := AppendHeader(dst[:0], Header{Fin: true, Opcode: OpText, Masked: true, Key: key, Length: int64(len(payload))})
		out = append(out, payload...)
		Mask(key, 0, out[len(out)-len(payload):])
		PutHeader(hb[:], Header{Fin: true, Opcode: OpBinary, Length: 70000})
		AppendFrame(dst[:0], Header{Fin: true, Opcode: OpBinary, Masked: true, Key: NewMaskKey()}, payload)
		AppendClosePayload(dst[:0], 1000, "bye")
	})
	if n != 0 {
		t.Fatalf("encoding and masking allocate %v times", n)
	}
}

func TestAllocsUTF8(t *testing.T) {
	text := bytes.Repeat([]byte("hello wörld κόσμε "), 60)
	var v UTF8Validator
	n := testing.AllocsPerRun(1000, func() {
		v.Reset()
		v.Write(text[:101])
		v.Write(text[101:])
		if !v.Done() || !ValidUTF8(text) {
			panic("invalid")
		}
		if _, err := CheckClosePayload([]byte("\x03\xe8ok")); err != nil {
			panic(err)
		}
	})
	if n != 0 {
		t.Fatalf("UTF-8 validation allocates %v times", n)
	}
}

// TestRequestParserFeedAllocs: recognising a fast-path request (a head
// that arrives whole) allocates nothing; only Request does.
func TestRequestParserFeedAllocs(t *testing.T) {
	raw := []byte(sampleUpgrade)
	var p RequestParser
	if n := testing.AllocsPerRun(100, func() {
		p.Reset()
		if _, st := p.Feed(raw); st != FastPath {
			t.Fatal(st)
		}
	}); n != 0 {
		t.Fatalf("Feed allocates %v times", n)
	}
}
