//go:build windows

package udp

import (
	"errors"
	"syscall"
)

const (
	msgTrunc    = 0x0100 // MSG_TRUNC in Winsock
	wsaEMsgSize = syscall.Errno(10040)
)

// isTrunc reports whether recvmsg flags say the datagram was cut.
func isTrunc(flags int) bool { return flags&msgTrunc != 0 }

// isTruncErr reports whether a read error means the datagram was cut
// (WSAEMSGSIZE).
func isTruncErr(err error) bool { return errors.Is(err, wsaEMsgSize) }
