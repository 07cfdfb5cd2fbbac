package loadgen

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/netkit-go/netkit/internal/wsproto"
)

// maxWSMessage bounds a message the client accepts.
const maxWSMessage = 64 << 20

type wsTarget struct {
	host string // host:port to dial
	path string // request URI
	tls  bool   // wss://
}

func parseWSTarget(s string) (wsTarget, error) {
	if !strings.Contains(s, "://") {
		s = "ws://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return wsTarget{}, fmt.Errorf("loadgen: bad ws target: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return wsTarget{}, fmt.Errorf("loadgen: scheme %q not supported (ws or wss)", u.Scheme)
	}
	if u.Port() == "" {
		return wsTarget{}, errors.New("loadgen: ws target needs a port")
	}
	path := u.RequestURI()
	if path == "" {
		path = "/"
	}
	return wsTarget{host: u.Host, path: path, tls: u.Scheme == "wss"}, nil
}

// wsConn is a minimal RFC 6455 client connection: masked frames out, a
// frame reader in, pings answered, no library's client code involved.
type wsConn struct {
	nc   net.Conn
	br   *bufio.Reader
	text bool

	wmu  sync.Mutex
	wbuf []byte
	cbuf []byte // compressed message scratch
	comp *wsproto.Compressor

	dec  *wsproto.Decompressor
	hdr  [14]byte
	msg  []byte // reassembled message
	out  []byte // decompressed message
	ctrl []byte
}

