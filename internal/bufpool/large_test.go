package bufpool

import (
	"bytes"
	"testing"
)

func TestMappedClass(t *testing.T) {
	for _, tc := range []struct{ n, size int }{
		{1, 64 << 10}, {64 << 10, 64 << 10}, {512<<10 + 1, 1 << 20}, {16 << 20, 16 << 20}, {1 << 30, 1 << 30},
	} {
		if got := MappedMinSize << mappedClass(tc.n); got != tc.size {
			t.Errorf("class of %d: size %d, want %d", tc.n, got, tc.size)
		}
	}
}

// TestLargeGetFree: a large buffer is lent and given back, and what a
// slice kept past Free sees: poison under netkit_debug, zeros on Linux
// once the pages went back to the kernel (the mapping stays, so no fault).
func TestLargeGetFree(t *testing.T) {
	inUse0, _, _ := MappedStats()
	l := GetLarge(600 << 10)
	if len(l.B) != 600<<10 {
		t.Fatalf("len %d", len(l.B))
	}
	for i := range l.B {
		l.B[i] = byte(i | 1)
	}
	if sysLarge {
		if cap(l.B) != 1<<20 {
			t.Fatalf("cap %d, want the 1 MiB class", cap(l.B))
		}
		if inUse, _, _ := MappedStats(); inUse != inUse0+1<<20 {
			t.Fatalf("in use %d, want %d", inUse, inUse0+1<<20)
		}
	}
	kept := l.B // a retention bug: the test looks at what it sees after Free
	l.Free()
	ReleaseFree()
	if l.B != nil {
		t.Fatal("B not cleared by Free")
	}
	if inUse, _, _ := MappedStats(); inUse != inUse0 {
		t.Fatalf("after Free: in use %d, want %d", inUse, inUse0)
	}
	switch {
	case Debug:
		if !bytes.Equal(kept[:64], bytes.Repeat([]byte{PoisonByte}, 64)) {
			t.Fatalf("freed large buffer not poisoned under netkit_debug: % x", kept[:8])
		}
	case sysLarge:
		if !bytes.Equal(kept[:64], make([]byte, 64)) {
			t.Fatalf("freed mapping still holds its data: % x", kept[:8])
		}
		// The mapping is kept for the next buffer of its class.
		l2 := GetLarge(1 << 20)
		if &l2.B[0] != &kept[0] {
			t.Error("the free mapping was not reused")
		}
		l2.Free()
	}
	l.Free() // Free of the zero Large is a no-op
}

// TestMappedHotCold: buffers given back keep their pages until released;
// then the newest mappedHot bytes of the class stay resident and the rest
// give their pages back. A heap buffer of a mapped class's size is not
// mistaken for a mapping.
func TestMappedHotCold(t *testing.T) {
	if !sysLarge {
		t.Skip("no mapped buffers on this system")
	}
	const c = Classes - 3 // 64 KiB
	n := mappedHot/ClassSize(c) + 2
	var bs []*[]byte
	for range n {
		b := GetMapped(c)
		if len(*b) != ClassSize(c) {
			t.Fatalf("len %d", len(*b))
		}
		(*b)[0] = 1
		bs = append(bs, b)
	}
	_, hot0, cold0 := MappedStats()
	for _, b := range bs {
		Put(b)
	}
	_, hot, cold := MappedStats()
	if hot-hot0 != n*ClassSize(c) || cold != cold0 {
		t.Fatalf("given back: %d bytes resident (want %d), cold %d (want %d)", hot-hot0, n*ClassSize(c), cold, cold0)
	}
	ReleaseFree()
	_, hot, cold = MappedStats()
	if Debug {
		if hot-hot0 != n*ClassSize(c) {
			t.Fatalf("netkit_debug: %d bytes released", n*ClassSize(c)-(hot-hot0))
		}
	} else if hot > mappedHot || cold-cold0 < 2*ClassSize(c) {
		t.Fatalf("hot %d (at most %d), cold grew by %d (at least %d)", hot, mappedHot, cold-cold0, 2*ClassSize(c))
	}
	heap := make([]byte, ClassSize(c))
	Put(&heap)
	if _, hot2, cold2 := MappedStats(); hot2 != hot || cold2 != cold {
		t.Fatal("a heap buffer was taken as a mapping")
	}
}

func TestLargeBeyondClasses(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 1 GiB + 1 of address space")
	}
	inUse0, _, _ := MappedStats()
	l := GetLarge(LargeMaxSize + 1)
	if l.p != nil || len(l.B) != LargeMaxSize+1 {
		t.Fatalf("len %d: want a heap allocation", len(l.B))
	}
	if inUse, _, _ := MappedStats(); inUse != inUse0 {
		t.Fatalf("heap fallback counted as mapped: %d", inUse)
	}
	l.B = l.B[:1] // poison only what the test touched
	l.Free()
}
