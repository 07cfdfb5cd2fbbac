package netkittest

import (
	"net"
	"testing"
)

// ClosedPort returns a loopback TCP port that was free a moment ago and
// has nothing listening on it: a connection to 127.0.0.1 on it is refused,
// and a listener may bind it (unless another process took the port
// meanwhile).
func ClosedPort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}
