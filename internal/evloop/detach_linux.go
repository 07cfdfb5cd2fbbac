//go:build linux

package evloop

import (
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Detach takes nc's socket away from Go's runtime poller and returns a
// descriptor of it that the caller owns, close-on-exec and as non-blocking
// as nc's (every socket of Go's runtime poller is).
//
// It duplicates the descriptor (F_DUPFD_CLOEXEC, inside RawConn.Control,
// so the original cannot be closed meanwhile), then closes nc. Closing nc
// unregisters the original from the runtime's epoll (the runtime does
// EPOLL_CTL_DEL before close(2), which matters: an epoll registration
// lives as long as the open file, not the descriptor number) and closes
// the original number. The socket itself stays open, because the
// duplicate still refers to it: the peer sees neither FIN nor RST.
// O_NONBLOCK belongs to the open file, so the duplicate is non-blocking
// already: Detach does not set it again (one fcntl less per connection;
// [Poller.Register] checks it in any case).
//
// Unlike (*net.TCPConn).File, no *os.File is made (no finalizer, no
// second registration with the runtime poller). nc must not be in use by
// another goroutine; a read or write in progress there fails with
// net.ErrClosed.
func Detach(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("%w (%T)", ErrNotDetachable, nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("evloop: detach: %w", err)
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, fmt.Errorf("evloop: detach: %w", err)
	}
	if dupErr != nil {
		return -1, fmt.Errorf("evloop: detach: dup: %w", dupErr)
	}
	if err := nc.Close(); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("evloop: detach: close original: %w", err)
	}
	return fd, nil
}
