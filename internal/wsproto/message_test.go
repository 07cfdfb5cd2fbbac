package wsproto

import (
	"bytes"
	"strings"
	"testing"
)

type msg struct {
	op   Opcode
	data string
	code int
	z    bool
}

// parseMessages feeds a copy of stream to r in chunks and returns the
// messages, copied.
func parseMessages(t testing.TB, r *MessageReader, stream []byte, next splitter) ([]msg, error) {
	t.Helper()
	in := bytes.Clone(stream)
	var out []msg
	for iter := 0; len(in) > 0; iter++ {
		if iter > len(stream)*3+10 {
			t.Fatalf("no progress")
		}
		size := min(next(), len(in))
		chunk := in[:size]
		in = in[size:]
		for len(chunk) > 0 {
			n, m, err := r.Parse(chunk)
			if err != nil {
				return out, err
			}
			if n <= 0 {
				t.Fatalf("Parse consumed %d", n)
			}
			chunk = chunk[n:]
			if m.Op != 0 {
				out = append(out, msg{m.Op, string(m.Data), m.CloseCode, m.Compressed})
				r.Release()
			}
		}
	}
	return out, nil
}

func TestMessageReassembly(t *testing.T) {
	stream := encode(
		cf(OpText, true, "single"),
		cf(OpText, false, "Hel"),
		cf(OpPing, true, "p1"),
		cf(OpContinuation, false, ""),
		cf(OpContinuation, false, "lo "),
		cf(OpPong, true, ""),
		cf(OpContinuation, true, "wörld"),
		cf(OpBinary, false, "\xff\x00"),
		cf(OpContinuation, true, "\xfe"),
		cf(OpText, true, ""),
		cf(OpBinary, false, ""),
		cf(OpContinuation, true, "late"),
		cf(OpBinary, true, strings.Repeat("x", 70000)),
		cf(OpClose, true, "\x03\xe8done"),
	)
	want := []msg{
		{OpText, "single", 0, false},
		{OpPing, "p1", 0, false},
		{OpPong, "", 0, false},
		{OpText, "Hello wörld", 0, false},
		{OpBinary, "\xff\x00\xfe", 0, false},
		{OpText, "", 0, false},
		{OpBinary, "late", 0, false},
		{OpBinary, strings.Repeat("x", 70000), 0, false},
		{OpClose, "\x03\xe8done", 1000, false},
	}
	for name, sp := range splits() {
		var r MessageReader
		got, err := parseMessages(t, &r, stream, sp)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d messages, want %d", name, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: message %d = %v %.20q, want %v %.20q", name, i, got[i].op, got[i].data, want[i].op, want[i].data)
			}
		}
		if !r.Idle() {
			t.Errorf("%s: not idle at the end", name)
		}
	}
}

// A message that arrives whole is returned as a slice of the input.
func TestMessageZeroCopy(t *testing.T) {
	stream := encode(cf(OpBinary, true, "0123456789"))
	var r MessageReader
	n, m, err := r.Parse(stream)
	if err != nil || n != len(stream) || m.Op != OpBinary {
		t.Fatalf("%d %v %v", n, m.Op, err)
	}
	if &m.Data[0] != &stream[len(stream)-10] {
		t.Fatal("not zero copy")
	}
	if r.buf.pooled != nil || r.buf.b != nil {
		t.Fatal("a buffer was taken")
	}
	// A split message goes through the pooled buffer, which Release returns.
	stream = encode(cf(OpBinary, false, "01234"), cf(OpContinuation, true, "56789"))
	got, err := parseMessages(t, &r, stream, whole)
	if err != nil || len(got) != 1 || got[0].data != "0123456789" {
		t.Fatalf("%v %v", got, err)
	}
	if r.buf.pooled != nil || r.buf.b != nil {
		t.Fatal("Release kept the buffer")
	}
}

func TestMessageErrors(t *testing.T) {
	z := func(f frame) frame { f.h.Rsv1 = true; return f }
	for _, tc := range []struct {
		name   string
		cfg    ReaderConfig
		dec    bool
		frames []frame
		code   int
		before int // messages delivered before the error
	}{
		{"6.x invalid utf8 single frame", ReaderConfig{}, false, []frame{cf(OpText, true, "a\xffb")}, 1007, 0},
		{"invalid utf8 after a good message", ReaderConfig{}, false, []frame{cf(OpText, true, "ok"), cf(OpText, true, "\xed\xa0\x80")}, 1007, 1},
		{"cut-off character at message end", ReaderConfig{}, false, []frame{cf(OpText, false, "ab"), cf(OpContinuation, true, "\xe2\x82")}, 1007, 0},
		{"utf8 split across fragments is fine", ReaderConfig{}, false, []frame{cf(OpText, false, "ab\xe2"), cf(OpContinuation, false, "\x82"), cf(OpContinuation, true, "\xac")}, 0, 1},
		{"binary is not checked", ReaderConfig{}, false, []frame{cf(OpBinary, true, "\xff")}, 0, 1},
		{"close 1 byte", ReaderConfig{}, false, []frame{cf(OpClose, true, "\x03")}, 1002, 0},
		{"close bad code", ReaderConfig{}, false, []frame{cf(OpClose, true, "\x03\xed")}, 1002, 0},
		{"close bad reason", ReaderConfig{}, false, []frame{cf(OpClose, true, "\x03\xe8\xff")}, 1007, 0},
		{"message too big", ReaderConfig{MaxMessageSize: 5}, false, []frame{cf(OpText, false, "abc"), cf(OpContinuation, true, "def")}, 1009, 0},
		{"rsv1 without decompressor", ReaderConfig{Compression: true}, false, []frame{z(cf(OpText, true, "x"))}, 1002, 0},
		{"bad deflate data", ReaderConfig{}, true, []frame{z(cf(OpBinary, true, "\xff\xff\xff\xff"))}, 1007, 0},
	} {
		for name, sp := range splits() {
			var r MessageReader
			var dec *Decompressor
			if tc.dec {
				dec = NewDecompressorTakeover(false)
			}
			r.Init(tc.cfg, dec)
			got, err := parseMessages(t, &r, encode(tc.frames...), sp)
			if closeCode(err) != tc.code || len(got) != tc.before {
				t.Errorf("%s (%s): err %v, %d messages; want code %d after %d", tc.name, name, err, len(got), tc.code, tc.before)
			}
			if err != nil {
				if _, _, err2 := r.Parse([]byte{0x81}); err2 != err {
					t.Errorf("%s: error not sticky", tc.name)
				}
				r.Release()
				r.Reset()
				if _, _, err2 := r.Parse(encode(cf(OpPing, true, ""))); err2 != nil {
					t.Errorf("%s: after Reset: %v", tc.name, err2)
				}
			}
		}
	}
}

