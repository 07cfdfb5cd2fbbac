//go:build linux

package udp

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// mmsgGen sends and receives with sendmmsg/recvmmsg, reusing the
// listener's own batch code, so that the generator costs less per datagram
// than the servers it measures.
var mmsgGen generator = func(b *testing.B, addr netip.AddrPort, quota, window int) int {
	return batchGen(b, addr, quota, window, false)
}

// gsoGen is mmsgGen with UDP GSO: cheaper still per datagram.
var gsoGen generator = func(b *testing.B, addr netip.AddrPort, quota, window int) int {
	return batchGen(b, addr, quota, window, true)
}

func batchGen(b *testing.B, addr netip.AddrPort, quota, window int, gso bool) int {
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Error(err)
		return 0
	}
	defer uc.Close()
	rc, err := uc.SyscallConn()
	if err != nil {
		b.Error(err)
		return 0
	}
	sb := newSendBatch(window, sockFamily(rc), false)
	sb.gso = gso
	defer sb.release()
	rb := newRecvBatch(window, 2048)
	defer rb.release()
	opts := sockOpts{maxSize: DefaultMaxDatagramSize}
	msg := make([]byte, benchPayload)
	got, inFlight, lost, calls := 0, 0, 0, 0
	for got < quota {
		for inFlight < window {
			sb.add(msg, addr, msg, &opts)
			inFlight++
		}
		if sb.n > 0 {
			sb.build(0, 0)
			if err := rc.Write(sb.fn); err != nil {
				b.Error(err)
				return lost
			}
			sb.reset()
		}
		if calls%16 == 0 {
			uc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		}
		calls++
		err := rc.Read(rb.fn)
		if err == nil && rb.errno != 0 {
			err = rb.errno
		}
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				b.Error(err)
				return lost
			}
			lost += inFlight
			inFlight = 0
			uc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			continue
		}
		got += rb.n
		inFlight -= rb.n
	}
	return lost
}
