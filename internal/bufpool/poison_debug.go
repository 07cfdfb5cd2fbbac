//go:build netkit_debug

package bufpool

// Debug reports whether recycled buffers are poisoned (netkit_debug build tag).
const Debug = true

func poison(b []byte) {
	for i := range b {
		b[i] = PoisonByte
	}
}
