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

// Caller is a connection as seen from a Service's callbacks: the same
// [Conn] (Ballerina's websocket:Caller).
type Caller = Conn

// Conn is one WebSocket connection, on the server or the client side. Its
// write methods, Close and the getters are safe for concurrent use; Read is
// for one reader at a time.
//
// A Conn is either served by a Service (callbacks, run by the connection's
// own read loop) or pulled with Read (a connection from Accept; its owner
// runs the loop on its own goroutine). Both drive the same parser and the
// same control-frame and close-handshake handling.
type Conn struct {
	ec   *engine.Conn
	role wsproto.Role
	cfg  connConfig

	// pingPong, on a Client's connection with a PingPongHandler, is told of
	// pings and pongs that arrive while reading (nil: automatic pongs).
	pingPong *hooks
	sub      string
	secure   bool
	comp     *wsproto.Compressor // nil without compression
	compOK   bool                // comp uses the shared prepared-message encoding
	mr       wsproto.MessageReader
	sess     *session // non-nil when served by a Service

	// Write side, under the engine's write lock.
	hdr  [wsproto.MaxHeaderSize]byte
	wv   net.Buffers
	wvA  [2][]byte
	sent atomic.Bool // a close frame was sent (set under the write lock)

	// Close handshake.
	closeMu    sync.Mutex
	recvDone   chan struct{} // closed when the peer's close arrived or the connection ended
	recvClosed bool          // recvDone is closed (under closeMu)
	gotClose   bool          // a close frame arrived (under closeMu)
	recvCode   int
	recvReason string
	sentCode   int

	lastData atomic.Int64 // monotonic ns of the last data read or write (idle timeout)

	// Pull mode.
	rsem    chan struct{}
	rbuf    *[]byte
	rp, rn  int
	rclass  int
	readErr error
}

var epoch = time.Now()

// mono returns a monotonic clock reading in nanoseconds.
func mono() int64 { return int64(time.Since(epoch)) }

func monoTime(ns int64) time.Time { return epoch.Add(time.Duration(ns)) }

// newConn makes a connection for either role; the caller sets ec (or the
// session's Open does, for server connections adopted by a Handler).
//
// Building a client on it (the client half): after the client handshake,
// c := newConn(wsproto.RoleClient, cfg.resolve(logger), sub, secure,
// params, deflate); c.ec = engine.NewConn(nc, cc.engineConfig()) with
// c.ec.SetBuffered(bytes the response reader held). Pull style: c.rsem =
// make(chan struct{}, 1) and Read works as for Accept. Callback style
// (AsyncClient): s := newSession(c, hooks, nil); c.ec.Start(s), the same
// dispatch loop as the server's.
func newConn(role wsproto.Role, cfg connConfig, sub string, secure bool, params *wsproto.DeflateParams, deflate wsproto.DeflateConfig) *Conn {
	c := &Conn{role: role, cfg: cfg, sub: sub, secure: secure, recvDone: make(chan struct{})}
	var dec *wsproto.Decompressor
	if params != nil {
		dec = wsproto.NewDecompressor(*params, role)
		c.comp = wsproto.NewCompressor(*params, role, deflate)
		bits := params.ServerMaxWindowBits
		if role == wsproto.RoleClient {
			bits = params.ClientMaxWindowBits
		}
		c.compOK = role == wsproto.RoleServer && !c.comp.ContextTakeover() && deflate.Level == 0 &&
			(bits == 0 || bits == 15) && c.comp.Threshold() == wsproto.DefaultCompressionThreshold
	}
	c.mr.Init(wsproto.ReaderConfig{Role: role, MaxFrameSize: cfg.maxFrame, MaxMessageSize: cfg.maxMessage}, dec)
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

// SetAttribute stores a per-connection value; a nil value removes it. Unlike
// Ballerina, values are stored as they are, not cloned.
func (c *Conn) SetAttribute(key string, value any) { c.ec.SetAttr(key, value) }

// Attribute returns the value stored under key, or nil.
func (c *Conn) Attribute(key string) any { v, _ := c.ec.Attr(key); return v }

// RemoveAttribute removes the value stored under key.
func (c *Conn) RemoveAttribute(key string) { c.ec.SetAttr(key, nil) }

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
	return &ConnectionClosureError{Message: msg, Err: net.ErrClosed}
}

