package wsproto

import "github.com/netkit-go/netkit/internal/bufpool"

// buffer is an appendable byte buffer that borrows its memory from
// internal/bufpool: a pooled size class while it fits one (up to
// bufpool.MaxSize; GetMapped), a bufpool.Large beyond that (both outside
// the Go heap on Linux from 64 KiB up). release hands the memory back, so a connection between messages
// holds none, and the pages of a large message return to the kernel as
// soon as it is released.
type buffer struct {
	b      []byte
	pooled *[]byte       // the bufpool buffer b lives in, or nil
	large  bufpool.Large // the large buffer b lives in, or the zero Large
}

// reserve makes room for n more bytes after len(a.b).
func (a *buffer) reserve(n int) {
	need := len(a.b) + n
	if need <= cap(a.b) {
		return
	}
	var nb []byte
	var np *[]byte
	var nl bufpool.Large
	if need <= bufpool.MaxSize {
		np = bufpool.GetMapped(bufpool.Class(need))
		nb = (*np)[:len(a.b)]
	} else {
		c := 2 * cap(a.b)
		if c < need {
			c = need
		}
		nl = bufpool.GetLarge(c)
		nb = nl.B[:len(a.b)]
	}
	copy(nb, a.b)
	a.putPooled()
	a.b, a.pooled, a.large = nb, np, nl
}

// grow is reserve for a writer that does not know how much it will write:
// it makes room for at least min more bytes, doubling the capacity (at least
// bufpool.MinSize), but not beyond limit bytes in total unless min needs it
// (limit < 0: no limit).
func (a *buffer) grow(min, limit int) {
	if cap(a.b)-len(a.b) >= min {
		return
	}
	total := 2 * cap(a.b)
	if total < bufpool.MinSize {
		total = bufpool.MinSize
	}
	if limit >= 0 && total > limit {
		total = limit
	}
	if total < len(a.b)+min {
		total = len(a.b) + min
	}
	a.reserve(total - len(a.b))
}

func (a *buffer) append(p []byte) {
	a.reserve(len(p))
	a.b = append(a.b, p...)
}

func (a *buffer) putPooled() {
	if a.pooled != nil {
		bufpool.Put(a.pooled)
		a.pooled = nil
	}
	a.large.Free()
}

// release drops the memory: it goes back to bufpool (and is poisoned under
// netkit_debug).
func (a *buffer) release() {
	a.putPooled()
	a.b = nil
}
