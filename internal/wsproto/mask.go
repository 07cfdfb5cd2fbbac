package wsproto

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// Mask XORs b in place with the masking key (RFC 6455 §5.3), starting at
// position pos of the key (0-3; only pos&3 is used), and returns the key
// position after b, so that a payload split into chunks can be masked (or
// unmasked: the operation is its own inverse) chunk by chunk:
//
//	pos := 0
//	for _, chunk := range chunks {
//		pos = Mask(key, pos, chunk)
//	}
//
// It works eight bytes at a time, 32 per loop iteration.
func Mask(key [4]byte, pos int, b []byte) int {
	pos &= 3
	next := (pos + len(b)) & 3
	// k has key[pos] in its lowest byte, so that it lines up with b[0] in a
	// little-endian load.
	k := bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*pos)
	if len(b) < 8 {
		for i := range b {
			b[i] ^= byte(k)
			k = bits.RotateLeft32(k, -8)
		}
		return next
	}
	k64 := uint64(k)<<32 | uint64(k)
	for len(b) >= 32 {
		v0 := binary.LittleEndian.Uint64(b[0:8]) ^ k64
		v1 := binary.LittleEndian.Uint64(b[8:16]) ^ k64
		v2 := binary.LittleEndian.Uint64(b[16:24]) ^ k64
		v3 := binary.LittleEndian.Uint64(b[24:32]) ^ k64
		binary.LittleEndian.PutUint64(b[0:8], v0)
		binary.LittleEndian.PutUint64(b[8:16], v1)
		binary.LittleEndian.PutUint64(b[16:24], v2)
		binary.LittleEndian.PutUint64(b[24:32], v3)
		b = b[32:]
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k64)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= byte(k64 >> (8 * i))
	}
	return next
}

// NewMaskKey returns a masking key for a client frame. RFC 6455 §5.3 asks
// for keys an attacker cannot predict; they come from the runtime's
// per-thread ChaCha8 generator (math/rand/v2), which is seeded from the
// operating system's entropy, is not predictable from earlier outputs, and
// costs a few nanoseconds without locking or allocating.
func NewMaskKey() [4]byte {
	var k [4]byte
	binary.LittleEndian.PutUint32(k[:], rand.Uint32())
	return k
}
