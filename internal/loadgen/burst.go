package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/netkit-go/netkit/internal/wsproto"
)

// Burst is idle mode's burst: one large message per connection, echoed.
type Burst struct {
	// Bytes is the message size.
	Bytes int `json:"bytes"`
	// Echoed counts the connections whose echo came back whole; Errors
	// the ones that failed (the first error is Result.FirstError).
	Echoed int64 `json:"echoed"`
	Errors int64 `json:"errors"`
	// Seconds is how long the burst took, from the first send to the
	// last echo.
	Seconds float64 `json:"seconds"`
	// After is the server sampled right after the burst, Settled after
	// the connections idled again for Config.BurstHold.
	After   ProcSample `json:"after"`
	Settled ProcSample `json:"settled"`
	// HoldSeconds is Config.BurstHold.
	HoldSeconds float64 `json:"hold_seconds"`
	// CPUSeconds is the server's CPU time from the sample before the
	// burst (Server.End) to After.
	CPUSeconds float64 `json:"cpu_seconds"`
	// RSSPerConnAfter and RSSPerConnSettled are (After.RSS - the RSS
	// before connecting) / connections, and the same for Settled; compare
	// with Server.RSSPerConn, the idle figure before the burst.
	RSSPerConnAfter   float64 `json:"rss_per_conn_after_bytes"`
	RSSPerConnSettled float64 `json:"rss_per_conn_settled_bytes"`
}

// burstChunk is how much of a large message is masked and written at once.
const burstChunk = 32 << 10

// burst sends one Config.Burst-byte message on every connection at once
// and awaits every echo, then idles for BurstHold; the server is sampled
// after each. Latencies (send to whole echo) go into the histogram.
func (r *run) burst(ctx context.Context, eps []endpoint, s *sampler, res *Result) {
	b := &Burst{Bytes: r.cfg.Burst, HoldSeconds: r.cfg.BurstHold.Seconds()}
	res.Burst = b
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	payload := makeTemplate(r.cfg.Burst)
	var errs, ok int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i, ep := range eps {
		w, isWS := ep.(*wsConn)
		if !isWS || w == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.echoLarge(ctx, i, w, payload)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				r.fail(fmt.Errorf("burst: %w", err))
				return
			}
			ok++
		}()
	}
	wg.Wait()
	b.Seconds = time.Since(start).Seconds()
	b.Echoed, b.Errors = ok, errs
	r.errs.Add(errs)
	if s != nil {
		if p, err := SampleProc(s.srv.PID); err == nil {
			b.After = p
		}
	}
	t := time.NewTimer(r.cfg.BurstHold)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	if s != nil {
		if p, err := SampleProc(s.srv.PID); err == nil {
			b.Settled = p
		}
	}
}

// echoLarge sends payload (stamped) as one masked binary frame, written in
// chunks, while reading the echo, whose payload is checked for length and
// stamp and discarded: the generator holds no message. Everything is
// bounded by ctx.
func (r *run) echoLarge(ctx context.Context, i int, w *wsConn, payload []byte) error {
	if dl, ok := ctx.Deadline(); ok {
		w.nc.SetDeadline(dl)
		defer w.nc.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { w.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	at := r.now()
	var stamp [8]byte
	binary.LittleEndian.PutUint64(stamp[:], uint64(at))
	got := make(chan error, 1)
	go func() { got <- w.readLarge(len(payload), stamp) }()
	werr := w.writeLarge(payload, stamp)
	rerr := <-got
	if werr != nil {
		return werr
	}
	if rerr != nil {
		return rerr
	}
	us := max(int64((r.now()-at)/time.Microsecond), 1)
	h := &r.hists[i%histShards]
	h.mu.Lock()
	h.h.RecordValue(us)
	h.mu.Unlock()
	r.recv.Add(1)
	return nil
}

// writeLarge writes one masked binary frame of payload, whose first bytes
// are replaced by stamp, burstChunk bytes at a time.
func (w *wsConn) writeLarge(payload []byte, stamp [8]byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	key := wsproto.NewMaskKey()
	h := wsproto.Header{Fin: true, Opcode: wsproto.OpBinary, Masked: true, Key: key, Length: int64(len(payload))}
	buf := make([]byte, 0, 14+burstChunk)
	buf = wsproto.AppendHeader(buf, h)
	pos := 0
	for off := 0; off < len(payload); off += burstChunk {
		chunk := payload[off:min(off+burstChunk, len(payload))]
		n := len(buf)
		buf = append(buf, chunk...)
		if off == 0 {
			copy(buf[n:], stamp[:])
		}
		pos = wsproto.Mask(key, pos, buf[n:])
		if _, err := w.nc.Write(buf); err != nil {
			return err
		}
		buf = buf[:0]
	}
	return nil
}

// readLarge reads the echo of a writeLarge message: data frames (possibly
// fragmented) of n bytes in all, starting with stamp. Pings are answered
// once the write is done (the write lock orders them).
func (w *wsConn) readLarge(n int, stamp [8]byte) error {
	scratch := make([]byte, burstChunk)
	total := 0
	var head []byte
	for range 1 << 20 { // bounded: a message of at most 2^20 frames
		if _, err := io.ReadFull(w.br, w.hdr[:2]); err != nil {
			return err
		}
		fin := w.hdr[0]&0x80 != 0
		op := wsproto.Opcode(w.hdr[0] & 0x0f)
		if w.hdr[0]&0x70 != 0 {
			return errors.New("ws: unexpected RSV bits in an echo")
		}
		if w.hdr[1]&0x80 != 0 {
			return errors.New("ws: masked frame from the server")
		}
		l := int64(w.hdr[1] & 0x7f)
		switch l {
		case 126:
			if _, err := io.ReadFull(w.br, w.hdr[2:4]); err != nil {
				return err
			}
			l = int64(binary.BigEndian.Uint16(w.hdr[2:4]))
		case 127:
			if _, err := io.ReadFull(w.br, w.hdr[2:10]); err != nil {
				return err
			}
			l = int64(binary.BigEndian.Uint64(w.hdr[2:10]))
		}
		if op.IsControl() {
			if l > 125 || !fin {
				return errors.New("ws: bad control frame")
			}
			w.ctrl = growTo(w.ctrl, int(l))
			if _, err := io.ReadFull(w.br, w.ctrl); err != nil {
				return err
			}
			switch op {
			case wsproto.OpPing:
				if err := w.write(wsproto.OpPong, w.ctrl); err != nil {
					return err
				}
			case wsproto.OpClose:
				return fmt.Errorf("ws: server closed during the burst: %w", io.EOF)
			}
			continue
		}
		if l < 0 || int64(total)+l > int64(n) {
			return fmt.Errorf("ws: echo longer than the %d bytes sent", n)
		}
		for left := l; left > 0; {
			k := int(min(left, int64(len(scratch))))
			if _, err := io.ReadFull(w.br, scratch[:k]); err != nil {
				return err
			}
			if len(head) < 8 {
				head = append(head, scratch[:min(k, 8-len(head))]...)
			}
			left -= int64(k)
		}
		total += int(l)
		if fin {
			break
		}
	}
	if total != n {
		return fmt.Errorf("ws: echo of %d bytes, sent %d", total, n)
	}
	if len(head) < 8 || [8]byte(head) != stamp {
		return errors.New("ws: echo with a corrupt stamp")
	}
	return nil
}
