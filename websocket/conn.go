package websocket

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/wsproto"
)

// MessageType is the type of a data message.
type MessageType int

// Message types (their values are the RFC 6455 opcodes).
const (
	TextMessage   MessageType = 1
	BinaryMessage MessageType = 2
)

// String returns "text" or "binary".
func (t MessageType) String() string {
	switch t {
	case TextMessage:
		return "text"
	case BinaryMessage:
		return "binary"
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

// Conn is one WebSocket connection, on the server or the client side.
// Ballerina's websocket:Caller is a *Conn: every Service callback gets one.
// Its write methods, Close and the getters are safe for concurrent use; Read is
// for one reader at a time.
//
// A Conn is either served by a Service (callbacks, run by the connection's
// own read loop) or pulled with Read (a connection from Accept; its owner
// runs the loop on its own goroutine). Both drive the same parser and the
// same control-frame and close-handshake handling.
type Conn struct {
	// The fields are ordered and typed for size: an idle server connection
	// holds only this struct and its session (see newConn).
	ec    *engine.Conn
	cfg   *connConfig // shared by the connections of a Handler or a dialer
	sess  *session    // non-nil when served by a Service
	*pull             // non-nil in pull mode (Accept, Client): Read's state

	sub  string
	comp *wsproto.Compressor   // nil without compression
	dec  *wsproto.Decompressor // nil without compression
	// mr parses the input. It is taken from readerPool when bytes arrive
	// and handed back once it holds nothing (see reader and idleReader), so
	// an idle connection holds none.
	mr *wsproto.MessageReader

	role   wsproto.Role
	secure bool
	compOK bool // comp uses the shared prepared-message encoding
	// parseFailed: mr returned a protocol error; it keeps the reader, which
	// returns the error again (loop or rsem holder only).
	parseFailed bool
	sent        atomic.Bool // a close frame was sent (set under the write lock)

	// Close handshake, under closeMu.
	closeMu    sync.Mutex
	recvClosed bool          // the peer's close arrived or the connection ended
	gotClose   bool          // a close frame arrived
	recvCode   int32         // its code
	recvDone   chan struct{} // made on demand (recvWait); closed with recvClosed
	recvReason string

	lastData atomic.Int64 // monotonic ns of the last data read or write (idle timeout)
}

// pull is the state of a pulled connection's Read.
type pull struct {
	rsem    chan struct{} // one reader at a time
	rbuf    *[]byte       // input read but not parsed yet, or nil
	rp, rn  int           // its unparsed part
	rclass  int           // the buffer size class for the next read
	readErr error         // sticky: the connection ended

	// pingPong, on a Client's connection with a PingPongHandler, is told of
	// pings and pongs that arrive while reading (nil: automatic pongs).
	pingPong *hooks

	// rxSeq counts the socket reads that brought bytes; a Client's
	// keepalive (keepalive.go) compares it across its waits.
	rxSeq uint64
	// pongAt is the monotonic deadline of a Client's keepalive ping that
	// awaits an answer, or 0.
	pongAt int64
}

// newPull returns the pull-mode state for Accept and clients.
func newPull() *pull { return &pull{rsem: make(chan struct{}, 1)} }

// readerPool holds idle MessageReaders. A reader is 344 bytes (with its
// buffers for split headers and control frames); sharing them keeps that
// off the idle connections.
var readerPool = sync.Pool{New: func() any { return new(wsproto.MessageReader) }}

// reader returns the connection's message reader, taking one from the pool
// if the connection holds none. Only the connection's reader (its loop, or
// the holder of rsem) calls it.
func (c *Conn) reader() *wsproto.MessageReader {
	if c.mr == nil {
		r := readerPool.Get().(*wsproto.MessageReader)
		r.Init(wsproto.ReaderConfig{Role: c.role, MaxFrameSize: c.cfg.maxFrame, MaxMessageSize: c.cfg.maxMessage}, c.dec)
		c.mr = r
	}
	return c.mr
}

// idleReader hands the message reader back to the pool when it holds
// nothing the next bytes need: no partial frame or message and no error
// (which must stay sticky). Call it after the last message it returned is
// done with and released. A decompressor that keeps its window between
// messages (context takeover) stays with its reader: Init would reset it.
func (c *Conn) idleReader() {
	r := c.mr
	if r == nil || c.parseFailed || !r.Idle() || c.dec != nil && c.dec.ContextTakeover() {
		return
	}
	c.putReader()
}

// putReader resets the message reader (releasing its buffers) and hands it
// back to the pool.
func (c *Conn) putReader() {
	r := c.mr
	if r == nil {
		return
	}
	c.mr = nil
	r.Init(wsproto.ReaderConfig{}, nil) // releases buffers, drops the decompressor
	readerPool.Put(r)
}

var epoch = time.Now()

// mono returns a monotonic clock reading in nanoseconds.
func mono() int64 { return int64(time.Since(epoch)) }

func monoTime(ns int64) time.Time { return epoch.Add(time.Duration(ns)) }

// newConn makes a connection for either role; the caller sets ec (or the
// session's Open does, for server connections adopted by a Handler).
//
// Building a client on it (the client half): after the client handshake,
// c := newConn(wsproto.RoleClient, &cc, sub, secure, params, deflate)
// with cc := cfg.resolve(logger); c.ec = engine.NewConn(nc, cc.engineConfig())
// with c.ec.SetBuffered(bytes the response reader held). Pull style: c.pull =
// newPull() and Read works as for Accept. Callback style
// (AsyncClient): s := newSession(c, hooks, nil); c.ec.Start(s), the same
// dispatch loop as the server's.
func newConn(role wsproto.Role, cfg *connConfig, sub string, secure bool, params *wsproto.DeflateParams, deflate wsproto.DeflateConfig) *Conn {
	c := &Conn{role: role, cfg: cfg, sub: sub, secure: secure}
	if params != nil {
		c.dec = wsproto.NewDecompressor(*params, role)
		c.comp = wsproto.NewCompressor(*params, role, deflate)
		bits := params.ServerMaxWindowBits
		if role == wsproto.RoleClient {
			bits = params.ClientMaxWindowBits
		}
		c.compOK = role == wsproto.RoleServer && !c.comp.ContextTakeover() && deflate.Level == 0 &&
			(bits == 0 || bits == 15) && c.comp.Threshold() == wsproto.DefaultCompressionThreshold
	}
	c.lastData.Store(mono())
	return c
}

// engineConfig returns the engine settings for cfg.
func (cfg connConfig) engineConfig() engine.ConnConfig {
	return engine.ConnConfig{Logger: cfg.logger, MaxPendingWrites: cfg.maxPending, WriteTimeout: cfg.writeTimeout}
}

// ID returns the connection's process-unique id (Ballerina's
// getConnectionId).
func (c *Conn) ID() string { return strconv.FormatUint(c.ec.ID(), 10) }

// NegotiatedSubProtocol returns the subprotocol agreed in the handshake, or "".
func (c *Conn) NegotiatedSubProtocol() string { return c.sub }

// IsSecure reports whether the connection runs over TLS.
func (c *Conn) IsSecure() bool { return c.secure }

// TLS returns the TLS connection state, or nil for a plain connection.
func (c *Conn) TLS() *tls.ConnectionState { return c.ec.TLS() }

// IsOpen reports whether no close frame was sent or received and the
// connection has not ended.
func (c *Conn) IsOpen() bool {
	if c.sent.Load() || !c.ec.IsOpen() {
		return false
	}
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return !c.recvClosed
}

// Context returns a context cancelled when the connection ends.
func (c *Conn) Context() context.Context { return c.ec.Context() }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.ec.RemoteAddr() }

// LocalAddr returns the local address.
func (c *Conn) LocalAddr() net.Addr { return c.ec.LocalAddr() }

// SetAttribute stores a per-connection value; a nil value removes it
// (Ballerina's removeAttribute is SetAttribute(key, nil)). Unlike Ballerina,
// values are stored as they are, not cloned.
func (c *Conn) SetAttribute(key string, value any) { c.ec.SetAttr(key, value) }

// Attribute returns the value stored under key, or nil.
func (c *Conn) Attribute(key string) any { v, _ := c.ec.Attr(key); return v }

// WriteTextMessage sends text as one text message (split into frames of
// FragmentSize when set). It returns when the kernel accepted every byte;
// ctx and WriteTimeout bound the wait. text must be valid UTF-8.
func (c *Conn) WriteTextMessage(ctx context.Context, text []byte) error {
	return c.Write(ctx, TextMessage, text)
}

// WriteBinaryMessage sends data as one binary message.
func (c *Conn) WriteBinaryMessage(ctx context.Context, data []byte) error {
	return c.Write(ctx, BinaryMessage, data)
}

var errInvalidUTF8Text = errors.New("websocket: text message is not valid UTF-8")

// Write sends p as one message of type typ.
func (c *Conn) Write(ctx context.Context, typ MessageType, p []byte) error {
	op := wsproto.OpBinary
	switch typ {
	case TextMessage:
		op = wsproto.OpText
		if !wsproto.ValidUTF8(p) {
			return errInvalidUTF8Text
		}
	case BinaryMessage:
	default:
		return errors.New("websocket: invalid message type " + typ.String())
	}
	if c.sent.Load() {
		return c.sentErr(op)
	}
	if err := c.ec.LockWrite(ctx); err != nil {
		return err
	}
	err := c.writeMessageHeld(ctx, op, p)
	c.ec.UnlockWrite()
	return err
}

// WriteMessage sends v (Ballerina's writeMessage): a string as text, a
// []byte as binary, anything else as its JSON encoding in a text message.
func (c *Conn) WriteMessage(ctx context.Context, v any) error {
	switch v := v.(type) {
	case string:
		return c.Write(ctx, TextMessage, []byte(v))
	case []byte:
		return c.Write(ctx, BinaryMessage, v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Write(ctx, TextMessage, b)
}

func (c *Conn) sentErr(op wsproto.Opcode) error {
	msg := "Close frame already sent. Cannot push binary data."
	if op == wsproto.OpText {
		msg = "Close frame already sent. Cannot push text data!"
	}
	return closureErr(msg, net.ErrClosed)
}

// writeMessageHeld writes one data message; the caller holds the write lock.
func (c *Conn) writeMessageHeld(ctx context.Context, op wsproto.Opcode, p []byte) error {
	if c.sent.Load() {
		return c.sentErr(op)
	}
	payload, rsv1 := p, false
	var zb *[]byte
	var zl bufpool.Large
	if c.comp != nil && len(p) >= c.comp.Threshold() {
		var dst []byte
		if n := len(p)/2 + 64; n <= bufpool.MaxSize || !bufpool.MappedPages {
			zb = bufpool.GetMapped(bufpool.Class(n))
			dst = (*zb)[:0]
		} else {
			// Room for deflate's worst case (stored blocks) at once:
			// mapped pages cost nothing until written, and the output
			// never grows into the heap.
			zl = bufpool.GetLarge(len(p) + len(p)/64 + 64)
			dst = zl.B[:0]
		}
		if out, ok := c.comp.Compress(dst, p); ok {
			payload, rsv1 = out, true
			c.cfg.obs.Compressed(len(p), len(out))
		}
	}
	var err error
	first := true
	for {
		chunk, fin := payload, true
		if c.cfg.fragment > 0 && len(chunk) > c.cfg.fragment {
			chunk, fin = chunk[:c.cfg.fragment], false
		}
		h := wsproto.Header{Fin: fin, Rsv1: rsv1 && first, Opcode: wsproto.OpContinuation, Length: int64(len(chunk))}
		if first {
			h.Opcode = op
		}
		if err = c.writeFrameHeld(ctx, h, chunk); err != nil || fin {
			break
		}
		payload, first = payload[len(chunk):], false
	}
	if zb != nil {
		bufpool.Put(zb)
	}
	zl.Free()
	if c.cfg.idle > 0 {
		c.lastData.Store(mono())
	}
	if err == nil {
		c.cfg.obs.Sent(msgType(op), len(p))
	}
	return err
}

// smallFrame is the size up to which header and payload are copied into one
// pooled buffer and written with one write (also one TLS record).
const smallFrame = bufpool.MinSize

// writeFrameHeld writes one frame; the caller holds the write lock.
func (c *Conn) writeFrameHeld(ctx context.Context, h wsproto.Header, payload []byte) error {
	if c.role == wsproto.RoleClient {
		return c.writeMaskedHeld(ctx, h, payload)
	}
	var hdr [wsproto.MaxHeaderSize]byte
	n := wsproto.PutHeader(hdr[:], h)
	if n+len(payload) <= smallFrame {
		b := bufpool.Get(0)
		m := copy(*b, hdr[:n])
		m += copy((*b)[m:], payload)
		_, err := c.ec.WriteHeld(ctx, (*b)[:m])
		bufpool.Put(b)
		return err
	}
	// A larger frame goes out with one writev of header and payload. The
	// vector escapes (into the net.Conn), so it lives in a pooled scratch
	// rather than on the stack or in every Conn.
	w := writevPool.Get().(*writev)
	w.hdr = hdr
	w.a[0], w.a[1] = w.hdr[:n], payload
	w.v = w.a[:]
	_, err := c.ec.WriteBuffersHeld(ctx, &w.v)
	w.a = [2][]byte{}
	w.v = nil
	writevPool.Put(w)
	return err
}

// writev is the scratch of one vectored frame write.
type writev struct {
	v   net.Buffers
	a   [2][]byte
	hdr [wsproto.MaxHeaderSize]byte
}

var writevPool = sync.Pool{New: func() any { return new(writev) }}

// writeMaskedHeld writes a client frame: a masked copy of the payload, in
// pooled chunks.
func (c *Conn) writeMaskedHeld(ctx context.Context, h wsproto.Header, payload []byte) error {
	h.Masked, h.Key = true, wsproto.NewMaskKey()
	var hdr [wsproto.MaxHeaderSize]byte
	n := wsproto.PutHeader(hdr[:], h)
	b := bufpool.Get(bufpool.Class(n + len(payload)))
	defer bufpool.Put(b)
	buf := *b
	m := copy(buf, hdr[:n])
	pos := 0
	for {
		k := copy(buf[m:], payload[pos:])
		wsproto.Mask(h.Key, pos, buf[m:m+k])
		if _, err := c.ec.WriteHeld(ctx, buf[:m+k]); err != nil {
			return err
		}
		pos += k
		m = 0
		if pos == len(payload) {
			return nil
		}
	}
}

// writeControl sends a control frame.
func (c *Conn) writeControl(ctx context.Context, op wsproto.Opcode, p []byte) error {
	if len(p) > wsproto.MaxControlPayload {
		return errors.New("websocket: control frame payload over 125 bytes")
	}
	if err := c.ec.LockWrite(ctx); err != nil {
		return err
	}
	defer c.ec.UnlockWrite()
	if c.sent.Load() {
		return closureErr("Close frame already sent. Cannot send "+op.String()+".", net.ErrClosed)
	}
	return c.writeFrameHeld(ctx, wsproto.Header{Fin: true, Opcode: op, Length: int64(len(p))}, p)
}

// Ping sends a ping with data (at most 125 bytes). It only sends: the pong
// goes to OnPong.
func (c *Conn) Ping(ctx context.Context, data []byte) error {
	return c.writeControl(ctx, wsproto.OpPing, data)
}

// Pong sends a pong with data (at most 125 bytes).
func (c *Conn) Pong(ctx context.Context, data []byte) error {
	return c.writeControl(ctx, wsproto.OpPong, data)
}

// sendClose sends a close frame unless one was sent. first reports whether
// this call sent it.
func (c *Conn) sendClose(ctx context.Context, code int, reason string) (first bool, err error) {
	if c.sent.Load() {
		return false, nil
	}
	if err := c.ec.LockWrite(ctx); err != nil {
		return true, err
	}
	defer c.ec.UnlockWrite()
	if c.sent.Swap(true) {
		return false, nil
	}
	var pb [wsproto.MaxControlPayload]byte
	p := wsproto.AppendClosePayload(pb[:0], code, reason)
	if err = c.writeFrameHeld(ctx, wsproto.Header{Fin: true, Opcode: wsproto.OpClose, Length: int64(len(p))}, p); err == nil {
		c.cfg.obs.CloseSent(code)
	}
	return true, err
}

// Close starts the close handshake with code and reason (Ballerina's
// close): code must be 1000-1003, 1007-1011 or 3000-4999, else an
// [ErrConnectionClosure] error "Failed to execute close. Invalid status
// code: N". A second Close is an ErrConnectionClosure error too.
//
// Called from one of the connection's own callbacks, Close sends the close
// frame, marks the connection closed (IsOpen false) and returns; the read
// loop then waits for the echo (up to ConnectionClosureTimeout) and closes
// the TCP connection. Called from another goroutine, it also waits for the
// echo, bounded by ctx and ConnectionClosureTimeout, and returns an error if
// the echo carried another code, the peer dropped the connection without
// echoing, or the wait timed out (the TCP connection is then closed).
func (c *Conn) Close(ctx context.Context, code int, reason string) error {
	if !validLocalCloseCode(code) {
		return invalidCloseCodeErr(code)
	}
	first, err := c.sendClose(ctx, code, reason)
	if !first {
		return closureErr("Close frame already sent. Cannot send close frame again.", net.ErrClosed)
	}
	if err != nil {
		c.ec.Close(err)
		return err
	}
	if c.sess != nil && c.ec.OnLoop() {
		c.sess.armCloseTimer()
		return nil
	}
	return c.awaitEcho(ctx, code)
}

// CloseNow drops the connection without a close handshake (coder's
// CloseNow): no close frame is sent, the TCP connection is closed at once,
// OnClose runs with 1006 and blocked reads and writes return errors
// matching ErrClosed. It is idempotent.
func (c *Conn) CloseNow() error {
	c.ec.Close(ErrClosed)
	return nil
}

// awaitEcho waits for the peer's close after ours.
func (c *Conn) awaitEcho(ctx context.Context, code int) error {
	var timeout <-chan time.Time
	if c.cfg.closeTimeout > 0 {
		t := time.NewTimer(c.cfg.closeTimeout)
		defer t.Stop()
		timeout = t.C
	}
	recvDone := c.recvWait()
	if c.sess == nil {
		// Pull mode: read until the echo ourselves, unless a Read is
		// running (it will see the echo).
		select {
		case c.rsem <- struct{}{}:
			err := c.pullUntilClose(ctx, timeout)
			<-c.rsem
			if err != nil {
				return err
			}
			return c.echoResult(code)
		case <-recvDone:
		case <-ctx.Done():
			c.ec.Close(ctx.Err())
			return closeInterrupted(ctx.Err())
		case <-timeout:
			c.ec.Close(ErrClosed)
			return c.closeTimeoutErr()
		}
		return c.echoResult(code)
	}
	select {
	case <-recvDone:
	case <-ctx.Done():
		c.ec.Close(ctx.Err())
		return closeInterrupted(ctx.Err())
	case <-timeout:
		c.ec.Close(ErrClosed)
		return c.closeTimeoutErr()
	}
	return c.echoResult(code)
}

// closeInterrupted reports a close handshake cut short by the caller's ctx
// (whose error it wraps), before ConnectionClosureTimeout.
func closeInterrupted(ctxErr error) error {
	return closureErr("websocket: close handshake interrupted: "+ctxErr.Error(), ctxErr)
}

func (c *Conn) closeTimeoutErr() error {
	return closureErr("Could not receive a WebSocket close frame from remote endpoint within "+
		strconv.FormatFloat(c.cfg.closeTimeout.Seconds(), 'f', -1, 64)+" seconds",
		&timeoutError{"websocket: close handshake timed out"})
}

// echoResult judges the close echo after a local close with code.
func (c *Conn) echoResult(code int) error {
	c.closeMu.Lock()
	got, rc := c.gotClose, int(c.recvCode)
	c.closeMu.Unlock()
	switch {
	case !got:
		return closureErr("Connection is closed by remote endpoint without echoing a close frame", net.ErrClosed)
	case rc != code:
		return closureErr("Expected status code "+strconv.Itoa(code)+" but found "+
			strconv.Itoa(rc)+" in echoed close frame from remote endpoint", &CloseError{Code: rc})
	}
	return nil
}

// recordClose notes the peer's close frame. It reports whether we had sent
// ours first (so this is the echo).
func (c *Conn) recordClose(code int, reason []byte) (echo bool) {
	c.cfg.obs.CloseReceived(code)
	c.closeMu.Lock()
	if !c.gotClose && !c.recvClosed {
		c.gotClose, c.recvCode, c.recvReason = true, int32(code), string(reason)
	}
	c.endRecvLocked()
	c.closeMu.Unlock()
	return c.sent.Load()
}

// ended notes that the connection is gone.
func (c *Conn) ended() {
	c.cfg.obs.CloseKeyed(c, nil) // no-op if Closed counted it, with its error
	c.closeMu.Lock()
	c.endRecvLocked()
	c.closeMu.Unlock()
}

// endRecvLocked marks the receiving side ended; the caller holds closeMu.
func (c *Conn) endRecvLocked() {
	if !c.recvClosed {
		c.recvClosed = true
		if c.recvDone != nil {
			close(c.recvDone)
		}
	}
}

// closedChan is a closed channel, for waits on what already happened.
var closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// recvWait returns a channel closed when the peer's close arrives or the
// connection ends (at once if that happened). It is made on demand: most
// connections never wait for it.
func (c *Conn) recvWait() <-chan struct{} {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.recvClosed {
		return closedChan
	}
	if c.recvDone == nil {
		c.recvDone = make(chan struct{})
	}
	return c.recvDone
}

// closeReason returns the received close frame, if any.
func (c *Conn) received() (code int, reason string, ok bool) {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return int(c.recvCode), c.recvReason, c.gotClose
}

// closePayloadReason returns the reason part of a close payload.
func closePayloadReason(p []byte) []byte {
	if len(p) < 2 {
		return nil
	}
	return p[2:]
}

// protocolErr converts a parser error into the package's error kinds.
func protocolErr(err error) (code int, reason string, out error) {
	var pe *wsproto.ProtocolError
	if !errors.As(err, &pe) {
		return wsproto.CloseProtocolError, "protocol error", corruptedErr(wsproto.CloseProtocolError, err.Error(), err)
	}
	if pe.Code == wsproto.CloseMessageTooBig {
		return pe.Code, pe.Reason, &kindError{kind: ErrPayloadTooLarge, msg: "websocket: payload too large: " + pe.Reason, err: err, closed: true}
	}
	return pe.Code, pe.Reason, corruptedErr(pe.Code, pe.Reason, err)
}

// corruptedErr is an ErrCorruptedFrame error: the connection was closed
// with code.
func corruptedErr(code int, reason string, cause error) error {
	return &kindError{kind: ErrCorruptedFrame, msg: "websocket: corrupted frame: " + reason + " (close " + strconv.Itoa(code) + ")", err: cause, closed: true}
}
