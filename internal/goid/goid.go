// Package goid tells which goroutine is running. netkit uses it on rare
// paths (a connection loop's start, Close and stop calls) to know whether a
// call comes from inside one of its own callbacks, so that it never waits
// for itself, and on the event-loop backend once per pool worker and loop
// goroutine (internal/evloop hands the id to each turn).
package goid

import (
	"runtime"
	"sync"
)

// bufs holds the stack-header buffers: runtime.Stack makes its buffer
// escape.
var bufs = sync.Pool{New: func() any { return new([64]byte) }}

// Current returns the calling goroutine's id, parsed from its stack header
// ("goroutine 123 [running]:"), or 0 if it cannot be read.
func Current() uint64 {
	buf := bufs.Get().(*[64]byte)
	defer bufs.Put(buf)
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return 0
	}
	var id uint64
	for _, c := range b[len(prefix):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
