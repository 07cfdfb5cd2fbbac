package wsproto

import (
	"bytes"
	"compress/flate"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// RFC 7692 §7.2.3 examples.
func TestDeflateRFC7692Examples(t *testing.T) {
	for _, tc := range []struct {
		name     string
		takeover bool
		msgs     []string // hex payloads
		want     []string
	}{
		{"7.2.3.1 Hello", false, []string{"f2 48 cd c9 c9 07 00"}, []string{"Hello"}},
		{"7.2.3.2 shared window", true, []string{"f2 48 cd c9 c9 07 00", "f2 00 11 00 00"}, []string{"Hello", "Hello"}},
		{"7.2.3.2 without sharing", true, []string{"f2 48 cd c9 c9 07 00", "f2 48 cd c9 c9 07 00"}, []string{"Hello", "Hello"}},
		{"7.2.3.3 stored block", false, []string{"00 05 00 fa ff 48 65 6c 6c 6f 00"}, []string{"Hello"}},
		{"7.2.3.4 bfinal", false, []string{"f3 48 cd c9 c9 07 00 00"}, []string{"Hello"}},
		{"7.2.3.5 two blocks", false, []string{"f2 48 05 00 00 00 ff ff ca c9 c9 07 00"}, []string{"Hello"}},
		{"empty message", false, []string{"00"}, []string{""}},
		{"empty payload", false, []string{""}, []string{""}},
	} {
		d := NewDecompressorTakeover(tc.takeover)
		for i, m := range tc.msgs {
			got, err := d.Decompress([]byte("prefix:"), unhex(m), 1<<20)
			if err != nil || string(got) != "prefix:"+tc.want[i] {
				t.Errorf("%s message %d: %q %v", tc.name, i, got, err)
			}
		}
	}
	// The fragments of 7.2.3.1 split as in §7.2.3.1's second example.
	d := NewDecompressorTakeover(false)
	d.Write(unhex("f2 48 cd"))
	d.Write(unhex("c9 c9 07 00"))
	if d.Buffered() != 7 {
		t.Fatalf("Buffered %d", d.Buffered())
	}
	got, err := d.Finish(nil, 100)
	if err != nil || string(got) != "Hello" || d.Buffered() != 0 {
		t.Fatalf("fragments: %q %v", got, err)
	}
	// Our own compression of "Hello".
	c := NewCompressorLevel(flate.BestSpeed, -1, false)
	out, ok := c.Compress(nil, []byte("Hello"))
	if ok {
		// Compressing 5 bytes does not pay, so it must be declined...
		t.Fatalf("5 bytes compressed to %x", out)
	}
	// With context takeover it is always compressed; levels 2-9 pick the
	// fixed-Huffman block of the RFC's example (level 1 stores inputs of at
	// most 16 bytes).
	c = NewCompressorLevel(flate.DefaultCompression, -1, true)
	out, ok = c.Compress(nil, []byte("Hello"))
	c.Close()
	if !ok || hex.EncodeToString(out) != "f248cdc9c90700" {
		t.Fatalf("Hello compressed to %x, want f248cdc9c90700", out)
	}
}

func TestCompressRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 5000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	msgs := [][]byte{
		[]byte(strings.Repeat("the quick brown fox ", 100)),
		[]byte(strings.Repeat("the quick brown fox ", 101)),
		bytes.Repeat([]byte{0}, 100000),
		[]byte(strings.Repeat("jumps over the lazy dog ", 9)),
		random,
		make([]byte, 200),
	}
	for _, level := range []int{0, flate.HuffmanOnly, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
		for _, takeover := range []bool{false, true} {
			c := NewCompressorLevel(level, 0, takeover)
			d := NewDecompressorTakeover(takeover)
			var zipped, plain int
			for i, m := range msgs {
				out, ok := c.Compress([]byte{0xAA}, m)
				if !ok {
					if takeover && len(m) >= c.Threshold() {
						t.Fatalf("level %d: takeover compressor declined message %d", level, i)
					}
					if string(out) != "\xAA" {
						t.Fatalf("declined but dst changed")
					}
					plain++
					continue
				}
				zipped++
				if bytes.HasSuffix(out, deflateTail[:]) {
					t.Fatalf("tail not stripped")
				}
				got, err := d.Decompress(nil, out[1:], int64(len(m)))
				if err != nil || !bytes.Equal(got, m) {
					t.Fatalf("level %d takeover %v msg %d: %v, equal %v", level, takeover, i, err, bytes.Equal(got, m))
				}
			}
			c.Close()
			if zipped < 4 {
				t.Errorf("level %d takeover %v: only %d compressed", level, takeover, zipped)
			}
			if !takeover && plain == 0 {
				t.Errorf("level %d: random data was compressed", level)
			}
		}
	}
}

// Context takeover really shares the window: the second identical message
// shrinks, and a decompressor without the window fails on it.
func TestContextTakeoverShrinks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := make([]byte, 600)
	for i := range m {
		m[i] = 'a' + byte(rng.IntN(26))
	}
	c := NewCompressorLevel(0, 0, true)
	defer c.Close()
	first, _ := c.Compress(nil, m)
	second, _ := c.Compress(nil, m)
	if len(second) >= len(first)/2 {
		t.Fatalf("second message %d bytes, first %d: window not shared", len(second), len(first))
	}
	d := NewDecompressorTakeover(false)
	if _, err := d.Decompress(nil, second, 1<<20); err == nil {
		t.Fatal("decompressed a takeover message without the window")
	}
	d = NewDecompressorTakeover(true)
	d.Decompress(nil, first, 1<<20)
	if got, err := d.Decompress(nil, second, 1<<20); err != nil || !bytes.Equal(got, m) {
		t.Fatalf("with window: %v", err)
	}
	d.Reset()
	if _, err := d.Decompress(nil, second, 1<<20); err == nil {
		t.Fatal("Reset kept the window")
	}
}

