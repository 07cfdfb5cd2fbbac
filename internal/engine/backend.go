package engine

import (
	"os"
	"strings"

	"github.com/netkit-go/netkit/internal/evloop"
)

// Backend selects how a [Server] serves its connections.
type Backend int

const (
	// BackendDefault is the event-loop backend on Linux and the goroutine
	// backend elsewhere (the NETKIT_ENGINE environment variable may choose
	// another). It is chosen for memory: on Linux the event loop holds an
	// idle WebSocket in 3.2 KB against 11.3 KB and an idle connection with
	// no goroutine, at even CPU per message on busy connections; it costs
	// more CPU per accepted connection (0.69x the upgrades per CPU-second in
	// bench/run's quiet W5) and at a fixed rate (0.87x in T3), where
	// BackendGoroutine is the better choice (docs/benchmarks.md,
	// 2026-12-04, "The default backend").
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
		if evloop.Supported {
			return BackendEventLoop
		}
		return BackendGoroutine
	}
	return b
}
