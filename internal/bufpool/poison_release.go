//go:build !netkit_debug

package bufpool

// Debug reports whether recycled buffers are poisoned (netkit_debug build tag).
const Debug = false

func poison([]byte) {}

func track(int64) {}

// Outstanding returns how many buffers from [Get] have not been given back
// with [Put]; it counts only under netkit_debug (0 otherwise), so that
// tests can assert that idle connections hold no buffer.
func Outstanding() int64 { return 0 }