// handshakeRequest builds the upgrade request.
func handshakeRequest(t wsTarget, key, compress string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", t.path, t.host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	switch compress {
	case CompressNoTakeover:
		b.WriteString("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n")
	case CompressTakeover:
		b.WriteString("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

func newKey() string {
	var k [16]byte
	rand.Read(k[:])
	return base64.StdEncoding.EncodeToString(k[:])
}

// dialRaw opens the transport of one WebSocket connection: TCP, and TLS
// for a wss:// target. rcvbuf > 0 sets SO_RCVBUF before connecting. The
// connection keeps ctx's deadline, if any.
func (r *run) dialRaw(ctx context.Context, rcvbuf int) (net.Conn, error) {
	dd := r.dialer
	if rcvbuf > 0 {
		dd.Control = func(network, address string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return errors.Join(err, serr)
		}
	}
	nc, err := dd.DialContext(ctx, "tcp", r.wsURL.host)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	if r.tls == nil {
		return nc, nil
	}
	tc := tls.Client(nc, r.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	r.noteTLS(tc.ConnectionState())
	return tc, nil
}

// dialWS connects and upgrades. rcvbuf > 0 sets SO_RCVBUF before connecting.
func (r *run) dialWS(ctx context.Context, rcvbuf int) (*wsConn, error) {
	if r.h2Groups != nil {
		return r.dialH2WS(ctx)
	}
	t, compress := r.wsURL, r.cfg.Compress
	nc, err := r.dialRaw(ctx, rcvbuf)
	if err != nil {
		return nil, err
	}
	key := newKey()
	if _, err := nc.Write(handshakeRequest(t, key, compress)); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, fmt.Errorf("handshake: status %s", resp.Status)
	}
	if resp.Header.Get("Sec-WebSocket-Accept") != wsproto.AcceptKey(key) {
		nc.Close()
		return nil, errors.New("handshake: wrong Sec-WebSocket-Accept")
	}
	nc.SetDeadline(time.Time{})
	w := &wsConn{nc: nc, br: br, text: r.cfg.Text}
	if ext := strings.ToLower(strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ",")); strings.Contains(ext, "permessage-deflate") {
		if compress == "" {
			nc.Close()
			return nil, errors.New("handshake: server chose permessage-deflate unoffered")
		}
		// The client never keeps its context (it offered
		// client_no_context_takeover); the server keeps its own unless it
		// said server_no_context_takeover.
		w.comp = wsproto.NewCompressorLevel(1, -1, false)
		w.dec = wsproto.NewDecompressorTakeover(!strings.Contains(ext, "server_no_context_takeover"))
	}
	return w, nil
}

// write sends one masked frame carrying a whole message.
func (w *wsConn) write(op wsproto.Opcode, p []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	rsv1 := false
	if w.comp != nil && op.IsData() {
		var ok bool
		w.cbuf, ok = w.comp.Compress(w.cbuf[:0], p)
		if ok {
			p, rsv1 = w.cbuf, true
		}
	}
	var key [4]byte
	rand.Read(key[:])
	h := wsproto.Header{Fin: true, Rsv1: rsv1, Opcode: op, Masked: true, Key: key, Length: int64(len(p))}
	b := wsproto.AppendHeader(w.wbuf[:0], h)
	n := len(b)
	b = append(b, p...)
	wsproto.Mask(key, 0, b[n:])
	w.wbuf = b
	_, err := w.nc.Write(b)
	return err
}

func (w *wsConn) send(msg []byte) error {
	op := wsproto.OpBinary
	if w.text {
		op = wsproto.OpText
	}
	return w.write(op, msg)
}

func (w *wsConn) writeClose() {
	w.nc.SetWriteDeadline(time.Now().Add(time.Second))
	w.write(wsproto.OpClose, wsproto.AppendClosePayload(nil, 1000, ""))
}

// recv reads frames until a whole data message arrived; pings are
// answered and a close frame ends the connection with io.EOF.
func (w *wsConn) recv() ([]byte, error) {
	w.msg = w.msg[:0]
	compressed := false
	started := false
	for range 1 << 20 { // bounded: a message of at most 2^20 frames
		if _, err := io.ReadFull(w.br, w.hdr[:2]); err != nil {
			return nil, err
		}
		fin := w.hdr[0]&0x80 != 0
		rsv1 := w.hdr[0]&0x40 != 0
		op := wsproto.Opcode(w.hdr[0] & 0x0f)
		masked := w.hdr[1]&0x80 != 0
		n := int64(w.hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(w.br, w.hdr[2:4]); err != nil {
				return nil, err
			}
			n = int64(binary.BigEndian.Uint16(w.hdr[2:4]))
		case 127:
			if _, err := io.ReadFull(w.br, w.hdr[2:10]); err != nil {
				return nil, err
			}
			n = int64(binary.BigEndian.Uint64(w.hdr[2:10]))
		}
		if n < 0 || int64(len(w.msg))+n > maxWSMessage {
			return nil, errors.New("ws: message too large")
		}
		var key [4]byte
		if masked {
			if _, err := io.ReadFull(w.br, key[:]); err != nil {
				return nil, err
			}
		}
		if op.IsControl() {
			if n > 125 || !fin {
				return nil, errors.New("ws: bad control frame")
			}
			w.ctrl = growTo(w.ctrl, int(n))
			if _, err := io.ReadFull(w.br, w.ctrl); err != nil {
				return nil, err
			}
			if masked {
				wsproto.Mask(key, 0, w.ctrl)
			}
			switch op {
			case wsproto.OpPing:
				if err := w.write(wsproto.OpPong, w.ctrl); err != nil {
					return nil, err
				}
			case wsproto.OpClose:
				code := 1005
				if len(w.ctrl) >= 2 {
					code = int(binary.BigEndian.Uint16(w.ctrl))
				}
				w.write(wsproto.OpClose, w.ctrl[:min(len(w.ctrl), 2)])
				return nil, fmt.Errorf("ws: server closed (%d): %w", code, io.EOF)
			}
			continue
		}
		switch {
		case op == wsproto.OpContinuation && !started, op != wsproto.OpContinuation && started:
			return nil, errors.New("ws: bad fragmentation")
		case !op.Known():
			return nil, fmt.Errorf("ws: unknown opcode %d", op)
		}
		if !started {
			started, compressed = true, rsv1
		}
		off := len(w.msg)
		w.msg = growTo(w.msg, off+int(n))
		if _, err := io.ReadFull(w.br, w.msg[off:]); err != nil {
			return nil, err
		}
		if masked {
			wsproto.Mask(key, 0, w.msg[off:])
		}
		if !fin {
			continue
		}
		if compressed {
			if w.dec == nil {
				return nil, errors.New("ws: compressed frame without permessage-deflate")
			}
			var err error
			w.out, err = w.dec.Decompress(w.out[:0], w.msg, maxWSMessage)
			if err != nil {
				return nil, err
			}
			return w.out, nil
		}
		return w.msg, nil
	}
	return nil, errors.New("ws: too many fragments")
}

func growTo(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	nb := make([]byte, n, max(n, 2*cap(b)))
	copy(nb, b)
	return nb
}

func (w *wsConn) setReadDeadline(t time.Time) error { return w.nc.SetReadDeadline(t) }
func (w *wsConn) close() error                      { return w.nc.Close() }

// slowMax bounds a slow connection's request: well under every server's
// header limit (8 KiB for netkit), and at 10 bytes per second longer than
// any run.
const slowMax = 4000

// slowRequest is an upgrade request that never ends: the handshake's
// header lines, then more header lines ("X-Slow-N: N"), never the blank
// line that would complete it.
func slowRequest(t wsTarget) []byte {
	req := handshakeRequest(t, newKey(), "")
	req = req[:len(req)-2]
	for i := 0; len(req) < slowMax-32; i++ {
		req = fmt.Appendf(req, "X-Slow-%d: %d\r\n", i, i)
	}
	return req
}

// slowloris opens the Slow connections, each trickling an upgrade request
// that never completes, one byte per SlowInterval, until the window ends
// or the server closes it; the time from connecting to the server's close
// is recorded.
func (r *run) slowloris(ctx context.Context, wg *sync.WaitGroup) {
	req := slowRequest(r.wsURL)
	for range r.cfg.Slow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, r.cfg.DialTimeout)
			nc, err := r.dialRaw(dctx, 0)
			cancel()
			if err != nil {
				return
			}
			nc.SetDeadline(time.Time{})
			defer nc.Close()
			opened := time.Now()
			r.slowOpen.Add(1)
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				nc.SetReadDeadline(r.deadline(r.end))
				var b [512]byte
				for range 1 << 16 { // bounded; ends with an error or EOF
					if _, err := nc.Read(b[:]); err != nil {
						if !errors.Is(err, osErrDeadline) && !errors.Is(err, net.ErrClosed) {
							r.slowShut.Add(1)
							r.slowMu.Lock()
							r.slowTimes = append(r.slowTimes, time.Since(opened))
							r.slowMu.Unlock()
						}
						return
					}
				}
			}()
			t := time.NewTicker(r.cfg.SlowInterval)
			defer t.Stop()
		trickle:
			for i := range req { // never completes the request
				select {
				case <-t.C:
				case <-closed:
					return
				case <-ctx.Done():
					break trickle
				}
				if r.now() >= r.end {
					break
				}
				nc.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := nc.Write(req[i : i+1]); err != nil {
					break // the server closed it: the reader sees why
				}
			}
			if ctx.Err() != nil {
				nc.SetReadDeadline(time.Unix(1, 0))
			}
			<-closed
		}()
	}
}