func TestCompressThreshold(t *testing.T) {
	c := NewCompressorLevel(0, 0, false)
	if c.Threshold() != DefaultCompressionThreshold {
		t.Fatalf("threshold %d", c.Threshold())
	}
	if _, ok := c.Compress(nil, []byte(strings.Repeat("a", DefaultCompressionThreshold-1))); ok {
		t.Fatal("compressed below the threshold")
	}
	if _, ok := c.Compress(nil, []byte(strings.Repeat("a", DefaultCompressionThreshold))); !ok {
		t.Fatal("did not compress at the threshold")
	}
	c = NewCompressorLevel(0, 1000, false)
	if _, ok := c.Compress(nil, []byte(strings.Repeat("a", 999))); ok {
		t.Fatal("custom threshold ignored")
	}
	if NewCompressorLevel(42, 0, false).level != flate.BestSpeed || NewCompressorLevel(flate.NoCompression, 0, false).level != flate.BestSpeed {
		t.Fatal("invalid level not replaced by BestSpeed")
	}
}

// The decompression bomb: 1 MiB of zeros inflates from about 1 KiB; the cap
// stops it and the output never exceeds cap+1 bytes.
func TestDecompressBomb(t *testing.T) {
	c := NewCompressorLevel(flate.BestCompression, -1, false)
	bomb, ok := c.Compress(nil, make([]byte, 4<<20))
	if !ok || len(bomb) > 8<<10 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	d := NewDecompressorTakeover(false)
	for _, max := range []int64{0, 1, 1000, 64 << 10, 4<<20 - 1} {
		got, err := d.Decompress(nil, bomb, max)
		if closeCode(err) != 1009 {
			t.Fatalf("max %d: %v", max, err)
		}
		if int64(len(got)) > max+1 || int64(cap(got)) > max+1+4096 {
			t.Fatalf("max %d: output len %d cap %d", max, len(got), cap(got))
		}
	}
	if got, err := d.Decompress(nil, bomb, 4<<20); err != nil || len(got) != 4<<20 {
		t.Fatalf("at the cap: %d %v", len(got), err)
	}
	if got, err := d.Decompress(nil, bomb, -1); err != nil || len(got) != 4<<20 {
		t.Fatalf("no cap: %d %v", len(got), err)
	}
}

func TestDecompressGarbage(t *testing.T) {
	d := NewDecompressorTakeover(false)
	for _, in := range []string{"ff", "ffffffff", "07", "f2 48 cd c9 c9 07 00 ff ff ff"} {
		_, err := d.Decompress(nil, unhex(in), 1<<20)
		if err == nil && in != "f2 48 cd c9 c9 07 00 ff ff ff" {
			t.Errorf("%s: no error", in)
		}
		if err != nil && closeCode(err) != 1007 {
			t.Errorf("%s: %v", in, err)
		}
	}
}

// NewCompressor and NewDecompressor pick context takeover and levels from
// the negotiated parameters, per role.
func TestCompressorFromParams(t *testing.T) {
	p := DeflateParams{ServerNoContextTakeover: true, ServerMaxWindowBits: 10}
	cfg := DeflateConfig{Level: flate.BestCompression, Threshold: 7}
	sc := NewCompressor(p, RoleServer, cfg)
	if sc.takeover || sc.level != flate.HuffmanOnly || sc.threshold != 7 {
		t.Errorf("server compressor %+v", sc)
	}
	cc := NewCompressor(p, RoleClient, cfg)
	if !cc.takeover || cc.level != flate.BestCompression {
		t.Errorf("client compressor %+v", cc)
	}
	cc.Close()
	if NewDecompressor(p, RoleServer).takeover != true || NewDecompressor(p, RoleClient).takeover != false {
		t.Error("decompressor takeover")
	}
	p = DeflateParams{ClientNoContextTakeover: true, ClientMaxWindowBits: 9}
	if c := NewCompressor(p, RoleClient, DeflateConfig{}); c.takeover || c.level != flate.HuffmanOnly {
		t.Errorf("client with window limit: %+v", c)
	}
	// HuffmanOnly output decodes with a tiny window: it has no back-references.
	c := NewCompressor(DeflateParams{ServerMaxWindowBits: 8}, RoleServer, DeflateConfig{})
	out, ok := c.Compress(nil, []byte(strings.Repeat("abcabcabc ", 100)))
	if !ok {
		t.Fatal("HuffmanOnly declined")
	}
	r := flate.NewReader(io.MultiReader(bytes.NewReader(out), bytes.NewReader(inflateTail)))
	got, err := io.ReadAll(r)
	if err != nil || string(got) != strings.Repeat("abcabcabc ", 100) {
		t.Fatalf("HuffmanOnly round trip: %v", err)
	}
	if !c.ContextTakeover() {
		t.Error("server takeover not allowed by these params")
	}
}
