package netkit

import "strconv"

// Engine selects the backend that serves a listener's connections. It is
// the Engine field of tcp.ListenerConfig, websocket.ListenerConfig and
// socket.ListenerConfig: one knob, spelled the same in every face. The
// environment variable named by [EnvEngine] overrides it, for tests and
// benchmarks. Clients, UDP, TLS connections, socket 1.x pull reads and
// WebSockets of an http.Handler mount run on goroutines whatever it says.
type Engine int

const (
	// EngineDefault is the event loop on Linux and goroutines elsewhere.
	// In bench/run the event loop holds an idle WebSocket in 2.9 KB
	// against 9.4 KB (an idle connection holds no goroutine) and serves
	// 1.02-1.73x the messages per CPU-second; the goroutine backend spends
	// less CPU per accepted ws:// connection (docs/benchmarks.md, the
	// latest full-mode results).
	EngineDefault Engine = iota
	// EngineGoroutine runs one goroutine per connection, its callbacks on
	// it. A server whose load is connection churn (short-lived sockets,
	// reconnect storms) spends less CPU per connection with it.
	EngineGoroutine
	// EngineEventLoop serves plain-TCP connections (and ws:// ones once
	// upgraded) from edge-triggered epoll loops on Linux, each callback on
	// a goroutine of a bounded pool; an idle connection holds no goroutine
	// and no buffer. Off Linux it is EngineGoroutine.
	EngineEventLoop
)

// EnvEngine is the environment variable that overrides every listener's
// Engine when set to "goroutine" or "evloop" (any other value is ignored).
const EnvEngine = "NETKIT_ENGINE"

// String returns the engine's name, as EnvEngine spells it: "default",
// "goroutine" or "evloop" ("Engine(N)" for a value that is none of them).
func (e Engine) String() string {
	switch e {
	case EngineDefault:
		return "default"
	case EngineGoroutine:
		return "goroutine"
	case EngineEventLoop:
		return "evloop"
	}
	return "Engine(" + strconv.Itoa(int(e)) + ")"
}
