// Package bufpool holds the pooled read buffers shared by netkit's faces.
//
// Buffers come in power-of-two size classes from [MinSize] (4 KiB) to
// [MaxSize] (256 KiB). [Get] and [Put] move *[]byte values so that pooling
// allocates nothing in steady state. Under the netkit_debug build tag, [Put]
// overwrites a returned buffer with 0xA5 so that code which keeps a borrowed
// slice past its callback sees garbage and fails its tests.
package bufpool

import "sync"

const (
	// MinSize is the smallest size class, 4 KiB.
	MinSize = 4 << 10
	// MaxSize is the largest size class, 256 KiB.
	MaxSize = 256 << 10
	// PoisonByte is what recycled buffers are filled with under netkit_debug.
	PoisonByte = 0xA5

	minShift = 12
	classes  = 7 // 4K 8K 16K 32K 64K 128K 256K
)

var pools [classes]sync.Pool

func init() {
	for i := range pools {
		size := MinSize << i
		pools[i].New = func() any {
			b := make([]byte, size)
			return &b
		}
	}
}

// Class returns the size class index whose buffers hold at least n bytes,
// clamped to the largest class.
func Class(n int) int {
	c := 0
	for c < classes-1 && MinSize<<c < n {
		c++
	}
	return c
}

// ClassSize returns the buffer length of size class c.
func ClassSize(c int) int { return MinSize << c }

// Classes is the number of size classes.
const Classes = classes

// Get returns a buffer of size class c (see [Class]); its length is
// [ClassSize](c) and its contents are unspecified.
func Get(c int) *[]byte {
	track(1)
	return pools[c].Get().(*[]byte)
}

// Put returns a buffer obtained from [Get]. The caller must not use it again.
func Put(b *[]byte) {
	c := Class(cap(*b))
	if ClassSize(c) != cap(*b) {
		return // not one of ours; let the GC have it
	}
	*b = (*b)[:cap(*b)]
	poison(*b)
	track(-1)
	pools[c].Put(b)
}

// Poison overwrites b with [PoisonByte] under the netkit_debug build tag and
// does nothing otherwise. Faces call it on memory they lent to a callback
// once the callback has returned.
func Poison(b []byte) { poison(b) }
