//go:build unix

package udp

import "golang.org/x/sys/unix"

// isTrunc reports whether recvmsg flags say the datagram was cut.
func isTrunc(flags int) bool { return flags&unix.MSG_TRUNC != 0 }

// isTruncErr reports whether a read error means the datagram was cut
// (Windows reports it as an error; Unix systems through the flags).
func isTruncErr(error) bool { return false }