// stalledRcvbuf is a stalled subscriber's SO_RCVBUF (the kernel doubles
// it): tiny, so that the server's side fills first.
const stalledRcvbuf = 4096

// broadcast is the broadcast mode.
func (r *run) broadcast(ctx context.Context, res *Result) error {
	stop := r.progress(ctx)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := r.cfg.Conns
	subs := make([]endpoint, n)
	// Stalled subscribers first, with a small receive buffer.
	for i := 0; i < r.cfg.Stalled; i++ {
		dctx, c := context.WithTimeout(ctx, r.cfg.DialTimeout)
		w, err := r.dialWS(dctx, stalledRcvbuf)
		c()
		if err != nil {
			r.connErrs.Add(1)
			r.fail(fmt.Errorf("connect: %w", err))
			continue
		}
		r.conns.Add(1)
		subs[i] = w
	}
	rest, comp := r.connectAll(ctx, n-r.cfg.Stalled, r.connectLimit())
	copy(subs[r.cfg.Stalled:], rest)
	defer closeAll(subs)
	res.Compressed = comp
	pubEP, _, err := r.connect(ctx)
	if err != nil {
		r.connErrs.Add(1)
		return fmt.Errorf("loadgen: publisher: %w", err)
	}
	r.conns.Add(1)
	pub := pubEP.(*wsConn)
	defer pub.close()
	r.setWindow()
	var wg sync.WaitGroup
	s := r.newSampler(res)
	s.atWindow(ctx, &wg)
	monCtx, monStop := context.WithCancel(ctx)
	monDone := make(chan struct{})
	if r.cfg.Stalled > 0 {
		m := r.newStallMonitor(subs[:r.cfg.Stalled])
		res.Stall = m.res
		go func() { defer close(monDone); m.run(monCtx, r.end+grace) }()
	} else {
		close(monDone)
	}
	defer func() { monStop(); <-monDone }()
	stopWatch := context.AfterFunc(ctx, func() {
		for _, ep := range subs {
			if ep != nil {
				ep.setReadDeadline(time.Unix(1, 0))
			}
		}
	})
	defer stopWatch()
	for i := r.cfg.Stalled; i < n; i++ {
		ep := subs[i]
		if ep == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ep.setReadDeadline(r.deadline(r.end + grace))
			for range 1 << 30 {
				p, err := ep.recv()
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, osErrDeadline) {
						r.errs.Add(1)
						r.fail(fmt.Errorf("subscriber: %w", err))
					}
					return
				}
				at, err := r.stampOf(p)
				if err != nil {
					r.errs.Add(1)
					r.fail(err)
					return
				}
				r.record(i, at)
			}
		}()
	}
	// The publisher also drains what the server sends back to it, if
	// anything, so that it never stalls itself.
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		pub.setReadDeadline(r.deadline(r.end + grace))
		for range 1 << 30 {
			if _, err := pub.recv(); err != nil {
				return
			}
		}
	}()
	msg := make([]byte, r.cfg.Payload)
	copy(msg, r.template)
	interval := time.Duration(float64(time.Second) / r.cfg.Rate)
	t := time.NewTimer(time.Hour)
	for k := int64(0); ctx.Err() == nil; k++ {
		at := r.t0 + time.Duration(k)*interval
		if at >= r.end || !r.ticket() {
			break
		}
		if wait := time.Until(r.deadline(at)); wait > 0 {
			t.Reset(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
		r.stamp(msg, at)
		if err := pub.send(msg); err != nil {
			r.errs.Add(1)
			r.fail(fmt.Errorf("publish: %w", err))
			break
		}
		r.sent.Add(1)
		if at >= r.mStart {
			r.published.Add(1)
		}
	}
	t.Stop()
	r.markDone()
	s.take(true)
	// Give deliveries in flight up to the grace period, then stop reading.
	due := r.sent.Load() * (r.conns.Load() - 1 - int64(r.cfg.Stalled))
	for i := 0; i < int(grace/(10*time.Millisecond)) && r.recv.Load() < due && ctx.Err() == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	for _, ep := range subs {
		if ep != nil {
			ep.setReadDeadline(time.Unix(1, 0))
		}
	}
	wg.Wait()
	pub.setReadDeadline(time.Unix(1, 0))
	<-pubDone
	// The stall monitor looks until the grace period ends.
	if r.cfg.Stalled > 0 {
		t := time.NewTimer(max(time.Until(r.deadline(r.end+grace)), 0))
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	monStop()
	<-monDone
	return ctx.Err()
}
