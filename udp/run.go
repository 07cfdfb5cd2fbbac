package udp

import (
	"context"
	"errors"
	"github.com/netkit-go/netkit/internal/goid"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/internal/obs"
)

// run is one Start-to-stop period of a Listener: its socket, read loop and
// workers.
type run struct {
	l         *Listener
	pc        net.PacketConn
	uc        *net.UDPConn // nil: a custom PacketConn (portable loop)
	connected bool
	peer      netip.AddrPort // the connected peer
	opts      sockOpts
	log       *slog.Logger

	stopReq   atomic.Bool
	immediate atomic.Bool
	stopOnce  sync.Once
	stopCh    chan struct{}
	closeOnce sync.Once

	live atomic.Int32 // goroutines still running; the last one finishes the run
	done chan struct{}
	err  error // set by the read loop before it exits

	gmu   sync.Mutex
	goids []uint64

	wmu      sync.Mutex
	wdl      bool            // a write deadline is set on pc (under wmu)
	out      *sendBatch      // replies pending in the current batch (under wmu); nil when unbatched
	rc       syscall.RawConn // uc's, for flushing out
	sendErrs []sendFailure

	queues []chan work
	noGSO  bool
}

// work is a datagram queued for a worker, copied into a pooled buffer.
type work struct {
	bp *[]byte
	n  int
	c  Caller
}

// sendFailure is a reply that a batched send could not deliver.
type sendFailure struct {
	to  netip.AddrPort
	err error
}

func newRun(l *Listener, pc net.PacketConn) *run {
	r := &run{l: l, pc: pc, opts: l.opts, log: l.log, stopCh: make(chan struct{}), done: make(chan struct{}), noGSO: noGSO}
	if uc, ok := pc.(*net.UDPConn); ok {
		r.uc = uc
		if ra, ok := uc.RemoteAddr().(*net.UDPAddr); ok && ra != nil {
			r.connected = true
			r.peer = unmap(ra.AddrPort())
		}
	}
	if n := l.cfg.Workers; n > 0 {
		r.queues = make([]chan work, n)
		for i := range r.queues {
			r.queues[i] = make(chan work, l.queue)
		}
	}
	return r
}

func (r *run) start() {
	r.live.Store(int32(1 + len(r.queues)))
	for _, q := range r.queues {
		go r.worker(q)
	}
	go r.readLoop()
}

// exit is deferred by every goroutine of the run; the last one closes the
// socket and marks the run done.
func (r *run) exit() {
	if r.live.Add(-1) == 0 {
		r.closeConn()
		close(r.done)
	}
}

func (r *run) register() {
	id := goid.Current()
	r.gmu.Lock()
	r.goids = append(r.goids, id)
	r.gmu.Unlock()
}

func (r *run) onOwnGoroutine() bool {
	id := goid.Current()
	r.gmu.Lock()
	defer r.gmu.Unlock()
	for _, g := range r.goids {
		if g == id {
			return true
		}
	}
	return false
}

func (r *run) closeConn() {
	r.closeOnce.Do(func() { _ = r.pc.Close() })
}

// requestStop stops the read loop: gracefully by a past read deadline (the
// socket stays open for replies until the handlers are done), immediately
// by closing the socket.
func (r *run) requestStop(immediate bool) {
	r.stopOnce.Do(func() {
		r.stopReq.Store(true)
		close(r.stopCh)
		_ = r.pc.SetReadDeadline(aLongTimeAgo)
	})
	if immediate {
		r.immediate.Store(true)
		r.closeConn()
	}
}

func (r *run) readLoop() {
	defer r.exit()
	r.register()
	defer func() {
		for _, q := range r.queues {
			close(q)
		}
	}()
	switch {
	case r.uc != nil && r.l.batch > 1 && batchSupported:
		r.err = r.batchLoop()
	case r.uc != nil:
		r.err = r.udpLoop()
	default:
		r.err = r.genericLoop()
	}
}

// udpLoop is the unbatched loop over a *net.UDPConn: one datagram per
// system call, no allocation.
func (r *run) udpLoop() error {
	bp := bufpool.Get(bufpool.Class(r.opts.recvSize))
	defer bufpool.Put(bp)
	buf := (*bp)[:r.opts.recvSize]
	var backoff time.Duration
	for !r.stopReq.Load() {
		n, _, flags, from, err := r.uc.ReadMsgUDPAddrPort(buf, nil)
		if err != nil && !isTruncErr(err) {
			if exit, fatal := r.readFailed(err, &backoff); exit {
				return fatal
			}
			continue
		}
		backoff = 0
		r.l.stats.received.Add(1)
		c := Caller{addr: unmap(from), r: r}
		if err != nil || isTrunc(flags) {
			r.truncated(c)
			continue
		}
		r.deliver(c, buf[:n], nil)
		bufpool.Poison(buf[:n])
	}
	return nil
}

