package wsproto

import "github.com/netkit-go/netkit/internal/bufpool"

// buffer is an appendable byte buffer that borrows its memory from
// internal/bufpool while it fits a size class (up to bufpool.MaxSize) and
// falls back to ordinary allocations beyond that. release hands pooled
// memory back, so a connection between messages holds none.
type buffer struct {
	b      []byte
	pooled *[]byte // the bufpool buffer b lives in, or nil
}

// reserve makes room for n more bytes after len(a.b).
func (a *buffer) reserve(n int) {
	need := len(a.b) + n
	if need <= cap(a.b) {
		return
	}
	var nb []byte
	var np *[]byte
	if need <= bufpool.MaxSize {
		np = bufpool.Get(bufpool.Class(need))
		nb = (*np)[:len(a.b)]
	} else {
		c := 2 * cap(a.b)
		if c < need {
			c = need
		}
		nb = make([]byte, len(a.b), c)
	}
	copy(nb, a.b)
	a.putPooled()
	a.b, a.pooled = nb, np
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
}

// release drops the memory: pooled memory goes back to bufpool (and is
// poisoned under netkit_debug).
func (a *buffer) release() {
	a.putPooled()
	a.b = nil
}
