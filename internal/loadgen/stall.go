package loadgen

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/netkit-go/netkit/internal/wsproto"
)

// Stall is, in broadcast mode with Config.Stalled > 0, what happened to
// the stalled subscribers' connections, read from the kernel's socket
// tables (NETLINK_INET_DIAG, as `ss -tni`): the bytes the stalled socket
// accepted (its Recv-Q), the bytes the server's socket to it holds unsent
// or unacknowledged (the server's Send-Q), and the server socket's TCP
// state, polled every StallPoll.
//
// A subscriber's path is full ("stalled") once more bytes were published
// to it than the two kernel queues hold together, by more than two
// messages: the server must then be blocked on it, queueing for it in
// user space, or dropping its messages. Byte counts are WebSocket frames
// (payload plus header); they are exact for uncompressed ws://, and for
// wss:// the TLS record overhead makes the detection conservative (later).
type Stall struct {
	// Checked reports whether the socket tables could be read.
	Checked bool   `json:"checked"`
	Error   string `json:"error,omitempty"`
	// Conns has one entry per stalled subscriber.
	Conns []StallConn `json:"conns,omitempty"`
	// At is when the first subscriber stalled, in seconds after
	// publishing started; -1 if none did.
	At float64 `json:"at_seconds"`
	// Watched is how long the sockets were watched, in seconds after
	// publishing started (until the grace period after the window).
	Watched float64 `json:"watched_seconds"`
	// Before and After split the reading subscribers' delivery latency
	// (measured window only) by arrival before or after At.
	Before Latency `json:"before"`
	After  Latency `json:"after"`
	// ServerRSSAtStall, ServerRSSEnd and ServerRSSMax are the server's
	// VmRSS when the first subscriber stalled, when monitoring ended (after
	// the grace period that follows publishing), and the most seen in
	// between (sampled every second), with Config.ServerPID set.
	ServerRSSAtStall int64 `json:"server_rss_at_stall_bytes,omitempty"`
	ServerRSSEnd     int64 `json:"server_rss_end_bytes,omitempty"`
	ServerRSSMax     int64 `json:"server_rss_max_bytes,omitempty"`
}

// StallConn is one stalled subscriber's connection.
type StallConn struct {
	// Client is the subscriber's local address.
	Client string `json:"client"`
	// DueBytes is what was published to it, in frame bytes.
	DueBytes int64 `json:"due_bytes"`
	// AcceptedMax is the most its socket held unread (Recv-Q): what the
	// stalled socket accepted.
	AcceptedMax int64 `json:"accepted_max_bytes"`
	// ServerSendQMax is the most the server's socket to it held (Send-Q).
	ServerSendQMax int64 `json:"server_sendq_max_bytes"`
	// StalledAt is when its path was full (seconds after publishing
	// started), -1 if never.
	StalledAt float64 `json:"stalled_at_seconds"`
	// ClosedAt is when the server closed the connection (its socket left
	// ESTABLISHED or vanished, or ours saw the close), in seconds after
	// publishing started; -1 if not during the run.
	ClosedAt float64 `json:"closed_at_seconds"`
	// ServerState is the server socket's last TCP state seen ("gone" once
	// it no longer exists).
	ServerState string `json:"server_state"`
}

// tcpStates names the kernel's TCP states (include/net/tcp_states.h).
var tcpStates = [...]string{1: "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
	"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"}

func tcpStateName(s uint8) string {
	if int(s) < len(tcpStates) && tcpStates[s] != "" {
		return tcpStates[s]
	}
	return "?"
}

// sockState is one socket's view: its TCP state, the bytes received but
// not yet read by its owner (Recv-Q) and the bytes written but not yet
// acknowledged by the peer (Send-Q).
type sockState struct {
	State  uint8
	RecvQ  int64
	SendQ  int64
	Exists bool
}

const tcpEstablished = 1

// StallPoll is how often the stalled subscribers' sockets are looked up.
const StallPoll = 50 * time.Millisecond

// stallMonitor polls the stalled subscribers' sockets.
type stallMonitor struct {
	r      *run
	diag   *sockDiag
	frame  int64
	conns  []stallSock
	res    *Stall
	lastPS time.Time
}

