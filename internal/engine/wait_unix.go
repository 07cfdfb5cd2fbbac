//go:build unix

package engine

import (
	"io"
	"syscall"
	"unsafe"

	"github.com/netkit-go/netkit/internal/bufpool"
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

// readRaw is the RawConn.Read callback of [Conn.readPooled]. It reads
// straight into a pooled buffer; on EAGAIN it gives the buffer back before
// the goroutine parks, so an idle connection holds none, and the read after
// the poller's wake-up is the only system call of a message (no peek
// first). Every wait starts with a read, never with the poller, so an EOF
// that arrived together with the last data is seen by the next wait.
func (c *Conn) readRaw(fd uintptr) bool {
	b := bufpool.GetMapped(c.rdClass)
	for {
		n, err := syscall.Read(int(fd), *b)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			bufpool.Put(b)
			if c.rdOnce {
				c.rdErr = errWouldBlock
				return true
			}
			return false
		case err != nil:
			bufpool.Put(b)
			c.rdErr = err
			return true
		case n == 0:
			bufpool.Put(b)
			c.rdErr = io.EOF
			return true
		}
		c.rdBuf, c.rdN = b, n
		return true
	}
}

// writeRaw is the RawConn.Write callback of [Conn.tryWrite]: one
// non-blocking write attempt, never a wait.
func (c *Conn) writeRaw(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), c.wrP)
		if err == syscall.EINTR {
			continue
		}
		if n > 0 {
			c.wrN = n
		}
		if err != nil && err != syscall.EAGAIN {
			c.wrErr = err
		}
		return true
	}
}

const canWaitWithoutBuffer = true
