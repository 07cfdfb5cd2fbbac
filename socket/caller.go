package socket

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/obs"
)

// ReadAvailable is Caller.Read's and UdpClient.ReceiveFrom's default length
// (Ballerina's -100): return what is available (TCP) or one whole datagram
// (UDP), waiting only if nothing is.
const ReadAvailable = -100

// readAvailableClass is the pooled buffer class of a ReadAvailable read:
// 64 KiB, which also holds any UDP datagram.
var readAvailableClass = bufpool.Class(64 << 10)

// A Caller's mode says who reads its connection.
const (
	modePlain = iota // a client without callback service: Read pulls, no loop
	modePush         // a 0.990 service: the engine's stream loop pushes content
	modePull         // a 1.x service: the loop waits for data, OnReadReady pulls
)

// Caller is one TCP connection: Ballerina's socket:Caller, the value handed
// to every resource function, and (embedded in [Client]) the client itself.
//
// Write, Close, ShutdownRead, ShutdownWrite and the address methods are safe
// for concurrent use. Reads take turns: Read is meant for the goroutine
// running OnReadReady (or, for a client without callback service, one
// reader at a time).
type Caller struct {
	conn   *engine.Conn
	mode   int
	closed atomic.Bool
	obs    *obs.Set      // nil: metrics off
	mark   *obs.ConnMark // the open counted by obs

	rmu      sync.Mutex
	pending  []byte       // bytes received by a read that then timed out (under rmu)
	pendingN atomic.Int64 // len(pending), readable without rmu
	ended    atomic.Bool  // a read saw end of stream or a broken connection
	reads    atomic.Uint64
	progress chan struct{} // pull mode: a read consumed data (capacity 1)
}

func newCaller(c *engine.Conn, mode int) *Caller {
	cl := &Caller{}
	cl.init(c, mode)
	return cl
}

func (c *Caller) init(conn *engine.Conn, mode int) {
	c.conn, c.mode = conn, mode
	if mode == modePull {
		c.progress = make(chan struct{}, 1)
	}
}

// Write writes all of content and returns len(content) once the kernel has
// accepted every byte (Ballerina returned the count of a possibly partial
// write; here a short count comes only with an error). Concurrent writes
// never interleave. ctx and the write timeout bound the wait; if it ends
// before any byte left, the connection is unaffected, after some bytes the
// connection is closed. After Close or ShutdownWrite the error is a
// *GenericError "client socket close already." matching net.ErrClosed.
func (c *Caller) Write(ctx context.Context, content []byte) (int, error) {
	if c.closed.Load() {
		return 0, &GenericError{Message: msgWriteClosed, Cause: ErrClosed}
	}
	n, err := c.conn.Write(ctx, content)
	if err != nil {
		return n, writeError(err)
	}
	c.obs.Sent(obs.MsgNone, n)
	return n, nil
}

// Read is socket 1.x's caller->read(length): it returns bytes received from
// the peer, in memory the caller owns.
//
// With length == [ReadAvailable] it returns what has arrived, waiting for
// something if nothing has. With length >= 1 it blocks until exactly length
// bytes have accumulated over as many reads as it takes; the read timeout
// restarts after each partial read. Any other length is [ErrInvalidLength]
// ("requested byte length need to be 1 or more").
//
// End of stream: the error is io.EOF and the bytes are those received before
// it (none on a fresh read), where Ballerina returned them with a length of
// 0 and no error. After io.EOF a 1.x service's OnReadReady is not called
// again; the connection closes when it returns.
//
// Timeouts: when the read timeout (ClientConfig or ListenerConfig
// ReadTimeout, default 300 s) passes without data the error is
// [ErrReadTimedOut] (matching os.ErrDeadlineExceeded).
// If ctx ends first the error is ctx's. Either way nothing is lost: bytes
// that arrived are kept and returned first by the next Read. A closed
// connection gives a *GenericError "socket is already closed" matching
// net.ErrClosed. On a 0.990 (push) service's Caller, Read is [ErrPushMode].
func (c *Caller) Read(ctx context.Context, length int) ([]byte, error) {
	if c.mode == modePush {
		return nil, ErrPushMode
	}
	if length < 1 && length != ReadAvailable {
		return nil, ErrInvalidLength
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.closed.Load() {
		return nil, &GenericError{Message: msgAlreadyClosed, Cause: ErrClosed}
	}
	buf := c.takePending()
	if length == ReadAvailable {
		if len(buf) > 0 {
			c.progressed()
			return buf, nil
		}
		return c.readAvailable(ctx)
	}
	if len(buf) >= length {
		c.setPending(bytes.Clone(buf[length:]))
		c.progressed()
		return buf[:length:length], nil
	}
	for len(buf) < length {
		if len(buf) == cap(buf) {
			buf = grow(buf, length)
		}
		n, err := c.conn.Read(ctx, buf[len(buf):min(cap(buf), length)])
		if n > 0 {
			buf = buf[:len(buf)+n]
			c.progressed()
			c.obs.Received(obs.MsgNone, n)
		}
		if err == nil {
			continue
		}
		if err == io.EOF {
			c.sawEnd()
			if len(buf) == 0 {
				buf = nil
			}
			return buf, io.EOF
		}
		c.setPending(buf)
		return nil, c.readError(ctx, err)
	}
	return buf, nil
}

// grow makes room in buf for more of a read of length bytes: the first
// buffer holds at most 64 KiB and then doubles, so a large length costs
// memory only as data arrives.
func grow(buf []byte, length int) []byte {
	size := 2 * cap(buf)
	if size == 0 {
		size = 64 << 10
	}
	size = max(size, 512)
	size = min(size, length)
	nb := make([]byte, len(buf), size)
	copy(nb, buf)
	return nb
}

func (c *Caller) readAvailable(ctx context.Context) ([]byte, error) {
	b := bufpool.Get(readAvailableClass)
	n, err := c.conn.Read(ctx, *b)
	if n > 0 {
		out := bytes.Clone((*b)[:n])
		bufpool.Put(b)
		c.progressed()
		c.obs.Received(obs.MsgNone, n)
		return out, nil
	}
	bufpool.Put(b)
	if err == io.EOF {
		c.sawEnd()
		return nil, io.EOF
	}
	return nil, c.readError(ctx, err)
}

func (c *Caller) readError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return err
	case errors.Is(err, os.ErrDeadlineExceeded) && ctxExpired(ctx):
		// ctx's deadline fired the socket's before ctx's own timer.
		return context.DeadlineExceeded
	case errors.Is(err, os.ErrDeadlineExceeded):
		return ErrReadTimedOut
	case errors.Is(err, net.ErrClosed):
		return &GenericError{Message: msgAlreadyClosed, Cause: err}
	}
	c.sawEnd() // the connection is broken
	return &GenericError{Message: msgReadFailed + ": " + causeText(err), Cause: err}
}

