//go:build linux

package udp

import (
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/internal/obs"
	"golang.org/x/sys/unix"
)

// batchSupported: the read loop can use recvmmsg and sendmmsg.
const batchSupported = true

// recvBatch holds what one recvmmsg call needs, allocated once per run:
// headers, iovecs, address buffers and one receive buffer per message.
type recvBatch struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	bufs  []*[]byte
	size  int
	n     int           // messages received by the last call
	errno syscall.Errno // the last call's error
	fn    func(fd uintptr) bool
}

func newRecvBatch(n, size int) *recvBatch {
	b := &recvBatch{
		hdrs:  make([]unix.Mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet6, n),
		bufs:  make([]*[]byte, n),
		size:  size,
	}
	for i := range n {
		bp := bufpool.Get(bufpool.Class(size))
		b.bufs[i] = bp
		b.iovs[i].Base = &(*bp)[0]
		b.iovs[i].SetLen(size)
		b.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.SetIovlen(1)
	}
	b.fn = b.recv
	return b
}

func (b *recvBatch) release() {
	for i, bp := range b.bufs {
		b.iovs[i].Base = nil
		bufpool.Put(bp)
	}
	b.bufs = nil
}

// recv is the RawConn.Read callback: one non-blocking recvmmsg; false asks
// the runtime to wait for readability.
func (b *recvBatch) recv(fd uintptr) bool {
	for i := range b.hdrs {
		b.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		b.hdrs[i].Hdr.Flags = 0
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			b.n, b.errno = int(n), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			b.n, b.errno = 0, e
			return true
		}
	}
}

func (b *recvBatch) data(i int) []byte { return (*b.bufs[i])[:b.hdrs[i].Len] }
func (b *recvBatch) slot(i int) []byte { return (*b.bufs[i])[:b.size] }
func (b *recvBatch) truncated(i int) bool {
	return b.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0
}

func (b *recvBatch) addr(i int) netip.AddrPort {
	sa := &b.names[i]
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), portOf(&sa4.Port))
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr)
		if a.Is4In6() {
			a = a.Unmap()
		} else if sa.Scope_id != 0 {
			a = a.WithZone(zoneName(sa.Scope_id))
		}
		return netip.AddrPortFrom(a, portOf(&sa.Port))
	}
	return netip.AddrPort{}
}

// portOf reads a port stored in network byte order.
func portOf(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

func zoneName(idx uint32) string {
	if ifi, err := net.InterfaceByIndex(int(idx)); err == nil {
		return ifi.Name
	}
	return strconv.FormatUint(uint64(idx), 10)
}

func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	n, _ := strconv.ParseUint(zone, 10, 32)
	return uint32(n)
}

// sendBatch collects the replies of one receive batch for one sendmmsg
// call. Replies that do not point into their datagram's receive buffer are
// copied into an arena, so that handlers may reuse their memory at once.
//
// Runs of datagrams to the same peer with the same size (the last may be
// shorter) leave as one UDP GSO message (UDP_SEGMENT, Linux 4.18+): the
// kernel routes them once and splits them into datagrams as it delivers
// them, and the peer sees ordinary datagrams. If a GSO send fails (an old
// kernel, or segments larger than the path MTU allows), GSO is turned off
// for the rest of the run and the datagrams are sent one by one.
type sendBatch struct {
	// one entry per datagram
	iovs     []unix.Iovec
	dests    []netip.AddrPort
	names    []unix.RawSockaddrInet6
	namelens []uint32
	n        int

	// one message per sendmmsg slot, built at flush
	hdrs  []unix.Mmsghdr
	first []int // the message's first entry
	ctrl  []byte
	m     int

	arena     *[]byte
	used      int
	family    int
	connected bool
	gso       bool

	next  int // next message to send
	fails []sendFailure
	fn    func(fd uintptr) bool
}

