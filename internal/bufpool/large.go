package bufpool

import (
	"sync"
	"time"
	"unsafe"
)

// Mapped buffers are the ones that a burst leaves behind in bulk: read
// buffers and message buffers of [MappedMinSize] (64 KiB) and up, and the
// large buffers ([GetLarge]) of messages beyond MaxSize. On Linux they live
// outside the Go heap, in anonymous mappings kept in per-class free lists
// for reuse. A free mapping's pages go back to the kernel (madvise
// MADV_DONTNEED) once it has stayed unused for [ReleaseDelay] (1 s), except
// for the newest mappedHot bytes (256 KiB) of each class, which stay
// resident. So the memory of a burst returns within about two ReleaseDelays
// after the buffers are done with, not when a garbage collection happens to
// run (after a burst nothing allocates, so none runs, and both freed heap
// and a sync.Pool's contents stay resident), while buffers reused at once
// keep their pages (a page fault per 4 KiB page is the cost of a released
// buffer's next use). A mapping is never unmapped: a slice kept past Put by
// mistake reads zeros or later data, as a recycled heap buffer does, and
// never faults; address space, not memory, stays at the peak. Elsewhere
// mapped buffers are the heap-pooled ones. Under the netkit_debug build tag
// given-back buffers are poisoned and keep their pages.
//
// A mapped buffer must be given back on every path: one dropped without
// Put (or Free) is not reclaimed by the garbage collector.

const (
	// MappedMinSize is the smallest mapped class, 64 KiB.
	MappedMinSize = 64 << 10
	// LargeMinSize is the smallest large class, 512 KiB.
	LargeMinSize = 2 * MaxSize
	// LargeMaxSize is the largest large class, 1 GiB; larger buffers are
	// heap allocations.
	LargeMaxSize = 1 << 30
	// ReleaseDelay is how long a free mapped buffer keeps its pages.
	ReleaseDelay = time.Second

	mappedClasses = 15 // 64K .. 1G
	// mappedHot is the bytes of free buffers per class that stay resident.
	mappedHot = 256 << 10
)

// freeBuf is a free mapping with its pages resident, given back at at.
type freeBuf struct {
	b  *[]byte
	at time.Time
}

var mapped struct {
	mu      sync.Mutex
	hot     [mappedClasses][]freeBuf // free, pages resident, oldest first
	cold    [mappedClasses][]*[]byte // free, pages given back
	mine    map[uintptr]struct{}     // base addresses of every mapping
	inUse   int                      // bytes lent out
	timer   *time.Timer              // runs releaseIdle
	timerOn bool
}

func init() {
	// Made here, outside any testing/synctest bubble: a timer made inside
	// one cannot be reset from outside it.
	mapped.timer = time.AfterFunc(time.Hour, releaseIdle)
	mapped.timer.Stop()
}

// mappedClass returns the mapped class holding n bytes (n <= LargeMaxSize).
func mappedClass(n int) int {
	c := 0
	for c < mappedClasses-1 && MappedMinSize<<c < n {
		c++
	}
	return c
}

// getMapped returns a buffer of mapped class mc, or nil when none can be
// mapped.
func getMapped(mc int) *[]byte {
	size := MappedMinSize << mc
	mapped.mu.Lock()
	var b *[]byte
	if k := len(mapped.hot[mc]); k > 0 {
		b = mapped.hot[mc][k-1].b
		mapped.hot[mc][k-1] = freeBuf{}
		mapped.hot[mc] = mapped.hot[mc][:k-1]
	} else if k := len(mapped.cold[mc]); k > 0 {
		b = mapped.cold[mc][k-1]
		mapped.cold[mc][k-1] = nil
		mapped.cold[mc] = mapped.cold[mc][:k-1]
	}
	if b != nil {
		mapped.inUse += size
		mapped.mu.Unlock()
		return b
	}
	mapped.mu.Unlock()
	m := sysMap(size)
	if m == nil {
		return nil
	}
	b = &m
	mapped.mu.Lock()
	if mapped.mine == nil {
		mapped.mine = make(map[uintptr]struct{})
	}
	mapped.mine[uintptr(unsafe.Pointer(&m[0]))] = struct{}{}
	mapped.inUse += size
	mapped.mu.Unlock()
	return b
}

