package wsproto

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/netkit-go/netkit/internal/bufpool"
)

// TestMessageLargeReleased: a message beyond bufpool's largest class,
// plain or compressed, whole or in fragments, is assembled in a
// bufpool.Large that Release gives back, and what Release frees is not
// what the message's data is read from before it (the data is checked
// before Release; under netkit_debug a slice kept past it reads poison).
func TestMessageLargeReleased(t *testing.T) {
	data := make([]byte, 1<<20+123)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.IntN(16)) // compressible, not trivially
	}
	for _, compressed := range []bool{false, true} {
		for _, fragments := range []int{1, 5} {
			payload := data
			if compressed {
				c := NewCompressorLevel(0, 0, false)
				payload, _ = c.Compress(nil, data)
				c.Close()
			}
			var frames []frame
			step := (len(payload) + fragments - 1) / fragments
			for i := 0; i < fragments; i++ {
				op := OpContinuation
				if i == 0 {
					op = OpBinary
				}
				f := cf(op, i == fragments-1, string(payload[min(i*step, len(payload)):min((i+1)*step, len(payload))]))
				f.h.Rsv1 = compressed && i == 0
				frames = append(frames, f)
			}
			stream := encode(frames...)
			var r MessageReader
			var dec *Decompressor
			if compressed {
				dec = NewDecompressorTakeover(false)
			}
			r.Init(ReaderConfig{MaxMessageSize: 2 << 20}, dec)
			inUse0, _ := mappedInUse()
			var got []byte
			for p := stream; len(p) > 0; {
				n, m, err := r.Parse(p[:min(len(p), 64<<10)])
				if err != nil {
					t.Fatalf("compressed %v, %d fragments: %v", compressed, fragments, err)
				}
				p = p[n:]
				if m.Op == 0 {
					continue
				}
				if !bytes.Equal(m.Data, data) {
					t.Fatalf("compressed %v, %d fragments: message differs (len %d)", compressed, fragments, len(m.Data))
				}
				if inUse, _ := mappedInUse(); inUse == inUse0 && largeOffHeap {
					t.Errorf("compressed %v, %d fragments: not assembled in a large buffer", compressed, fragments)
				}
				got = m.Data
				r.Release()
			}
			if got == nil {
				t.Fatalf("compressed %v, %d fragments: no message", compressed, fragments)
			}
			if inUse, _ := mappedInUse(); inUse != inUse0 {
				t.Errorf("compressed %v, %d fragments: %d bytes of large buffers still lent after Release", compressed, fragments, inUse-inUse0)
			}
			if bufpool.Debug && got[0] != bufpool.PoisonByte {
				t.Errorf("compressed %v, %d fragments: released message not poisoned under netkit_debug", compressed, fragments)
			}
			r.Reset()
		}
	}
}

func mappedInUse() (int, int) {
	n, hot, _ := bufpool.MappedStats()
	return n, hot
}
