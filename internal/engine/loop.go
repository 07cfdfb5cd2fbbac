package engine

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/internal/goid"
)

// run is the connection's goroutine: the face's loop, then the close.
// It reports false when the connection went on to the event loop (whose
// Closed callback then finishes it).
func (c *Conn) run() bool {
	c.goid.Store(goid.Current())
	var err error
	if f, ok := c.face.(StreamFace); ok {
		err = c.streamLoop(f)
	} else if err = c.runOther(); err == errOnPoller {
		return false
	}
	c.finish(err)
	close(c.done)
	return true
}

// errOnPoller marks a connection handed to the event loop after Become.
var errOnPoller = errors.New("engine: on the event loop")

//go:noinline
func (c *Conn) runOther() error {
	if f, ok := c.face.(ConnFace); ok {
		return c.serveConnFace(f)
	}
	c.cfg.Logger.Error("netkit: unsupported face", "type", fmt.Sprintf("%T", c.face))
	return fmt.Errorf("engine: unsupported face %T", c.face)
}

// errNoClosed marks an end after which the face's Closed must not run
// (Open failed).
var errNoClosed = errors.New("engine: open failed")

// finish closes the socket, tells the face, then tells the server.
func (c *Conn) finish(err error) {
	c.Close(ErrConnClosed)
	if c.server != nil {
		// After the face's Closed: a stop that waits for the connections
		// returns only once their close callbacks have run.
		defer c.server.forget(c)
		if cs := c.server.cfg.ConnState; cs != nil {
			defer cs(c, StateClosed)
		}
	}
	if err == errNoClosed {
		return
	}
	if err == nil {
		err = c.Cause()
		if err == ErrConnClosed {
			err = nil
		}
	}
	if sf, ok := c.face.(StreamFace); ok {
		c.safely(func() { sf.Closed(c, err) })
	}
}

// safely runs f, recovering and logging a panic. It reports the panic.
func (c *Conn) safely(f func()) (perr *PanicError) {
	defer func() {
		if r := recover(); r != nil {
			perr = &PanicError{Value: r, Stack: debug.Stack()}
			c.cfg.Logger.Error("netkit: panic in connection handler",
				slog.Uint64("conn.id", c.id), slog.Any("panic", r), slog.String("stack", string(perr.Stack)))
		}
	}()
	f()
	return nil
}

func (c *Conn) serveConnFace(f ConnFace) error {
	if p := c.safely(func() { f.Serve(c) }); p != nil {
		return p
	}
	if next := c.next; next != nil {
		c.next = nil
		c.face = next
		c.dropContext()
		if p := c.pl; p != nil {
			// After an upgrade: the upgraded protocol goes on the loop.
			if !c.open(next) {
				return errNoClosed
			}
			if c.serveOnPoller(p, next) {
				return errOnPoller
			}
			c.opened = true
		}
		return c.streamLoop(next)
	}
	c.gracefulEnd()
	return nil
}

// Become hands the connection to f when the running [ConnFace.Serve]
// returns: the engine then runs f (Open, Data with buffered first, Closed)
// on the same goroutine, tracked, counted and stopped as before, with cfg
// as the connection's settings (nil keeps them). It is how an HTTP upgrade
// served by a ConnFace turns into a WebSocket. Call it only from Serve.
func (c *Conn) Become(f StreamFace, buffered []byte, cfg *ConnConfig) {
	c.next = f
	c.SetBuffered(buffered)
	if cfg != nil {
		old := c.cfg
		c.cfg = *cfg
		if c.cfg.Logger == nil {
			c.cfg.Logger = old.Logger
		}
		if c.cfg.MaxPendingWrites <= 0 {
			c.cfg.MaxPendingWrites = DefaultMaxPendingWrites
		}
		if c.cfg.Linger <= 0 {
			c.cfg.Linger = DefaultLinger
		}
	}
}

