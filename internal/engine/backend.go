package engine

import (
	"os"
	"strings"
)

// Backend selects how a [Server] serves its connections.
type Backend int

const (
	// BackendDefault is the goroutine backend (the NETKIT_ENGINE
	// environment variable may choose another).
	BackendDefault Backend = iota
	// BackendGoroutine runs one goroutine per connection.
	BackendGoroutine
	// BackendEventLoop serves plain-TCP stream connections from an
	// edge-triggered epoll loop (internal/evloop) on Linux; other
	// connections, and other systems, use the goroutine backend.
	BackendEventLoop
)

// EnvBackend is the environment variable that overrides Config.Backend,
// for tests and benchmarks: "goroutine" or "evloop".
const EnvBackend = "NETKIT_ENGINE"

// String returns the backend's name as NETKIT_ENGINE spells it.
func (b Backend) String() string {
	switch b {
	case BackendEventLoop:
		return "evloop"
	case BackendGoroutine:
		return "goroutine"
	}
	return "default"
}

// resolveBackend applies the NETKIT_ENGINE override and the default.
func resolveBackend(b Backend) Backend {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(EnvBackend))) {
	case "goroutine":
		return BackendGoroutine
	case "evloop", "eventloop":
		return BackendEventLoop
	}
	if b == BackendDefault {
		return BackendGoroutine
	}
	return b
}
