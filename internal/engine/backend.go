package engine

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/netkit-go/netkit"
	"github.com/netkit-go/netkit/internal/evloop"
)

// Backend selects how a [Server] serves its connections. It is the public
// [netkit.Engine], which the faces' ListenerConfig.Engine carries here
// unchanged.
type Backend = netkit.Engine

const (
	// BackendDefault is the event-loop backend on Linux and the goroutine
	// backend elsewhere (netkit.EngineDefault).
	BackendDefault = netkit.EngineDefault
	// BackendGoroutine runs one goroutine per connection.
	BackendGoroutine = netkit.EngineGoroutine
	// BackendEventLoop serves plain-TCP stream connections from an
	// edge-triggered epoll loop (internal/evloop) on Linux; other
	// connections, and other systems, use the goroutine backend.
	BackendEventLoop = netkit.EngineEventLoop
)

// EnvBackend is the environment variable that overrides Config.Backend,
// for tests and benchmarks: "goroutine" or "evloop".
const EnvBackend = netkit.EnvEngine

// CheckBackend reports a value that names no backend, for the faces'
// NewListener (a wrong config is an error there, not a silent default).
func CheckBackend(b Backend) error {
	switch b {
	case BackendDefault, BackendGoroutine, BackendEventLoop:
		return nil
	}
	return errors.New("unknown engine " + strconv.Itoa(int(b)) + " (want netkit.EngineDefault, EngineGoroutine or EngineEventLoop)")
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
