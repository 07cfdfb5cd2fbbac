package wsproto

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

var benchSizes = []int{16, 1 << 10, 64 << 10}

func BenchmarkFrameEncode(b *testing.B) {
	for _, n := range benchSizes {
		payload := bytes.Repeat([]byte("a"), n)
		dst := make([]byte, 0, n+MaxHeaderSize)
		b.Run(fmt.Sprintf("server/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				dst = AppendFrame(dst[:0], Header{Fin: true, Opcode: OpBinary}, payload)
			}
		})
		b.Run(fmt.Sprintf("client-masked/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				dst = AppendFrame(dst[:0], Header{Fin: true, Opcode: OpBinary, Masked: true, Key: NewMaskKey()}, payload)
			}
		})
	}
	b.Run("header-only", func(b *testing.B) {
		b.ReportAllocs()
		var hb [MaxHeaderSize]byte
		for b.Loop() {
			PutHeader(hb[:], Header{Fin: true, Opcode: OpText, Masked: true, Key: testKey, Length: 1000})
		}
	})
}

// BenchmarkFrameDecode parses and unmasks one client frame per iteration.
func BenchmarkFrameDecode(b *testing.B) {
	for _, n := range benchSizes {
		stream := AppendFrame(nil, Header{Fin: true, Opcode: OpBinary, Masked: true, Key: testKey}, bytes.Repeat([]byte("a"), n))
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var r FrameReader
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				for p := stream; len(p) > 0; {
					k, _, err := r.Parse(p)
					if err != nil {
						b.Fatal(err)
					}
					p = p[k:]
				}
			}
		})
	}
}

// BenchmarkMessageRead reads one binary or text message per iteration:
// whole (zero copy) or split into 4 KiB reads (assembled in a pooled
// buffer).
func BenchmarkMessageRead(b *testing.B) {
	for _, op := range []Opcode{OpBinary, OpText} {
		for _, n := range benchSizes {
			stream := AppendFrame(nil, Header{Fin: true, Opcode: op, Masked: true, Key: testKey}, bytes.Repeat([]byte("a"), n))
			for _, chunk := range []int{len(stream), 4096} {
				if chunk == 4096 && n < 4096 {
					continue
				}
				b.Run(fmt.Sprintf("%v/%d/chunk%d", op, n, chunk), func(b *testing.B) {
					var r MessageReader
					work := make([]byte, len(stream))
					b.ReportAllocs()
					b.SetBytes(int64(n))
					for b.Loop() {
						copy(work, stream) // parsing unmasks in place
						for p := work; len(p) > 0; {
							c := p[:min(chunk, len(p))]
							p = p[len(c):]
							for len(c) > 0 {
								k, _, err := r.Parse(c)
								if err != nil {
									b.Fatal(err)
								}
								c = c[k:]
							}
						}
						r.Release()
					}
				})
			}
		}
	}
}

func naiveMask(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return (pos + len(b)) & 3
}

func BenchmarkMask(b *testing.B) {
	for _, n := range []int{16, 125, 1 << 10, 64 << 10} {
		buf := make([]byte, n)
		b.Run(fmt.Sprintf("word/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				Mask(testKey, 1, buf)
			}
		})
		b.Run(fmt.Sprintf("naive/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				naiveMask(testKey, 1, buf)
			}
		})
	}
}

func BenchmarkUTF8(b *testing.B) {
	texts := map[string][]byte{
		"ascii-1K":        bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog. "), 23)[:1024],
		"ascii-64K":       bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog. "), 1457)[:64<<10],
		"mixed-1K":        []byte(strings.Repeat("Grüße aus Köln, ça va? Ελληνικά 日本語 ok. ", 20)[:1000]),
		"mostly-ascii-1K": []byte(strings.Repeat("This sentence is plain English with one accent: café. ", 19)),
		"cjk-1K":          []byte(strings.Repeat("日本語のテキストです。", 31)),
	}
	for name, text := range texts {
		if !utf8.Valid(text) {
			text = bytes.ToValidUTF8(text, nil)
		}
		b.Run("ValidUTF8/"+name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				if !ValidUTF8(text) {
					b.Fatal("invalid")
				}
			}
		})
		b.Run("Validator-4chunks/"+name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			q := len(text) / 4
			var v UTF8Validator
			for b.Loop() {
				v.Reset()
				v.Write(text[:q])
				v.Write(text[q : 2*q])
				v.Write(text[2*q : 3*q])
				v.Write(text[3*q:])
				if !v.Done() {
					b.Fatal("invalid")
				}
			}
		})
		b.Run("utf8.Valid/"+name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				if !utf8.Valid(text) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

var benchText = []byte(strings.Repeat(`{"user":"alice","action":"message","text":"hello, how are you doing today?","ts":1700000000}`, 12)[:1024])

func BenchmarkCompress(b *testing.B) {
	for _, takeover := range []bool{false, true} {
		b.Run(fmt.Sprintf("1K/takeover=%v", takeover), func(b *testing.B) {
			c := NewCompressorLevel(0, 0, takeover)
			defer c.Close()
			dst := make([]byte, 0, 2048)
			b.SetBytes(int64(len(benchText)))
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				out, _ = c.Compress(dst[:0], benchText)
			}
			b.ReportMetric(float64(len(out)), "out-bytes")
		})
	}
}

func BenchmarkDecompress(b *testing.B) {
	for _, takeover := range []bool{false, true} {
		b.Run(fmt.Sprintf("1K/takeover=%v", takeover), func(b *testing.B) {
			c := NewCompressorLevel(0, 0, takeover)
			defer c.Close()
			var msgs [][]byte
			for i := 0; i < 64; i++ {
				z, _ := c.Compress(nil, benchText)
				msgs = append(msgs, z)
			}
			d := NewDecompressorTakeover(takeover)
			dst := make([]byte, 0, 4096)
			b.SetBytes(int64(len(benchText)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				z := msgs[0]
				if takeover {
					// Each message depends on the previous one: replay the
					// sequence, restarting the window every 64.
					if i%64 == 0 {
						d.Reset()
					}
					z = msgs[i%64]
					i++
				}
				out, err := d.Decompress(dst[:0], z, 1<<20)
				if err != nil || len(out) != len(benchText) {
					b.Fatal(err)
				}
			}
		})
	}
}
