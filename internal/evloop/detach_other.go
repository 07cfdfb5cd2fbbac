//go:build !linux

package evloop

import "net"

// Detach fails with [ErrNotDetachable] on this platform.
func Detach(nc net.Conn) (int, error) { return -1, ErrNotDetachable }