// genericLoop serves any net.PacketConn. It reads into a buffer one byte
// larger than the limit, so that a datagram over the limit is detected
// without help from the system.
func (r *run) genericLoop() error {
	bp := bufpool.Get(bufpool.Class(r.opts.recvSize + 1))
	defer bufpool.Put(bp)
	buf := (*bp)[:r.opts.recvSize+1]
	var backoff time.Duration
	for !r.stopReq.Load() {
		n, addr, err := r.pc.ReadFrom(buf)
		if err != nil {
			if exit, fatal := r.readFailed(err, &backoff); exit {
				return fatal
			}
			continue
		}
		backoff = 0
		r.l.stats.received.Add(1)
		c := Caller{addr: addrPortOf(addr), raw: addr, r: r}
		if n > r.opts.recvSize {
			r.truncated(c)
			continue
		}
		r.deliver(c, buf[:n], nil)
		bufpool.Poison(buf[:n])
	}
	return nil
}

// readFailed decides what a read error means: exit (with a fatal error, or
// nil when a stop was requested), or go on after reporting it.
func (r *run) readFailed(err error, backoff *time.Duration) (exit bool, fatal error) {
	if r.stopReq.Load() {
		return true, nil
	}
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return true, &Error{Op: "receive", Msg: msgRead, Err: err}
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// Not ours: clear it, then look again, so that a stop requested
		// meanwhile is not lost.
		_ = r.pc.SetReadDeadline(time.Time{})
		return r.stopReq.Load(), nil
	}
	if isICMPError(err) {
		r.reportErr(r.l.h.Load(), Caller{addr: r.peer, r: r}, &Error{Op: "receive", Msg: msgUnreachable, Err: err})
		return false, nil
	}
	r.reportErr(r.l.h.Load(), Caller{addr: r.peer, r: r}, &Error{Op: "receive", Msg: msgRead, Err: err})
	if *backoff == 0 {
		*backoff = 5 * time.Millisecond
	} else {
		*backoff = min(2**backoff, time.Second)
	}
	t := time.NewTimer(*backoff)
	defer t.Stop()
	select {
	case <-t.C:
		return false, nil
	case <-r.stopCh:
		return true, nil
	}
}

