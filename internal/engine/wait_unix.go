//go:build unix

package engine

import (
	"syscall"
	"unsafe"
)

// waitReadable is the RawConn.Read callback that waits for readability
// without a read buffer. It peeks one byte without blocking: data, EOF or an
// error end the wait (the loop then reads with a pooled buffer); EAGAIN asks
// the runtime to park the goroutine in the poller until the socket is
// readable. Peeking, rather than assuming that a short read drained the
// socket, is what catches an EOF that arrived together with the last data
// (the edge-triggered poller reports that only once).
func (c *Conn) waitReadable(fd uintptr) bool {
	var b byte
	_, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b)), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return errno != syscall.EAGAIN && errno != syscall.EINTR
}

const canWaitWithoutBuffer = true
