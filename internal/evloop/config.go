package evloop

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
)

// Defaults of [Config].
const (
	// DefaultEvents is the epoll_wait batch size.
	DefaultEvents = 256
	// DefaultReadBudget is how many reads one turn of a connection may do
	// before it yields its worker to the next ready connection.
	DefaultReadBudget = 16
	// MaxLoops caps Config.Loops.
	MaxLoops = 64
)

// Config sets up a [Poller]. The zero value is valid; each field's doc
// states its default.
type Config struct {
	// Loops is the number of epoll instances, each with a loop goroutine;
	// <= 0 means runtime.GOMAXPROCS(0), one per P. Values above MaxLoops
	// are capped.
	Loops int
	// Workers caps the pool goroutines that run handlers; <= 0 means
	// 32 × GOMAXPROCS, at least 64. A handler that blocks holds one worker;
	// when all are busy, ready connections wait in the queue. (Each loop
	// goroutine serves the connections it found ready itself; one that
	// was taken over mid-turn joins the pool, which may so exceed Workers
	// by up to one goroutine per loop for a while.)
	Workers int
	// IdleWorkers is how many parked workers are kept for the next burst;
	// the others exit when the queue is empty. <= 0 means Loops.
	IdleWorkers int
	// Events is the epoll_wait batch; <= 0 means DefaultEvents.
	Events int
	// ReadBudget caps the reads of one turn; <= 0 means DefaultReadBudget.
	ReadBudget int
	// Logger receives errors of the loops themselves; nil means
	// slog.Default().
	Logger *slog.Logger
}

func (cfg Config) resolved() Config {
	procs := runtime.GOMAXPROCS(0)
	if cfg.Loops <= 0 {
		cfg.Loops = procs
	}
	cfg.Loops = min(cfg.Loops, MaxLoops)
	if cfg.Workers <= 0 {
		cfg.Workers = max(64, 32*procs)
	}
	if cfg.IdleWorkers <= 0 {
		cfg.IdleWorkers = cfg.Loops
	}
	cfg.IdleWorkers = min(cfg.IdleWorkers, cfg.Workers)
	if cfg.Events <= 0 {
		cfg.Events = DefaultEvents
	}
	if cfg.ReadBudget <= 0 {
		cfg.ReadBudget = DefaultReadBudget
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

func (cfg Config) logf(format string, args ...any) {
	cfg.Logger.Error(fmt.Sprintf(format, args...))
}

// Handler is pushed a connection's events. Its methods run on pool
// goroutines, never two at once for one connection and always in the
// order the bytes arrived.
type Handler interface {
	// Data is handed the bytes read so far that earlier calls did not
	// consume; p is borrowed until Data returns. It returns how many bytes
	// it consumed; the rest are handed to it again, with more, next time.
	// A non-nil error closes the connection with that cause.
	Data(c *Conn, p []byte) (consumed int, err error)
	// EOF runs once when the peer has closed its write side. Bytes Data
	// left unconsumed are dropped (a partial message cannot complete).
	// Returning nil keeps the connection open half-closed (writes go on,
	// no more reads); an error closes it with that cause (io.EOF for an
	// orderly end).
	EOF(c *Conn) error
	// Closed runs once, after the connection is unregistered and its
	// descriptor closed (if another goroutine is inside Conn.Write at that
	// moment, the descriptor is closed as that call returns, which it does
	// at once with net.ErrClosed), with the cause given to Close.
	Closed(c *Conn, err error)
}

// Waker is an optional extension of a [Handler]: Woken runs in the
// connection's turn after [Conn.Wake] (timers, stop requests), under the
// same ordering guarantee as Data. A non-nil error closes the connection.
type Waker interface {
	Woken(c *Conn) error
}

// ErrPollerClosed is the cause given to connections closed by
// [Poller.Close]. It matches net.ErrClosed.
var ErrPollerClosed = fmt.Errorf("evloop: poller closed: %w", net.ErrClosed)

// PanicError is the cause of a connection closed because a handler
// panicked.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("evloop: handler panic: %v", e.Value) }
