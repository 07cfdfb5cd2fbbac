//go:build !linux

package udp

import "net/netip"

// batchSupported: recvmmsg/sendmmsg are Linux only.
const batchSupported = false

// sendBatch is never created outside Linux.
type sendBatch struct{ n int }

func (r *run) batchLoop() error { return r.udpLoop() }

func (r *run) queueReply(*handler, Caller, []byte, netip.AddrPort, []byte) {}

func (r *run) flushLocked() {}

var noGSO bool