// ctxExpired reports whether ctx's deadline has passed.
func ctxExpired(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func (c *Caller) takePending() []byte {
	b := c.pending
	c.setPending(nil)
	return b
}

func (c *Caller) setPending(b []byte) {
	if len(b) == 0 {
		b = nil
	}
	c.pending = b
	c.pendingN.Store(int64(len(b)))
}

// progressed records that a read consumed data (or saw the end), waking a
// pull loop that waits for a read made outside OnReadReady.
func (c *Caller) progressed() {
	c.reads.Add(1)
	select {
	case c.progress <- struct{}{}:
	default:
	}
}

func (c *Caller) sawEnd() {
	c.ended.Store(true)
	c.progressed()
}

// Close closes the connection gracefully: its write side is shut down after
// any write in progress (the peer sees FIN, and every byte written before
// arrives), input is discarded until the peer's end of stream or 5 s, then
// the socket closes and a 0.990 service's OnClose runs (Ballerina's close
// dispatched onClose too). Inside a callback it takes effect when the
// callback returns. Later writes fail with "client socket close already.".
// Close is idempotent and does not wait; [Client.Close] does.
func (c *Caller) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	if c.mode == modePlain {
		c.conn.CloseWrite()
		return c.conn.Close(ErrClosed)
	}
	c.conn.Shutdown(ErrClosed)
	return nil
}

// ShutdownRead shuts down the read side: reads see end of stream (a 0.990
// service then closes the connection and runs OnClose, as for the peer's
// EOF); writes go on. On a closed connection the error is "socket is already
// closed".
func (c *Caller) ShutdownRead() error {
	if c.closed.Load() {
		return &GenericError{Message: msgAlreadyClosed, Cause: ErrClosed}
	}
	if err := c.conn.CloseRead(); err != nil {
		return shutdownError(msgShutdownRead, err)
	}
	return nil
}

// ShutdownWrite shuts down the write side after any write in progress: the
// peer reads end of stream, while this side can still read. A later Write
// fails with "client socket close already." (matching net.ErrClosed).
func (c *Caller) ShutdownWrite() error {
	if c.closed.Load() {
		return &GenericError{Message: msgAlreadyClosed, Cause: ErrClosed}
	}
	if err := c.conn.CloseWrite(); err != nil {
		return shutdownError(msgShutdownWrite, err)
	}
	return nil
}

func shutdownError(msg string, err error) error {
	if errors.Is(err, net.ErrClosed) {
		return &GenericError{Message: msgAlreadyClosed, Cause: err}
	}
	return &GenericError{Message: msg + ": " + causeText(err), Cause: err}
}

// ID returns the connection's process-unique id (Ballerina's id field), a
// decimal string as on every netkit face.
func (c *Caller) ID() string { return strconv.FormatUint(c.conn.ID(), 10) }

// Context returns a context cancelled when the connection ends or begins
// closing (Close, a listener stop); context.Cause says why.
func (c *Caller) Context() context.Context { return c.conn.Context() }

// RemoteAddress returns the peer's IP address as text (Ballerina's
// remoteAddress field; IPv4-mapped addresses unmapped).
func (c *Caller) RemoteAddress() string { h, _ := engine.HostPort(c.conn.RemoteAddr()); return h }

// RemotePort returns the peer's port (Ballerina's remotePort field).
func (c *Caller) RemotePort() int { _, p := engine.HostPort(c.conn.RemoteAddr()); return p }

// LocalAddress returns the local IP address as text (Ballerina's
// localAddress field).
func (c *Caller) LocalAddress() string { h, _ := engine.HostPort(c.conn.LocalAddr()); return h }

// LocalPort returns the local port (Ballerina's localPort field).
func (c *Caller) LocalPort() int { _, p := engine.HostPort(c.conn.LocalAddr()); return p }