type stallSock struct {
	local, remote netip.AddrPort
	seen          bool // the server's socket was found
	c             *StallConn
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// newStallMonitor prepares the monitor of the stalled subscribers in subs.
func (r *run) newStallMonitor(subs []endpoint) *stallMonitor {
	m := &stallMonitor{r: r, res: &Stall{At: -1},
		frame: int64(r.cfg.Payload + wsproto.HeaderSize(int64(r.cfg.Payload), false))}
	d, err := newSockDiag()
	if err != nil {
		m.res.Error = err.Error()
		return m
	}
	m.diag = d
	m.res.Checked = true
	m.res.Conns = make([]StallConn, 0, len(subs))
	for _, ep := range subs {
		w, ok := ep.(*wsConn)
		if !ok || w == nil {
			continue
		}
		m.res.Conns = append(m.res.Conns, StallConn{Client: w.nc.LocalAddr().String(), StalledAt: -1, ClosedAt: -1})
		m.conns = append(m.conns, stallSock{local: addrPort(w.nc.LocalAddr()), remote: addrPort(w.nc.RemoteAddr())})
	}
	for i := range m.conns {
		m.conns[i].c = &m.res.Conns[i]
	}
	return m
}

// run polls until ctx ends or until the deadline.
func (m *stallMonitor) run(ctx context.Context, until time.Duration) {
	if m.diag == nil {
		return
	}
	defer m.diag.close()
	t := time.NewTicker(StallPoll)
	defer t.Stop()
	var duePrev int64
	for ctx.Err() == nil && m.r.now() < until {
		// Messages published by the previous poll are due: the server
		// has had a poll interval to pass them on.
		sent := m.r.sent.Load()
		m.poll(duePrev * m.frame)
		duePrev = sent
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	m.poll(duePrev * m.frame)
	m.sampleRSS(false)
	m.res.Watched = (m.r.now() - m.r.t0).Seconds()
}

func (m *stallMonitor) poll(due int64) {
	r := m.r
	at := (r.now() - r.t0).Seconds()
	for i := range m.conns {
		s := &m.conns[i]
		c := s.c
		cli, err1 := m.diag.lookup(s.local, s.remote)
		srv, err2 := m.diag.lookup(s.remote, s.local)
		if err1 != nil || err2 != nil {
			if m.res.Error == "" {
				if err1 == nil {
					err1 = err2
				}
				m.res.Error = err1.Error()
			}
			continue
		}
		c.DueBytes = due
		c.AcceptedMax = max(c.AcceptedMax, cli.RecvQ)
		if srv.Exists {
			s.seen = true
			c.ServerSendQMax = max(c.ServerSendQMax, srv.SendQ)
			c.ServerState = tcpStateName(srv.State)
		} else if s.seen {
			c.ServerState = "gone"
		}
		closed := s.seen && (!srv.Exists || srv.State != tcpEstablished) ||
			cli.Exists && cli.State != tcpEstablished
		if closed && c.ClosedAt < 0 {
			c.ClosedAt = at
		}
		held := cli.RecvQ + srv.SendQ
		if c.StalledAt < 0 && s.seen && due-held > 2*m.frame {
			c.StalledAt = at
			if m.res.At < 0 {
				m.res.At = at
				r.split.Store(int64(r.now()))
				m.sampleRSS(true)
			}
		}
	}
	if time.Since(m.lastPS) >= time.Second {
		m.sampleRSS(false)
	}
}

// sampleRSS samples the server's RSS (atStall: as the stall point's).
func (m *stallMonitor) sampleRSS(atStall bool) {
	m.lastPS = time.Now()
	if m.r.cfg.ServerPID <= 0 {
		return
	}
	p, err := SampleProc(m.r.cfg.ServerPID)
	if err != nil {
		return
	}
	m.res.ServerRSSMax = max(m.res.ServerRSSMax, p.RSS)
	m.res.ServerRSSEnd = p.RSS
	if atStall {
		m.res.ServerRSSAtStall = p.RSS
	}
}