// putMapped takes b back if it is a mapping and reports whether it was.
func putMapped(b *[]byte) bool {
	n := cap(*b)
	if n < MappedMinSize || n > LargeMaxSize || n&(n-1) != 0 {
		return false
	}
	m := (*b)[:n]
	mapped.mu.Lock()
	_, ok := mapped.mine[uintptr(unsafe.Pointer(&m[0]))]
	mapped.mu.Unlock()
	if !ok {
		return false
	}
	*b = m
	poison(m)
	now := time.Now()
	mc := mappedClass(n)
	mapped.mu.Lock()
	mapped.inUse -= n
	mapped.hot[mc] = append(mapped.hot[mc], freeBuf{b, now})
	if !mapped.timerOn && !Debug && len(mapped.hot[mc])*n > mappedHot {
		mapped.timerOn = true
		mapped.timer.Reset(ReleaseDelay)
	}
	mapped.mu.Unlock()
	return true
}

// releaseIdle gives back the pages of the free mappings unused for
// ReleaseDelay beyond each class's resident mappedHot bytes, and runs again
// while some are left to age.
func releaseIdle() { release(time.Now().Add(-ReleaseDelay)) }

// ReleaseFree gives back the pages of every free mapped buffer beyond each
// class's resident few at once, without waiting for ReleaseDelay (for
// tests, and for a program that knows a burst is over).
func ReleaseFree() { release(time.Now().Add(time.Hour)) }

// release gives back the pages of free mappings given back before cutoff.
func release(cutoff time.Time) {
	if Debug {
		return
	}
	var todo []*[]byte
	mapped.mu.Lock()
	again := false
	for mc := range mapped.hot {
		size := MappedMinSize << mc
		h := mapped.hot[mc]
		k := 0
		for k < len(h) && (len(h)-k)*size > mappedHot && h[k].at.Before(cutoff) {
			todo = append(todo, h[k].b)
			k++
		}
		if k > 0 {
			n := copy(h, h[k:])
			clear(h[n:])
			mapped.hot[mc] = h[:n]
		}
		again = again || len(mapped.hot[mc])*size > mappedHot
	}
	mapped.timerOn = again
	if again {
		mapped.timer.Reset(ReleaseDelay)
	}
	mapped.mu.Unlock()
	for _, b := range todo {
		sysRelease(*b)
	}
	mapped.mu.Lock()
	for _, b := range todo {
		mc := mappedClass(cap(*b))
		mapped.cold[mc] = append(mapped.cold[mc], b)
	}
	mapped.mu.Unlock()
}

// MappedPages reports that mapped buffers are outside the Go heap (Linux):
// their pages cost memory only once written, so a caller may reserve a
// large buffer for data announced but not yet arrived.
const MappedPages = sysLarge

// GetMapped is [Get] for a caller that gives the buffer back on every
// path: for classes of MappedMinSize and up the buffer is a mapped one
// (see the comment on MappedMinSize) on Linux.
func GetMapped(c int) *[]byte {
	if sysLarge && ClassSize(c) >= MappedMinSize {
		if b := getMapped(mappedClass(ClassSize(c))); b != nil {
			return b
		}
	}
	return Get(c)
}

// Large is a buffer beyond MaxSize, from [GetLarge].
type Large struct {
	// B is the buffer: its length is the requested size, its capacity the
	// class size. It must not be used after Free.
	B []byte
	p *[]byte // the mapping, or nil for a heap allocation
}

// GetLarge returns a buffer of length n (n > 0), mapped on Linux up to
// [LargeMaxSize] (see the comment on MappedMinSize); the contents are
// unspecified. The caller must call Free once it is done with it.
func GetLarge(n int) Large {
	if sysLarge && n <= LargeMaxSize {
		if b := getMapped(mappedClass(max(n, LargeMinSize))); b != nil {
			return Large{B: (*b)[:n], p: b}
		}
	}
	return Large{B: make([]byte, n)}
}

// Free gives the buffer back; l.B must not be used afterwards. Free of the
// zero Large does nothing.
func (l *Large) Free() {
	if l.p != nil {
		Put(l.p)
	} else {
		poison(l.B)
	}
	*l = Large{}
}

// MappedStats reports the bytes of mapped buffers lent out, kept free
// with their pages resident, and kept free with their pages given back.
func MappedStats() (inUse, hot, cold int) {
	mapped.mu.Lock()
	defer mapped.mu.Unlock()
	for c := range mapped.hot {
		hot += len(mapped.hot[c]) * (MappedMinSize << c)
		cold += len(mapped.cold[c]) * (MappedMinSize << c)
	}
	return mapped.inUse, hot, cold
}
