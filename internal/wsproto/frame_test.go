package wsproto

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"
)

func TestOpcode(t *testing.T) {
	for op := Opcode(0); op < 16; op++ {
		known := op <= 2 || (op >= 8 && op <= 10)
		if op.Known() != known {
			t.Errorf("%v.Known() = %v", op, op.Known())
		}
		if op.IsControl() == op.IsData() || op.IsControl() != (op >= 8) {
			t.Errorf("%v: IsControl %v IsData %v", op, op.IsControl(), op.IsData())
		}
	}
	if OpText.String() != "text" || Opcode(3).String() != "opcode 0x3" {
		t.Errorf("String: %q %q", OpText, Opcode(3))
	}
}

// RFC 6455 §5.7 examples.
func TestHeaderRFCExamples(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       Header
		payload string
		want    string
	}{
		{"unmasked Hello", Header{Fin: true, Opcode: OpText}, "Hello", "810548656c6c6f"},
		{"masked Hello", Header{Fin: true, Opcode: OpText, Masked: true, Key: [4]byte{0x37, 0xfa, 0x21, 0x3d}}, "Hello", "818537fa213d7f9f4d5158"},
		{"fragment 1", Header{Opcode: OpText}, "Hel", "010348656c"},
		{"fragment 2", Header{Fin: true, Opcode: OpContinuation}, "lo", "80026c6f"},
		{"ping", Header{Fin: true, Opcode: OpPing}, "Hello", "890548656c6c6f"},
		{"masked pong", Header{Fin: true, Opcode: OpPong, Masked: true, Key: [4]byte{0x37, 0xfa, 0x21, 0x3d}}, "Hello", "8a8537fa213d7f9f4d5158"},
	} {
		got := hex.EncodeToString(AppendFrame(nil, tc.h, []byte(tc.payload)))
		if got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	// 256 bytes binary: 82 7E 0100; 64 KiB: 82 7F 0000000000010000.
	if got := hex.EncodeToString(AppendHeader(nil, Header{Fin: true, Opcode: OpBinary, Length: 256})); got != "827e0100" {
		t.Errorf("256: %s", got)
	}
	if got := hex.EncodeToString(AppendHeader(nil, Header{Fin: true, Opcode: OpBinary, Length: 65536})); got != "827f0000000000010000" {
		t.Errorf("65536: %s", got)
	}
}

func TestHeaderSize(t *testing.T) {
	for _, tc := range []struct {
		n      int64
		masked bool
		want   int
	}{
		{0, false, 2}, {125, false, 2}, {126, false, 4}, {65535, false, 4}, {65536, false, 10},
		{0, true, 6}, {125, true, 6}, {126, true, 8}, {65535, true, 8}, {65536, true, 14}, {1 << 62, true, 14},
	} {
		h := Header{Opcode: OpBinary, Length: tc.n, Masked: tc.masked}
		if got := HeaderSize(tc.n, tc.masked); got != tc.want {
			t.Errorf("HeaderSize(%d, %v) = %d, want %d", tc.n, tc.masked, got, tc.want)
		}
		var b [MaxHeaderSize]byte
		if got := PutHeader(b[:], h); got != tc.want {
			t.Errorf("PutHeader(%d, %v) = %d, want %d", tc.n, tc.masked, got, tc.want)
		}
	}
}

func TestPutHeaderNegativePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	PutHeader(make([]byte, MaxHeaderSize), Header{Length: -1})
}

