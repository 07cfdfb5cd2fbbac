// Package goid tells which goroutine is running. netkit uses it only on rare
// paths (a connection loop's start, Close and stop calls) to know whether a
// call comes from inside one of its own callbacks, so that it never waits
// for itself.
package goid

import "runtime"

// Current returns the calling goroutine's id, parsed from its stack header
// ("goroutine 123 [running]:"), or 0 if it cannot be read.
func Current() uint64 {
	var buf [64]byte
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
