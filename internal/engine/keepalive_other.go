//go:build !linux

package engine

import "net"

// inheritKeepAlive returns lc: outside Linux, Go sets keep-alive on each
// accepted connection (keepalive_linux.go).
func inheritKeepAlive(lc *net.ListenConfig, network string) *net.ListenConfig { return lc }