const (
	arenaSize   = 64 << 10
	gsoMaxSegs  = 64    // UDP_MAX_SEGMENTS
	gsoMaxBytes = 65000 // a GSO message is one IP packet before segmentation
)

var cmsgSpace = unix.CmsgSpace(2)

// noGSO turns GSO off for listeners started afterwards (benchmarks compare).
var noGSO bool

func newSendBatch(n, family int, connected bool) *sendBatch {
	s := &sendBatch{
		iovs:      make([]unix.Iovec, n),
		dests:     make([]netip.AddrPort, n),
		names:     make([]unix.RawSockaddrInet6, n),
		namelens:  make([]uint32, n),
		hdrs:      make([]unix.Mmsghdr, n),
		first:     make([]int, n),
		ctrl:      make([]byte, n*cmsgSpace),
		arena:     bufpool.Get(bufpool.Class(arenaSize)),
		family:    family,
		connected: connected,
		gso:       true,
	}
	for i := range n {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&s.ctrl[i*cmsgSpace]))
		h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
		h.SetLen(unix.CmsgLen(2))
	}
	s.fn = s.send
	return s
}

func (s *sendBatch) release() {
	bufpool.Put(s.arena)
	s.arena = nil
}

// add queues p, split into datagrams of at most maxSize bytes, for `to`.
// It copies p into the arena unless p lies within stable. It returns false
// when the batch has no room (flush and retry; if it still fails, send p
// directly).
func (s *sendBatch) add(p []byte, to netip.AddrPort, stable []byte, o *sockOpts) (bool, error) {
	frags := 1
	if o.maxSize > 0 && len(p) > o.maxSize {
		frags = (len(p) + o.maxSize - 1) / o.maxSize
	}
	if s.n+frags > len(s.iovs) {
		return false, nil
	}
	if !within(p, stable) {
		if s.used+len(p) > len(*s.arena) {
			return false, nil
		}
		q := (*s.arena)[s.used : s.used+len(p)]
		copy(q, p)
		s.used += len(p)
		p = q
	}
	var namelen uint32
	if !s.connected {
		var err error
		if namelen, err = putSockaddr(&s.names[s.n], s.family, to); err != nil {
			return true, err
		}
	}
	first := s.n
	for off := 0; ; {
		end := off + o.chunk(len(p)-off)
		if end > off {
			s.iovs[s.n].Base = &p[off]
		} else {
			s.iovs[s.n].Base = nil
		}
		s.iovs[s.n].SetLen(end - off)
		s.dests[s.n] = to
		if s.n != first {
			s.names[s.n] = s.names[first]
		}
		s.namelens[s.n] = namelen
		s.n++
		off = end
		if off >= len(p) {
			return true, nil
		}
	}
}

// build turns entries from entry `from` on into messages, from message
// slot `m` on, grouping GSO runs while s.gso is on.
func (s *sendBatch) build(from, m int) {
	for i := from; i < s.n; m++ {
		j := i + 1
		seg := s.iovs[i].Len
		if s.gso && seg > 0 {
			total := seg
			for j < s.n && j-i < gsoMaxSegs && s.dests[j] == s.dests[i] {
				l := s.iovs[j].Len
				if l == 0 || l > seg || total+l > gsoMaxBytes {
					break
				}
				total += l
				j++
				if l < seg { // only the last segment may be shorter
					break
				}
			}
		}
		h := &s.hdrs[m].Hdr
		if s.connected {
			h.Name, h.Namelen = nil, 0
		} else {
			h.Name, h.Namelen = (*byte)(unsafe.Pointer(&s.names[i])), s.namelens[i]
		}
		h.Iov = &s.iovs[i]
		h.SetIovlen(j - i)
		if j-i > 1 {
			c := s.ctrl[m*cmsgSpace : (m+1)*cmsgSpace]
			*(*uint16)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = uint16(seg)
			h.Control = &c[0]
			h.SetControllen(cmsgSpace)
		} else {
			h.Control = nil
			h.SetControllen(0)
		}
		s.first[m] = i
		i = j
	}
	s.m = m
}

