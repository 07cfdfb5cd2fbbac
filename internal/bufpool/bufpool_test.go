package bufpool

import (
	"testing"

	"github.com/netkit-go/netkit/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestClass(t *testing.T) {
	for _, tc := range []struct{ n, class, size int }{
		{0, 0, 4096}, {1, 0, 4096}, {4096, 0, 4096}, {4097, 1, 8192},
		{65536, 4, 65536}, {256 << 10, 6, 256 << 10}, {1 << 30, 6, 256 << 10},
	} {
		c := Class(tc.n)
		if c != tc.class || ClassSize(c) != tc.size {
			t.Errorf("Class(%d) = %d (size %d), want %d (size %d)", tc.n, c, ClassSize(c), tc.class, tc.size)
		}
	}
}

func TestGetPut(t *testing.T) {
	for c := 0; c < Classes; c++ {
		b := Get(c)
		if len(*b) != ClassSize(c) {
			t.Fatalf("class %d: len %d", c, len(*b))
		}
		(*b)[0] = 1
		Put(b)
		if Debug && (*b)[0] != PoisonByte {
			t.Fatalf("class %d: not poisoned under netkit_debug", c)
		}
	}
	Put(new([]byte)) // foreign buffers are dropped, not pooled
}