// streamLoop reads and pushes bytes to f until the connection ends.
func (c *Conn) streamLoop(f StreamFace) error {
	if c.opened {
		c.opened = false // serveOnPoller ran Open already
	} else if !c.open(f) {
		return errNoClosed
	}
	var (
		buf  *[]byte
		kept int // unconsumed bytes at the start of *buf
	)
	defer func() {
		if buf != nil {
			bufpool.Put(buf)
		}
	}()
	if len(c.pre) > 0 {
		var ferr error
		if buf, kept, ferr = c.pushBufferedOrClose(f); ferr != nil {
			return ferr
		}
	}
	tf, _ := f.(TimerFace)
	gf, _ := f.(GracefulFace)
	_, isTLS := c.nc.(*tls.Conn)
	for {
		switch c.state.Load() {
		case stateGraceful:
			if c.faceStop {
				break // the face's own goodbye is under way: keep reading
			}
			if gf != nil && !c.stopped && errors.Is(c.Cause(), ErrListenerStopping) {
				var err error
				if buf, kept, err = c.stopFace(f, gf, buf, kept); err != nil {
					return err
				}
				continue
			}
			b := buf
			buf = nil // gracefulStream owns it now (and returns it to the pool)
			return c.gracefulStream(f, b, kept)
		case stateClosed:
			return nil
		}
		if tf != nil {
			if err := c.runTimers(tf); c.gracefulRequest(err) {
				continue
			} else if err != nil {
				c.Close(err)
				return err
			}
			if c.state.Load() != stateOpen && !c.faceStop {
				continue
			}
		}
		var (
			n   int
			err error
		)
		if buf == nil && c.rc != nil {
			// Wait without a buffer; the read after the wake-up fills a
			// pooled one.
			if buf, n, err = c.readPooled(c.class); buf == nil {
				if e := c.readEnded(err); e != nil {
					return e
				}
				continue
			}
		} else if buf == nil && c.pr != nil {
			// A stream: the carrier's reader filled a pooled buffer while
			// this connection waited without one (stream.go).
			if buf, n, err = c.pr.ReadPooled(); buf == nil {
				if e := c.readEnded(err); e != nil {
					return e
				}
				continue
			}
		} else if buf == nil && isTLS {
			// TLS: wait with a one-byte read (crypto/tls decrypts the
			// record into its own buffer), so that an idle connection
			// holds no pooled buffer; then take the rest without waiting.
			if n, err = c.nc.Read(c.one[:]); n > 0 {
				buf = bufpool.Get(c.class)
				(*buf)[0] = c.one[0]
				var m int
				m, err = c.readNoWait((*buf)[1:])
				n += m
			}
		} else {
			if buf == nil {
				buf = bufpool.Get(c.class)
			}
			n, err = c.nc.Read((*buf)[kept:])
		}
		if n > 0 {
			total := kept + n
			consumed, ferr := c.push(f, (*buf)[:total])
			if ferr != nil {
				if c.gracefulRequest(ferr) {
					continue
				}
				c.Close(ferr)
				return ferr
			}
			kept = total - consumed
			buf, kept = c.resize(buf, kept, total)
		}
		if err != nil {
			if e := c.readEnded(err); e != nil {
				return e
			}
		}
	}
}

// readNoWait reads what c.nc holds already (crypto/tls's decrypted record)
// and what the socket has, without waiting: the read deadline is in the
// past for the read, then back at the TimerFace's (c.timerAt; zero:
// none). A Shutdown meanwhile is not lost although its wake-up deadline
// is overwritten: it changed the state first, and the loop checks the
// state before it reads again. The deadline's own timeout is no error.
func (c *Conn) readNoWait(p []byte) (int, error) {
	c.nc.SetReadDeadline(aLongTimeAgo)
	n, err := c.nc.Read(p)
	c.nc.SetReadDeadline(c.timerAt)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = nil
	}
	return n, err
}

// gracefulRequest starts the graceful close if err asks for it
// (ErrCloseGracefully, ErrAwaitPeerClose) and reports whether it did.
func (c *Conn) gracefulRequest(err error) bool {
	if err != ErrCloseGracefully && err != ErrAwaitPeerClose {
		return false
	}
	c.keepW = err == ErrAwaitPeerClose
	c.closeGracefully()
	return true
}

// closeGracefully is a face's request for the graceful close (its
// ErrCloseGracefully); it also ends the face's own goodbye (faceStop).
func (c *Conn) closeGracefully() {
	c.faceStop = false
	c.Shutdown(ErrConnClosed)
}

// stopFace runs a stopping server's hook on the connection's goroutine:
// first the data that already arrived is handed to the face (so every
// message the peer sent before the stop gets its reply), then the face's
// Stopping. If that returns nil, the loop goes on reading (faceStop) until
// the face ends the connection; ErrCloseGracefully asks for the engine's
// close-write-and-linger, another error closes at once.
//
//go:noinline
func (c *Conn) stopFace(f StreamFace, gf GracefulFace, buf *[]byte, kept int) (*[]byte, int, error) {
	c.stopped = true
	buf, kept, ferr := c.drainReadable(f, buf, kept)
	if ferr == nil {
		if p := c.safely(func() { ferr = gf.Stopping(c) }); p != nil {
			ferr = p
		}
	}
	switch {
	case ferr == nil && c.state.Load() == stateGraceful:
		c.faceStop = true
		// Shutdown's wake-up deadline: clear it, the timers re-arm theirs.
		c.nc.SetReadDeadline(time.Time{})
		c.timerAt = time.Time{}
	case ferr == nil, c.gracefulRequest(ferr):
	default:
		c.Close(ferr)
		return buf, kept, ferr
	}
	return buf, kept, nil
}

// open runs the face's Open (not inlined: its frame stays off the parked stack).
//
//go:noinline
func (c *Conn) open(f StreamFace) bool {
	var openErr error
	if p := c.safely(func() { openErr = f.Open(c) }); p != nil || openErr != nil {
		c.Close(ErrConnClosed)
		return false
	}
	return true
}