// within reports whether p lies inside buf.
func within(p, buf []byte) bool {
	if len(p) == 0 || len(buf) == 0 {
		return len(p) == 0
	}
	ps := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	bs := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return ps >= bs && ps+uintptr(len(p)) <= bs+uintptr(len(buf))
}

func putSockaddr(sa *unix.RawSockaddrInet6, family int, to netip.AddrPort) (uint32, error) {
	a := to.Addr()
	if family == unix.AF_INET {
		a = a.Unmap()
		if !a.Is4() {
			return 0, &net.AddrError{Err: "IPv6 address on an IPv4 socket", Addr: a.String()}
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		putPort(&sa4.Port, to.Port())
		return unix.SizeofSockaddrInet4, nil
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16(), Scope_id: zoneIndex(a.Zone())}
	putPort(&sa.Port, to.Port())
	return unix.SizeofSockaddrInet6, nil
}

// send is the RawConn.Write callback: sendmmsg until every message is sent
// or has failed; false asks the runtime to wait for writability.
func (s *sendBatch) send(fd uintptr) bool {
	for s.next < s.m {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.hdrs[s.next])), uintptr(s.m-s.next), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			if n == 0 {
				return false
			}
			s.next += int(n)
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			if s.hdrs[s.next].Hdr.Controllen != 0 {
				// A GSO message failed: no GSO from here on; rebuild the
				// rest as single datagrams and try again.
				s.gso = false
				s.build(s.first[s.next], s.next)
				continue
			}
			s.fails = append(s.fails, sendFailure{to: s.dests[s.first[s.next]], err: os.NewSyscallError("sendmmsg", e)})
			s.next++
		}
	}
	return true
}

// countSent counts the batch's datagrams as sent, less those of failed
// messages (each failed message counted as one datagram, its bytes as the
// batch's mean).
func (s *sendBatch) countSent(o *obs.Set, failed int) {
	if !o.Metrics() || s.n == 0 {
		return
	}
	var bytes int
	for i := range s.n {
		bytes += int(s.iovs[i].Len)
	}
	ok := max(s.n-failed, 0)
	o.SentN(ok, bytes*ok/s.n)
}

// failRest records every message not yet sent as failed with err.
func (s *sendBatch) failRest(err error) {
	for ; s.next < s.m; s.next++ {
		s.fails = append(s.fails, sendFailure{to: s.dests[s.first[s.next]], err: err})
	}
}

func (s *sendBatch) reset() {
	for i := range s.n {
		s.iovs[i].Base = nil
	}
	s.n, s.m, s.used, s.next = 0, 0, 0, 0
}

// sockFamily returns the socket's address family (AF_INET or AF_INET6).
func sockFamily(rc syscall.RawConn) int {
	family := unix.AF_INET6
	_ = rc.Control(func(fd uintptr) {
		if f, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); err == nil {
			family = f
		}
	})
	return family
}

// batchLoop is the Linux read loop: recvmmsg into a batch of buffers,
// dispatch each datagram, and send the batch's replies with sendmmsg.
func (r *run) batchLoop() error {
	rc, err := r.uc.SyscallConn()
	if err != nil {
		return err
	}
	rb := newRecvBatch(r.l.batch, r.opts.recvSize)
	defer rb.release()
	if r.queues == nil {
		out := newSendBatch(max(2*r.l.batch, 16), sockFamily(rc), r.connected)
		out.gso = !r.noGSO
		r.wmu.Lock()
		r.out, r.rc = out, rc
		r.wmu.Unlock()
		defer func() {
			r.wmu.Lock()
			r.out = nil
			r.wmu.Unlock()
			out.release()
		}()
	}
	var backoff time.Duration
	for !r.stopReq.Load() {
		err := rc.Read(rb.fn)
		if err == nil && rb.errno != 0 {
			err = os.NewSyscallError("recvmmsg", rb.errno)
		}
		if err != nil {
			if exit, fatal := r.readFailed(err, &backoff); exit {
				return fatal
			}
			continue
		}
		backoff = 0
		r.l.stats.received.Add(uint64(rb.n))
		for i := 0; i < rb.n; i++ {
			c := Caller{addr: rb.addr(i), r: r}
			if rb.truncated(i) {
				r.truncated(c)
				continue
			}
			r.deliver(c, rb.data(i), rb.slot(i))
		}
		if r.queues == nil {
			r.endBatch()
		}
		if bufpool.Debug {
			for i := 0; i < rb.n; i++ {
				bufpool.Poison(rb.data(i))
			}
		}
	}
	return nil
}

