package bufpool

import (
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestLargeFreeReturnsPages checks that a freed large buffer keeps its pages
// for reuse and that ReleaseFree hands them back to the kernel: mincore
// reports none of them resident.
func TestLargeFreeReturnsPages(t *testing.T) {
	if Debug {
		t.Skip("under netkit_debug Free poisons and keeps the pages")
	}
	l := GetLarge(1 << 20)
	m := l.B[:cap(l.B)]
	for i := 0; i < len(m); i += 4096 {
		m[i] = 1
	}
	if n := resident(t, m); n != len(m)/unix.Getpagesize() {
		t.Fatalf("%d pages resident after writing every page, want %d", n, len(m)/unix.Getpagesize())
	}
	l.Free()
	if n := resident(t, m); n != len(m)/unix.Getpagesize() {
		t.Fatalf("%d pages resident right after Free, want all %d (kept for reuse)", n, len(m)/unix.Getpagesize())
	}
	ReleaseFree()
	if n := resident(t, m); n != 0 {
		t.Fatalf("%d pages still resident after ReleaseFree", n)
	}
}

// TestMappedReleasedAfterDelay: without ReleaseFree, a free mapping's pages
// go back once it has stayed unused for ReleaseDelay (bounded wait on the
// timer's effect).
func TestMappedReleasedAfterDelay(t *testing.T) {
	if Debug {
		t.Skip("under netkit_debug free buffers are poisoned and keep their pages")
	}
	l := GetLarge(1 << 20)
	m := l.B[:cap(l.B)]
	clear(m)
	l.Free()
	deadline := time.Now().Add(5 * ReleaseDelay)
	for resident(t, m) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pages still resident %v after Free", 5*ReleaseDelay)
		}
		time.Sleep(ReleaseDelay / 10)
	}
}

func resident(t *testing.T, m []byte) int {
	t.Helper()
	vec := make([]byte, (len(m)+unix.Getpagesize()-1)/unix.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}