// Invalid text fails on the fragment that breaks it, not at the end of the
// message (Autobahn 6.4.1: fail fast).
func TestMessageUTF8FailFast(t *testing.T) {
	first := encode(cf(OpText, false, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"))
	second := encode(cf(OpContinuation, false, "\xf4\x90\x80\x80"))
	var r MessageReader
	if n, _, err := r.Parse(first); err != nil || n != len(first) {
		t.Fatalf("first: %v", err)
	}
	if _, _, err := r.Parse(second); closeCode(err) != 1007 {
		t.Fatalf("second: %v, want 1007 before the final fragment", err)
	}
}

func compressFrames(t testing.TB, c *Compressor, text string, fragments int) []frame {
	t.Helper()
	payload, ok := c.Compress(nil, []byte(text))
	if !ok {
		t.Fatalf("not compressed")
	}
	var frames []frame
	step := (len(payload) + fragments - 1) / fragments
	for i := 0; i < fragments; i++ {
		lo, hi := min(i*step, len(payload)), min((i+1)*step, len(payload))
		op := OpContinuation
		if i == 0 {
			op = OpText
		}
		f := cf(op, i == fragments-1, string(payload[lo:hi]))
		f.h.Rsv1 = i == 0
		frames = append(frames, f)
	}
	return frames
}

func TestMessageCompressed(t *testing.T) {
	text1 := strings.Repeat("Hello, compressed wörld! ", 40)
	text2 := strings.Repeat("Hello again, compressed wörld! ", 50)
	for _, takeover := range []bool{false, true} {
		for _, fragments := range []int{1, 2, 7} {
			c := NewCompressorLevel(0, 0, takeover)
			var frames []frame
			frames = append(frames, compressFrames(t, c, text1, fragments)...)
			frames = append(frames, cf(OpPing, true, "between"))
			frames = append(frames, compressFrames(t, c, text2, fragments)...)
			frames = append(frames, cf(OpText, true, "plain"))
			frames = append(frames, compressFrames(t, c, text1, fragments)...)
			c.Close()
			stream := encode(frames...)
			for name, sp := range splits() {
				var r MessageReader
				r.Init(ReaderConfig{}, NewDecompressorTakeover(takeover))
				got, err := parseMessages(t, &r, stream, sp)
				if err != nil {
					t.Fatalf("takeover %v, %d fragments, %s: %v", takeover, fragments, name, err)
				}
				want := []msg{{OpText, text1, 0, true}, {OpPing, "between", 0, false}, {OpText, text2, 0, true}, {OpText, "plain", 0, false}, {OpText, text1, 0, true}}
				if len(got) != len(want) {
					t.Fatalf("takeover %v, %d fragments, %s: %d messages", takeover, fragments, name, len(got))
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("takeover %v, %d fragments, %s: message %d = %v %.30q", takeover, fragments, name, i, got[i].op, got[i].data)
					}
				}
			}
		}
	}
}

// Compressed text is checked after inflating; decompressed size is capped.
func TestMessageCompressedLimits(t *testing.T) {
	c := NewCompressorLevel(0, -1, false)
	bad := compressFrames(t, c, strings.Repeat("a", 100)+"\xff", 1)
	var r MessageReader
	r.Init(ReaderConfig{}, NewDecompressorTakeover(false))
	if _, err := parseMessages(t, &r, encode(bad...), whole); closeCode(err) != 1007 {
		t.Fatalf("invalid compressed text: %v", err)
	}
	bomb := compressFrames(t, c, strings.Repeat("\x00", 1<<20), 3)
	r.Init(ReaderConfig{MaxMessageSize: 64 << 10}, NewDecompressorTakeover(false))
	if _, err := parseMessages(t, &r, encode(bomb...), whole); closeCode(err) != 1009 {
		t.Fatalf("bomb: %v", err)
	}
	if cap(r.buf.b) > 256<<10 {
		t.Fatalf("bomb grew the buffer to %d", cap(r.buf.b))
	}
}