// queueReply adds a reply to the current batch.
func (r *run) queueReply(h *handler, c Caller, reply []byte, to netip.AddrPort, stable []byte) {
	if err := r.opts.checkSize(len(reply)); err != nil {
		r.sendFailed(h, Caller{addr: to, r: r}, &Error{Op: "send", Msg: msgSend, Err: err})
		return
	}
	if r.connected && to != r.peer {
		r.sendFailed(h, Caller{addr: to, r: r}, &Error{Op: "send", Msg: msgSend, Err: net.ErrWriteToConnected})
		return
	}
	r.wmu.Lock()
	ok, err := r.out.add(reply, to, stable, &r.opts)
	if !ok && err == nil {
		r.flushLocked()
		ok, err = r.out.add(reply, to, stable, &r.opts)
	}
	if !ok && err == nil { // larger than the arena: send it on its own
		r.clearWriteDeadlineLocked()
		for off := 0; ; {
			end := off + r.opts.chunk(len(reply)-off)
			if err = r.writeOne(reply[off:end], to, nil); err != nil {
				break
			}
			r.opts.obs.Sent(obs.MsgNone, end-off)
			if off = end; off >= len(reply) {
				break
			}
		}
	}
	r.wmu.Unlock()
	if err != nil {
		r.sendFailed(h, Caller{addr: to, r: r}, &Error{Op: "send", Msg: msgSend, Err: err})
	}
}

func (r *run) clearWriteDeadlineLocked() {
	if r.wdl {
		_ = r.pc.SetWriteDeadline(time.Time{})
		r.wdl = false
	}
}

// flushLocked sends the pending replies; r.wmu is held. Failures are kept
// for endBatch to report on the read loop.
func (r *run) flushLocked() {
	s := r.out
	if s == nil || s.n == 0 {
		return
	}
	r.clearWriteDeadlineLocked()
	if s.n == 1 { // one reply (light load): sendto is cheaper than sendmmsg
		var p []byte
		if s.iovs[0].Base != nil {
			p = unsafe.Slice(s.iovs[0].Base, s.iovs[0].Len)
		}
		if err := r.writeOne(p, s.dests[0], nil); err != nil {
			s.fails = append(s.fails, sendFailure{to: s.dests[0], err: err})
		} else {
			r.opts.obs.Sent(obs.MsgNone, len(p))
		}
		s.reset()
		return
	}
	s.build(0, 0)
	failed := len(s.fails)
	if err := r.rc.Write(s.fn); err != nil {
		s.failRest(err)
	}
	s.countSent(r.opts.obs, len(s.fails)-failed)
	s.reset()
}

// endBatch flushes the batch's replies and reports failed ones.
func (r *run) endBatch() {
	r.wmu.Lock()
	r.flushLocked()
	fails := r.out.fails
	r.out.fails = nil
	r.wmu.Unlock()
	if len(fails) == 0 {
		return
	}
	h := r.l.h.Load()
	for _, f := range fails {
		r.sendFailed(h, Caller{addr: f.to, r: r}, &Error{Op: "send", Msg: msgSend, Err: f.err})
	}
}