// isICMPError reports errors that a received ICMP message leaves on the
// socket (a connected socket's peer unreachable, for example).
func isICMPError(err error) bool {
	for _, e := range icmpErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// deliver hands one received datagram to a worker or to the service.
// stable, when not nil, is the receive buffer data lives in until the batch
// ends (replies pointing into it need no copy).
func (r *run) deliver(c Caller, data, stable []byte) {
	r.opts.obs.Received(obs.MsgNone, len(data))
	if r.queues != nil {
		r.enqueue(c, data)
		return
	}
	h := r.l.h.Load()
	if h == nil {
		r.l.stats.dropped.Add(1)
		return
	}
	r.dispatch(h, c, data, stable)
}

func (r *run) enqueue(c Caller, data []byte) {
	q := r.queues[peerHash(c)%uint32(len(r.queues))]
	bp := bufpool.Get(bufpool.Class(len(data)))
	n := copy(*bp, data)
	select {
	case q <- work{bp: bp, n: n, c: c}:
	default:
		bufpool.Put(bp)
		r.l.stats.dropped.Add(1)
	}
}

// peerHash is FNV-1a over the sender's address and port.
func peerHash(c Caller) uint32 {
	h := uint32(2166136261)
	if !c.addr.IsValid() && c.raw != nil {
		for _, b := range []byte(c.raw.String()) {
			h = (h ^ uint32(b)) * 16777619
		}
		return h
	}
	a := c.addr.Addr().As16()
	for _, b := range a {
		h = (h ^ uint32(b)) * 16777619
	}
	p := c.addr.Port()
	h = (h ^ uint32(p>>8)) * 16777619
	h = (h ^ uint32(p&0xff)) * 16777619
	return h
}

func (r *run) worker(q chan work) {
	defer r.exit()
	r.register()
	for w := range q {
		if r.immediate.Load() {
			bufpool.Put(w.bp)
			continue
		}
		h := r.l.h.Load()
		if h == nil {
			r.l.stats.dropped.Add(1)
			bufpool.Put(w.bp)
			continue
		}
		r.dispatch(h, w.c, (*w.bp)[:w.n], nil)
		bufpool.Put(w.bp)
	}
}

// dispatch runs the service for one datagram and sends its reply.
func (r *run) dispatch(h *handler, c Caller, data, stable []byte) {
	reply, to, raw, err := r.call(h, c, data)
	if err != nil {
		r.handlerFailed(h, c, err)
	}
	if reply == nil {
		return
	}
	if r.out != nil {
		r.queueReply(h, c, reply, to, stable)
		return
	}
	if err := r.write(context.Background(), reply, to, raw); err != nil {
		r.sendFailed(h, Caller{addr: to, raw: raw, r: r}, err)
	}
}

// call invokes the handler, recovering a panic.
func (r *run) call(h *handler, c Caller, data []byte) (reply []byte, to netip.AddrPort, raw net.Addr, err error) {
	defer func() {
		if v := recover(); v != nil {
			reply = nil
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	if h.bytes != nil {
		reply, err = h.bytes.OnBytes(c, data)
		return reply, c.addr, c.raw, err
	}
	d, err := h.dgram.OnDatagram(c, Datagram{Addr: c.addr, Data: data})
	if !d.Addr.IsValid() || d.Addr == c.addr {
		return d.Data, c.addr, c.raw, err
	}
	return d.Data, d.Addr, nil, err
}

func (r *run) handlerFailed(h *handler, c Caller, err error) {
	r.l.stats.errors.Add(1)
	r.opts.obs.Error(handlerKind(err))
	if pe, ok := err.(*PanicError); ok {
		r.log.Error("udp: handler panic", "remote", c.addr, "panic", pe.Value, "stack", string(pe.Stack))
	} else {
		r.log.Error("udp: handler error", "remote", c.addr, "err", err)
	}
	r.reportErr(h, c, err)
}

func (r *run) sendFailed(h *handler, c Caller, err error) {
	if r.immediate.Load() && errors.Is(err, net.ErrClosed) {
		return // ImmediateStop closed the socket under a pending reply
	}
	r.l.stats.errors.Add(1)
	r.opts.obs.SendError(err)
	r.log.Warn("udp: reply not sent", "remote", c.addr, "err", err)
	r.reportErr(h, c, err)
}

func (r *run) truncated(c Caller) {
	r.l.stats.truncated.Add(1)
	r.opts.obs.Truncated()
	r.log.Debug("udp: datagram truncated", "remote", c.addr, "limit", r.opts.recvSize)
	r.reportErr(r.l.h.Load(), c, &Error{Op: "receive", Msg: msgTruncated, Err: ErrTruncated})
}

// reportErr calls OnError, if the service has it, recovering a panic.
func (r *run) reportErr(h *handler, c Caller, err error) {
	if h == nil || h.onErr == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("udp: OnError panic", "remote", c.addr, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	h.onErr.OnError(c, err)
}

// write sends data to `to` (raw for custom PacketConns) under the write
// lock, after any replies pending in a batch.
func (r *run) write(ctx context.Context, data []byte, to netip.AddrPort, raw net.Addr) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.opts.checkSize(len(data)); err != nil {
		return &Error{Op: "send", Msg: msgSend, Err: err}
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.out != nil && r.out.n > 0 {
		r.flushLocked()
	}
	if dl, ok := ctx.Deadline(); ok {
		if err := r.pc.SetWriteDeadline(dl); err != nil {
			return sendError(ctx, err)
		}
		r.wdl = true
	} else if r.wdl {
		if err := r.pc.SetWriteDeadline(time.Time{}); err != nil {
			return sendError(ctx, err)
		}
		r.wdl = false
	}
	for off := 0; ; {
		end := off + r.opts.chunk(len(data)-off)
		if err := r.writeOne(data[off:end], to, raw); err != nil {
			return sendError(ctx, err)
		}
		r.opts.obs.Sent(obs.MsgNone, end-off)
		off = end
		if off >= len(data) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return sendError(ctx, err)
		}
	}
}

func (r *run) writeOne(p []byte, to netip.AddrPort, raw net.Addr) error {
	switch {
	case r.connected:
		if to != r.peer {
			return net.ErrWriteToConnected
		}
		_, err := r.uc.Write(p)
		return err
	case r.uc != nil:
		_, err := r.uc.WriteToUDPAddrPort(p, to)
		return err
	case raw != nil:
		_, err := r.pc.WriteTo(p, raw)
		return err
	default:
		_, err := r.pc.WriteTo(p, net.UDPAddrFromAddrPort(to))
		return err
	}
}

// handlerKind is the error.type of a handler's failure.
func handlerKind(err error) string {
	if _, ok := err.(*PanicError); ok {
		return obs.KindPanic
	}
	return obs.KindHandler
}