// writeMessageHeld writes one data message; the caller holds the write lock.
func (c *Conn) writeMessageHeld(ctx context.Context, op wsproto.Opcode, p []byte) error {
	if c.sent.Load() {
		return c.sentErr(op)
	}
	payload, rsv1 := p, false
	var zb *[]byte
	if c.comp != nil && len(p) >= c.comp.Threshold() {
		zb = bufpool.Get(bufpool.Class(len(p)/2 + 64))
		if out, ok := c.comp.Compress((*zb)[:0], p); ok {
			payload, rsv1 = out, true
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
	if c.cfg.idle > 0 {
		c.lastData.Store(mono())
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
	n := wsproto.PutHeader(c.hdr[:], h)
	if n+len(payload) <= smallFrame {
		b := bufpool.Get(0)
		m := copy(*b, c.hdr[:n])
		m += copy((*b)[m:], payload)
		_, err := c.ec.WriteHeld(ctx, (*b)[:m])
		bufpool.Put(b)
		return err
	}
	c.wvA[0], c.wvA[1] = c.hdr[:n], payload
	c.wv = c.wvA[:]
	_, err := c.ec.WriteBuffersHeld(ctx, &c.wv)
	c.wvA = [2][]byte{}
	c.wv = nil
	return err
}

// writeMaskedHeld writes a client frame: a masked copy of the payload, in
// pooled chunks.
func (c *Conn) writeMaskedHeld(ctx context.Context, h wsproto.Header, payload []byte) error {
	h.Masked, h.Key = true, wsproto.NewMaskKey()
	n := wsproto.PutHeader(c.hdr[:], h)
	b := bufpool.Get(bufpool.Class(n + len(payload)))
	defer bufpool.Put(b)
	buf := *b
	m := copy(buf, c.hdr[:n])
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
		return &ConnectionClosureError{Message: "Close frame already sent. Cannot send " + op.String() + ".", Err: net.ErrClosed}
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
	c.sentCode = code
	var pb [wsproto.MaxControlPayload]byte
	p := wsproto.AppendClosePayload(pb[:0], code, reason)
	return true, c.writeFrameHeld(ctx, wsproto.Header{Fin: true, Opcode: wsproto.OpClose, Length: int64(len(p))}, p)
}

// Close starts the close handshake with code and reason (Ballerina's
// close): code must be 1000-1003, 1007-1011 or 3000-4999, else a
// ConnectionClosureError "Failed to execute close. Invalid status code: N".
// A second Close is a ConnectionClosureError too.
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
		return &ConnectionClosureError{Message: "Failed to execute close. Invalid status code: " + strconv.Itoa(code), invalid: true}
	}
	first, err := c.sendClose(ctx, code, reason)
	if !first {
		return &ConnectionClosureError{Message: "Close frame already sent. Cannot send close frame again.", Err: net.ErrClosed}
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

// awaitEcho waits for the peer's close after ours.
func (c *Conn) awaitEcho(ctx context.Context, code int) error {
	var timeout <-chan time.Time
	if c.cfg.closeTimeout > 0 {
		t := time.NewTimer(c.cfg.closeTimeout)
		defer t.Stop()
		timeout = t.C
	}
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
		case <-c.recvDone:
		case <-ctx.Done():
			c.ec.Close(ctx.Err())
			return &ConnectionClosureError{Message: "Close handshake interrupted: " + ctx.Err().Error(), Err: ctx.Err()}
		case <-timeout:
			c.ec.Close(ErrClosed)
			return c.closeTimeoutErr()
		}
		return c.echoResult(code)
	}
	select {
	case <-c.recvDone:
	case <-ctx.Done():
		c.ec.Close(ctx.Err())
		return &ConnectionClosureError{Message: "Close handshake interrupted: " + ctx.Err().Error(), Err: ctx.Err()}
	case <-timeout:
		c.ec.Close(ErrClosed)
		return c.closeTimeoutErr()
	}
	return c.echoResult(code)
}

func (c *Conn) closeTimeoutErr() error {
	return &ConnectionClosureError{
		Message: "Could not receive a WebSocket close frame from remote endpoint within " +
			strconv.FormatFloat(c.cfg.closeTimeout.Seconds(), 'f', -1, 64) + " seconds",
		Err: &timeoutError{"websocket: close handshake timed out"},
	}
}

// echoResult judges the close echo after a local close with code.
func (c *Conn) echoResult(code int) error {
	c.closeMu.Lock()
	got, rc := c.gotClose, c.recvCode
	c.closeMu.Unlock()
	switch {
	case !got:
		return &ConnectionClosureError{Message: "Connection is closed by remote endpoint without echoing a close frame", Err: net.ErrClosed}
	case rc != code:
		return &ConnectionClosureError{Message: "Expected status code " + strconv.Itoa(code) + " but found " +
			strconv.Itoa(rc) + " in echoed close frame from remote endpoint", Err: &CloseError{Code: rc}}
	}
	return nil
}

// recordClose notes the peer's close frame. It reports whether we had sent
// ours first (so this is the echo).
func (c *Conn) recordClose(code int, reason []byte) (echo bool) {
	c.closeMu.Lock()
	if !c.gotClose && !c.recvClosed {
		c.gotClose, c.recvCode, c.recvReason = true, code, string(reason)
	}
	if !c.recvClosed {
		c.recvClosed = true
		close(c.recvDone)
	}
	c.closeMu.Unlock()
	return c.sent.Load()
}

// ended notes that the connection is gone.
func (c *Conn) ended() {
	c.closeMu.Lock()
	if !c.recvClosed {
		c.recvClosed = true
		close(c.recvDone)
	}
	c.closeMu.Unlock()
}

// closeReason returns the received close frame, if any.
func (c *Conn) received() (code int, reason string, ok bool) {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return c.recvCode, c.recvReason, c.gotClose
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
		return wsproto.CloseProtocolError, "protocol error", &CorruptedFrameError{Code: wsproto.CloseProtocolError, Reason: err.Error()}
	}
	if pe.Code == wsproto.CloseMessageTooBig {
		return pe.Code, pe.Reason, &PayloadTooLargeError{Reason: pe.Reason}
	}
	return pe.Code, pe.Reason, &CorruptedFrameError{Code: pe.Code, Reason: pe.Reason}
}
