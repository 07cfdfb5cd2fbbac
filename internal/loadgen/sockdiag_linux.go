package loadgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// sockDiag looks up single TCP sockets through NETLINK_INET_DIAG (what
// `ss -tni` reads), by exact address pair, which costs a few microseconds
// however many sockets the machine has (unlike parsing /proc/net/tcp).
type sockDiag struct {
	mu  sync.Mutex
	fd  int
	seq uint32
	buf []byte
}

const (
	netlinkInetDiag  = 4  // NETLINK_INET_DIAG (NETLINK_SOCK_DIAG)
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	diagReqLen       = 56 // struct inet_diag_req_v2
	diagMsgLen       = 72 // struct inet_diag_msg
)

func newSockDiag() (*sockDiag, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, netlinkInetDiag)
	if err != nil {
		return nil, fmt.Errorf("sock_diag: %w", err)
	}
	// A lookup never waits long: bound the receive in case of surprises.
	tv := syscall.NsecToTimeval(int64(time.Second))
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	return &sockDiag{fd: fd, buf: make([]byte, 8192)}, nil
}

func (d *sockDiag) close() { syscall.Close(d.fd) }

// lookup returns the state of the TCP socket whose local address is local
// and whose peer is remote. A socket that no longer exists is not an
// error: Exists is false.
func (d *sockDiag) lookup(local, remote netip.AddrPort) (sockState, error) {
	st, err := d.lookupFamily(local, remote, false)
	if err == nil && !st.Exists && local.Addr().Is4() {
		// A dual-stack listener's sockets are AF_INET6 with v4-mapped
		// addresses.
		return d.lookupFamily(local, remote, true)
	}
	return st, err
}

func (d *sockDiag) lookupFamily(local, remote netip.AddrPort, mapped bool) (sockState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	req := make([]byte, 16+diagReqLen)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], sockDiagByFamily)
	ne.PutUint16(req[6:], syscall.NLM_F_REQUEST)
	ne.PutUint32(req[8:], d.seq)
	b := req[16:]
	b[0] = syscall.AF_INET
	if mapped || local.Addr().Is6() {
		b[0] = syscall.AF_INET6
	}
	b[1] = syscall.IPPROTO_TCP
	ne.PutUint32(b[4:], 0xffffffff) // every state
	id := b[8:]
	binary.BigEndian.PutUint16(id[0:], local.Port())
	binary.BigEndian.PutUint16(id[2:], remote.Port())
	la, ra := local.Addr(), remote.Addr()
	if b[0] == syscall.AF_INET {
		a4, r4 := la.As4(), ra.As4()
		copy(id[4:], a4[:])
		copy(id[20:], r4[:])
	} else {
		a16, r16 := la.As16(), ra.As16()
		copy(id[4:], a16[:])
		copy(id[20:], r16[:])
	}
	for i := 40; i < 48; i++ {
		id[i] = 0xff // INET_DIAG_NOCOOKIE
	}
	if err := syscall.Sendto(d.fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return sockState{}, fmt.Errorf("sock_diag: %w", err)
	}
	for range 16 { // bounded: skip stale answers
		n, _, err := syscall.Recvfrom(d.fd, d.buf, 0)
		if err != nil {
			return sockState{}, fmt.Errorf("sock_diag: %w", err)
		}
		if n < 16 {
			return sockState{}, errors.New("sock_diag: short answer")
		}
		m := d.buf[:n]
		typ, seq := ne.Uint16(m[4:]), ne.Uint32(m[8:])
		if seq != d.seq {
			continue
		}
		switch typ {
		case syscall.NLMSG_ERROR:
			if len(m) >= 20 {
				if errno := -int32(ne.Uint32(m[16:])); errno == int32(syscall.ENOENT) {
					return sockState{}, nil
				} else if errno != 0 {
					return sockState{}, fmt.Errorf("sock_diag: %w", syscall.Errno(errno))
				}
			}
			return sockState{}, nil
		case sockDiagByFamily:
			if len(m) < 16+diagMsgLen {
				return sockState{}, errors.New("sock_diag: short answer")
			}
			msg := m[16:]
			return sockState{State: msg[1], RecvQ: int64(ne.Uint32(msg[56:])), SendQ: int64(ne.Uint32(msg[60:])), Exists: true}, nil
		}
	}
	return sockState{}, errors.New("sock_diag: no answer")
}
