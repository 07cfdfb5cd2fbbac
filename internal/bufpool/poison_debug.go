//go:build netkit_debug

package bufpool

import "sync/atomic"

// Debug reports whether recycled buffers are poisoned (netkit_debug build tag).
const Debug = true

func poison(b []byte) {
	for i := range b {
		b[i] = PoisonByte
	}
}

var outstanding atomic.Int64

func track(d int64) { outstanding.Add(d) }

// Outstanding returns how many buffers from [Get] have not been given back
// with [Put]; it counts only under netkit_debug (0 otherwise), so that
// tests can assert that idle connections hold no buffer.
func Outstanding() int64 { return outstanding.Load() }