// Round trip encode/parse for the length boundaries, both roles, every split.
func TestRoundTripLengths(t *testing.T) {
	lengths := []int{0, 1, 125, 126, 127, 65535, 65536, 70000}
	for _, role := range []Role{RoleServer, RoleClient} {
		for _, n := range lengths {
			payload := make([]byte, n)
			for i := range payload {
				payload[i] = byte(i*7 + n)
			}
			h := Header{Fin: true, Opcode: OpBinary}
			if role == RoleServer {
				h.Masked, h.Key = true, [4]byte{1, 2, 3, byte(n)}
			}
			stream := AppendFrame(nil, h, payload)
			if want := HeaderSize(int64(n), h.Masked) + n; len(stream) != want {
				t.Fatalf("len %d: encoded %d bytes, want %d", n, len(stream), want)
			}
			for name, sp := range splits() {
				if n > 1000 && name == "bytewise" {
					continue
				}
				got, err := parseFrames(t, ReaderConfig{Role: role}, stream, sp)
				if err != nil {
					t.Fatalf("%v len %d %s: %v", role, n, name, err)
				}
				h.Length = int64(n)
				if len(got) != 1 || got[0].h != h || !bytes.Equal(got[0].payload, payload) {
					t.Fatalf("%v len %d %s: got %d frames, header %+v, payload ok %v", role, n, name, len(got), got[0].h, bytes.Equal(got[0].payload, payload))
				}
			}
		}
	}
}

// A mixed stream: fragments with interleaved control frames, every split.
func TestStreamInterleavedControl(t *testing.T) {
	frames := []frame{
		cf(OpText, false, "Hel"),
		cf(OpPing, true, "ping!"),
		cf(OpContinuation, false, ""),
		cf(OpPong, true, ""),
		cf(OpContinuation, true, "lo"),
		cf(OpBinary, true, string(make([]byte, 300))),
		cf(OpClose, true, "\x03\xe8bye"),
	}
	stream := encode(frames...)
	for name, sp := range splits() {
		got, err := parseFrames(t, ReaderConfig{}, stream, sp)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(frames) {
			t.Fatalf("%s: %d frames, want %d", name, len(got), len(frames))
		}
		for i := range frames {
			want := frames[i].h
			want.Length = int64(len(frames[i].payload))
			if got[i].h != want || !bytes.Equal(got[i].payload, frames[i].payload) {
				t.Errorf("%s: frame %d = %+v %q, want %+v %q", name, i, got[i].h, got[i].payload, want, frames[i].payload)
			}
		}
	}
}

// Control frames between fragments come out at once, before the rest of the
// message arrives.
func TestControlReportedAtOnce(t *testing.T) {
	stream := encode(cf(OpText, false, "Hel"), cf(OpPing, true, "now"))
	var r FrameReader
	var kinds []EventKind
	for p := stream; len(p) > 0; {
		n, ev, err := r.Parse(p)
		if err != nil {
			t.Fatal(err)
		}
		p = p[n:]
		kinds = append(kinds, ev.Kind)
		if ev.Kind == EventControl && string(ev.Payload) != "now" {
			t.Fatalf("ping payload %q", ev.Payload)
		}
	}
	if fmt.Sprint(kinds) != "[header payload control]" {
		t.Fatalf("events %v", kinds)
	}
	if !r.InMessage() || !r.AtFrameBoundary() {
		t.Fatalf("InMessage %v AtFrameBoundary %v", r.InMessage(), r.AtFrameBoundary())
	}
}

// Payload events alias the input: zero copy.
func TestPayloadAliasesInput(t *testing.T) {
	stream := AppendFrame(nil, Header{Fin: true, Opcode: OpBinary, Masked: true, Key: testKey}, []byte("abcdefgh"))
	var r FrameReader
	n, ev, err := r.Parse(stream)
	if err != nil || ev.Kind != EventHeader || n != 6 {
		t.Fatalf("header: %d %v %v", n, ev.Kind, err)
	}
	_, ev, err = r.Parse(stream[n:])
	if err != nil || ev.Kind != EventPayload || !ev.End {
		t.Fatalf("payload: %v %v", ev.Kind, err)
	}
	if &ev.Payload[0] != &stream[n] || string(stream[n:]) != "abcdefgh" {
		t.Fatalf("payload does not alias the input (unmasked in place)")
	}
}
