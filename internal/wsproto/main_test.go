package wsproto

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/netkit-go/netkit/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// frame is a parsed frame, reassembled from events.
type frame struct {
	h       Header
	payload []byte
}

// splitter returns the next chunk size to feed.
type splitter func() int

func whole() int      { return 1 << 30 }
func byteByByte() int { return 1 }

func randomSplits(seed uint64) splitter {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func() int {
		if r.IntN(4) == 0 {
			return 1 + r.IntN(3)
		}
		return 1 + r.IntN(40)
	}
}

// splits are the feeding strategies every stream test runs under.
func splits() map[string]splitter {
	return map[string]splitter{
		"whole":      whole,
		"bytewise":   byteByByte,
		"random1":    randomSplits(1),
		"random2":    randomSplits(2),
		"random3":    randomSplits(99),
		"random-big": func() int { return 1000 + rand.IntN(70000) },
	}
}

// parseFrames feeds a copy of stream to a FrameReader in chunks and returns
// the frames it reported, their payloads copied.
func parseFrames(t testing.TB, cfg ReaderConfig, stream []byte, next splitter) ([]frame, error) {
	t.Helper()
	var r FrameReader
	r.Init(cfg)
	in := bytes.Clone(stream)
	var out []frame
	var cur *frame
	for iter := 0; len(in) > 0; iter++ {
		if iter > len(stream)*3+10 {
			t.Fatalf("parser makes no progress")
		}
		size := next()
		if size > len(in) {
			size = len(in)
		}
		chunk := in[:size]
		in = in[size:]
		for len(chunk) > 0 {
			n, ev, err := r.Parse(chunk)
			if err != nil {
				return out, err
			}
			if n <= 0 || n > len(chunk) {
				t.Fatalf("Parse consumed %d of %d", n, len(chunk))
			}
			chunk = chunk[n:]
			switch ev.Kind {
			case EventNone:
				if len(chunk) != 0 {
					t.Fatalf("EventNone with %d bytes left", len(chunk))
				}
			case EventControl:
				if !ev.End {
					t.Fatalf("control event without End")
				}
				out = append(out, frame{r.Header(), bytes.Clone(ev.Payload)})
			case EventHeader:
				if cur != nil {
					t.Fatalf("header before previous frame ended")
				}
				out = append(out, frame{h: r.Header(), payload: []byte{}})
				cur = &out[len(out)-1]
				if ev.End {
					cur = nil
				}
			case EventPayload:
				if cur == nil {
					t.Fatalf("payload without header")
				}
				cur.payload = append(cur.payload, ev.Payload...)
				if ev.End {
					cur = nil
				}
			}
		}
	}
	if cur != nil {
		return out, errTruncated
	}
	if !r.AtFrameBoundary() {
		return out, errTruncated
	}
	return out, nil
}

var errTruncated = errors.New("stream ended inside a frame")

func closeCode(err error) int {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return 0
}

// encode builds a stream of frames.
func encode(frames ...frame) []byte {
	var b []byte
	for _, f := range frames {
		b = AppendFrame(b, f.h, f.payload)
	}
	return b
}

var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

func cf(op Opcode, fin bool, payload string) frame {
	return frame{Header{Fin: fin, Opcode: op, Masked: true, Key: testKey}, []byte(payload)}
}