//go:noinline
func (c *Conn) pushBufferedOrClose(f StreamFace) (*[]byte, int, error) {
	buf, kept, ferr := c.pushBuffered(f)
	if !c.gracefulRequest(ferr) && ferr != nil {
		c.Close(ferr)
		return buf, kept, ferr
	}
	return buf, kept, nil
}

// push hands p to the face, recovering a panic as an error.
func (c *Conn) push(f StreamFace, p []byte) (consumed int, err error) {
	var n int
	var ferr error
	if perr := c.safely(func() { n, ferr = f.Data(c, p) }); perr != nil {
		return 0, perr
	}
	if n < 0 || n > len(p) {
		return 0, fmt.Errorf("engine: face consumed %d of %d bytes", n, len(p))
	}
	return n, ferr
}

// resize keeps the unconsumed bytes and adapts the buffer class: it grows
// when a read filled the buffer and shrinks after short reads. With nothing
// kept the buffer goes back to the pool, so an idle connection holds none.
func (c *Conn) resize(buf *[]byte, kept, total int) (*[]byte, int) {
	size := len(*buf)
	if total == size && c.class < bufpool.Classes-1 {
		c.class++
	} else if c.class > 0 && total <= size/4 {
		c.class--
	}
	if kept == 0 {
		bufpool.Put(buf)
		return nil, 0
	}
	start := total - kept
	if kept == size || bufpool.ClassSize(c.class) > size {
		// A partial message fills the buffer: move it to a bigger one.
		nc := bufpool.Class(kept + 1)
		if nc < c.class {
			nc = c.class
		}
		nb := bufpool.Get(nc)
		copy(*nb, (*buf)[start:total])
		bufpool.Put(buf)
		return nb, kept
	}
	copy(*buf, (*buf)[start:total])
	return buf, kept
}

// readEnded handles a read error. It returns nil to keep looping (a wake-up
// for a state change) or the loop's result.
func (c *Conn) readEnded(err error) error {
	switch c.state.Load() {
	case stateGraceful:
		if !c.faceStop {
			return nil
		}
	case stateClosed:
		return nil
	}
	if errors.Is(err, io.EOF) {
		if c.cfg.AllowHalfClose {
			c.mu.Lock()
			for c.state.Load() == stateOpen {
				c.cond.Wait()
			}
			c.mu.Unlock()
			if c.state.Load() == stateGraceful {
				c.CloseWrite()
			}
			return io.EOF
		}
		return io.EOF
	}
	if isTimeout(err) {
		// A stale wake-up deadline raced with a state check, or a
		// TimerFace's deadline passed: clear it (runTimers re-arms).
		c.nc.SetReadDeadline(time.Time{})
		c.timerAt = time.Time{}
		return nil
	}
	return err
}

// gracefulStream ends a stream connection gracefully. When the listener is
// stopping, data that already arrived is still handed to the face (so every
// byte the peer sent before our FIN gets its reply; unless stopFace did so
// already), then the write side is shut down and input is discarded until
// the peer's EOF. It takes ownership of buf.
func (c *Conn) gracefulStream(f StreamFace, buf *[]byte, kept int) error {
	if !c.stopped && errors.Is(c.Cause(), ErrListenerStopping) {
		buf, _, _ = c.drainReadable(f, buf, kept)
	}
	if buf != nil {
		bufpool.Put(buf)
	}
	c.gracefulEnd()
	return nil
}

// drainReadable pushes what the socket already holds, without waiting, and
// returns the buffer still holding unconsumed bytes. It stops at the face's
// first error (returned).
func (c *Conn) drainReadable(f StreamFace, buf *[]byte, kept int) (*[]byte, int, error) {
	if c.rc == nil {
		return buf, kept, nil
	}
	c.nc.SetReadDeadline(time.Time{})
	for i := 0; i < 64; i++ {
		if buf == nil {
			buf = bufpool.Get(c.class)
		}
		var n int
		var rerr error
		err := c.rc.Read(func(fd uintptr) bool {
			n, rerr = syscall.Read(int(fd), (*buf)[kept:])
			return true
		})
		if err != nil || rerr != nil || n <= 0 {
			break
		}
		total := kept + n
		consumed, ferr := c.push(f, (*buf)[:total])
		if ferr != nil {
			return buf, kept, ferr
		}
		kept = total - consumed
		buf, kept = c.resize(buf, kept, total)
	}
	if buf != nil && kept == 0 {
		bufpool.Put(buf)
		buf = nil
	}
	return buf, kept, nil
}

// gracefulEnd shuts down the write side and lingers until the peer's EOF.
func (c *Conn) gracefulEnd() {
	if c.state.Load() == stateClosed {
		return
	}
	if !c.keepW {
		c.CloseWrite()
	}
	// The linger is bounded by Linger; a GracefulStop whose ctx ends sooner
	// closes the connection itself.
	c.lingerDiscard(time.Now().Add(c.cfg.Linger))
}
