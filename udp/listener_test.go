package udp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/udp"
)

// §4.6: echo via a connectionless client; the reply comes from the
// listener's real address.
func TestEcho(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		cfg := &udp.ListenerConfig{}
		m.cfg(cfg)
		_, addr := startListener(t, cfg, udp.Echo)
		c := newClient(t, nil)
		d := roundTrip(t, c, addr, []byte("Hello Ballerina"))
		if string(d.Data) != "Hello Ballerina" {
			t.Fatalf("reply %q", d.Data)
		}
		if d.Addr != addr || d.RemoteHost() != "127.0.0.1" || d.RemotePort() != int(addr.Port()) {
			t.Fatalf("reply from %v (%s %d), want the listener %v", d.Addr, d.RemoteHost(), d.RemotePort(), addr)
		}
	})
}

// §4.6: request and response, twice.
func TestRequestResponseTwice(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		cfg := &udp.ListenerConfig{}
		m.cfg(cfg)
		_, addr := startListener(t, cfg, udp.BytesFunc(func(_ udp.Caller, b []byte) ([]byte, error) {
			return append([]byte("re: "), b...), nil
		}))
		c := newClient(t, nil)
		for i := range 2 {
			msg := fmt.Sprintf("request %d", i)
			if d := roundTrip(t, c, addr, []byte(msg)); string(d.Data) != "re: "+msg {
				t.Fatalf("reply %q", d.Data)
			}
		}
	})
}

// §4.6: 24,576 bytes leave as 3 datagrams of 8192 and each arrives whole (Ballerina: the
// first reply had 2048 bytes).
func TestSplit24576(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		sizes := make(chan int, 10)
		cfg := &udp.ListenerConfig{}
		m.cfg(cfg)
		_, addr := startListener(t, cfg, udp.BytesFunc(func(_ udp.Caller, b []byte) ([]byte, error) {
			sizes <- len(b)
			return b, nil
		}))
		c := newClient(t, nil)
		payload := bytes.Repeat([]byte("0123456789abcdef"), 24576/16)
		send(t, c, addr, payload)
		var got []byte
		for i := range 3 {
			if n := <-sizes; n != 8192 {
				t.Fatalf("listener datagram %d has %d bytes, want 8192", i, n)
			}
			d := recv(t, c)
			if len(d.Data) != 8192 {
				t.Fatalf("reply %d has %d bytes, want 8192", i, len(d.Data))
			}
			got = append(got, d.Data...)
		}
		if !bytes.Equal(got, payload) {
			t.Fatal("payload differs")
		}
	})
}

// §4.6: a log listener receives three datagrams.
func TestLogListenerThreeDatagrams(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		got := make(chan string, 3)
		cfg := &udp.ListenerConfig{}
		m.cfg(cfg)
		_, addr := startListener(t, cfg, udp.BytesFunc(func(_ udp.Caller, b []byte) ([]byte, error) {
			got <- string(b) // string() copies: the slice is borrowed
			return nil, nil
		}))
		c := newClient(t, nil)
		for i := range 3 {
			send(t, c, addr, fmt.Appendf(nil, "log %d", i))
		}
		for i := range 3 {
			select {
			case s := <-got:
				if s != fmt.Sprintf("log %d", i) {
					t.Fatalf("datagram %d: %q", i, s)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("datagram not received")
			}
		}
	})
}

// §4.6: Caller.SendBytes echo, three times.
func TestCallerSendBytesThree(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		cfg := &udp.ListenerConfig{}
		m.cfg(cfg)
		_, addr := startListener(t, cfg, udp.BytesFunc(func(c udp.Caller, b []byte) ([]byte, error) {
			for i := range 3 {
				if err := c.SendBytes(context.Background(), fmt.Appendf(nil, "%s %d", b, i)); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}))
		c := newClient(t, nil)
		send(t, c, addr, []byte("echo"))
		for i := range 3 {
			if d := recv(t, c); string(d.Data) != fmt.Sprintf("echo %d", i) {
				t.Fatalf("reply %d: %q", i, d.Data)
			}
		}
	})
}

// Replies returned by earlier datagrams of a batch go out before a later
// Caller.SendBytes, so a peer sees them in order.
func TestReplyOrderWithCallerSends(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		cfg := &udp.ListenerConfig{}
		m.cfg(cfg)
		_, addr := startListener(t, cfg, udp.BytesFunc(func(c udp.Caller, b []byte) ([]byte, error) {
			if b[0]%2 == 0 {
				return b, nil
			}
			return nil, c.SendBytes(context.Background(), b)
		}))
		c := newClient(t, nil)
		const n = 40
		for i := range n {
			send(t, c, addr, []byte{byte(i)})
		}
		for i := range n {
			if d := recv(t, c); d.Data[0] != byte(i) {
				t.Fatalf("reply %d is %d", i, d.Data[0])
			}
		}
	})
}

type bot struct {
	viaCaller bool
}

func (b bot) OnDatagram(c udp.Caller, d udp.Datagram) (udp.Datagram, error) {
	reply := udp.Datagram{Addr: d.Addr, Data: []byte("Hi " + string(d.Data) + ", I'm a bot")}
	if c.Addr() != d.Addr || c.RemoteHost() != d.RemoteHost() || c.RemotePort() != d.RemotePort() {
		return udp.Datagram{}, fmt.Errorf("caller %v != datagram %v", c.Addr(), d.Addr)
	}
	if b.viaCaller {
		return udp.Datagram{}, c.SendDatagram(context.Background(), reply)
	}
	return reply, nil
}

// §4.6: a bot service using OnDatagram, with a returned Datagram or Caller.SendDatagram.
func TestOnDatagramBot(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		for _, via := range []bool{false, true} {
			t.Run(fmt.Sprintf("viaCaller=%v", via), func(t *testing.T) {
				cfg := &udp.ListenerConfig{}
				m.cfg(cfg)
				_, addr := startListener(t, cfg, bot{viaCaller: via})
				c := newClient(t, nil)
				if d := roundTrip(t, c, addr, []byte("Ballerina")); string(d.Data) != "Hi Ballerina, I'm a bot" {
					t.Fatalf("reply %q", d.Data)
				}
			})
		}
	})
}

// §4.6: a returned datagram echoes back; a reply to a third address goes
// there; a Datagram without Data sends nothing.
func TestReturnedDatagram(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		other := newClient(t, nil)
		otherAddr := other.LocalAddr().(*net.UDPAddr).AddrPort()
		cfg := &udp.ListenerConfig{}
		m.cfg(cfg)
		_, addr := startListener(t, cfg, udp.DatagramFunc(func(_ udp.Caller, d udp.Datagram) (udp.Datagram, error) {
			switch string(d.Data) {
			case "forward":
				return udp.Datagram{Addr: otherAddr, Data: []byte("forwarded")}, nil
			case "silent":
				return udp.Datagram{Addr: d.Addr}, nil
			}
			return udp.Datagram{Data: d.Data}, nil // zero Addr: to the sender
		}))
		c := newClient(t, nil)
		send(t, c, addr, []byte("silent"))
		if d := roundTrip(t, c, addr, []byte("echo")); string(d.Data) != "echo" {
			t.Fatalf("reply %q (the silent datagram must not be answered)", d.Data)
		}
		send(t, c, addr, []byte("forward"))
		if d := recv(t, other); string(d.Data) != "forwarded" || d.Addr != addr {
			t.Fatalf("forwarded %q from %v", d.Data, d.Addr)
		}
	})
}

// §4.6: a connected listener ignores other peers, whose receive times out.
func TestConnectedListenerIgnoresOthers(t *testing.T) {
	forModesParallel(t, func(t *testing.T, m mode) {
		peer := newClient(t, nil)
		stranger := newClient(t, &udp.ClientConfig{LocalHost: "127.0.0.1", Timeout: 300 * time.Millisecond})
		pa := peer.LocalAddr().(*net.UDPAddr)
		cfg := &udp.ListenerConfig{RemoteHost: "localhost", RemotePort: pa.Port}
		m.cfg(cfg)
		_, addr := startListener(t, cfg, udp.Echo)
		send(t, stranger, addr, []byte("let me in"))
		if d := roundTrip(t, peer, addr, []byte("peer")); string(d.Data) != "peer" {
			t.Fatalf("peer got %q", d.Data)
		}
		_, err := stranger.ReceiveDatagram(context.Background())
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("stranger: %v, want a timeout", err)
		}
	})
}

// §4.6: a listener sends an 80,001-byte payload; it arrives as several
// datagrams, read until a short timeout.
func TestLargePayloadSeveralDatagrams(t *testing.T) {
	forModesParallel(t, func(t *testing.T, m mode) {
		payload := make([]byte, 80001)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		cfg := &udp.ListenerConfig{}
		m.cfg(cfg)
		_, addr := startListener(t, cfg, udp.BytesFunc(func(c udp.Caller, b []byte) ([]byte, error) {
			if string(b) == "send via caller" {
				return nil, c.SendBytes(context.Background(), payload)
			}
			return payload, nil
		}))
		for _, req := range []string{"send via caller", "return it"} {
			c := newClient(t, nil)
			send(t, c, addr, []byte(req))
			got := recv(t, c).Data
			n := 1
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				d, err := c.ReceiveDatagram(ctx)
				cancel()
				if errors.Is(err, os.ErrDeadlineExceeded) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
				got = append(got, d.Data...)
			}
			if n != 10 || !bytes.Equal(got, payload) {
				t.Fatalf("%s: %d datagrams, %d bytes; want 10 datagrams, 80001 bytes", req, n, len(got))
			}
		}
	})
}

// §4.6: attach then detach; detach with nothing attached is Ballerina's error.
func TestAttachDetach(t *testing.T) {
	l, err := udp.NewListener(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = l.Detach()
	if !errors.Is(err, udp.ErrServiceNotAttached) || err.Error() != "service is not attached to the listener" {
		t.Fatalf("Detach with nothing attached: %v", err)
	}
	if err := l.Attach(udp.Echo); err != nil {
		t.Fatal(err)
	}
	if err := l.Attach(udp.Echo); !errors.Is(err, udp.ErrServiceAttached) {
		t.Fatalf("second Attach: %v", err)
	}
	if err := l.Detach(); err != nil {
		t.Fatal(err)
	}
	if err := l.Detach(); !errors.Is(err, udp.ErrServiceNotAttached) {
		t.Fatalf("second Detach: %v", err)
	}
	if err := l.Start(); !errors.Is(err, udp.ErrServiceNotAttached) {
		t.Fatalf("Start without a service: %v", err)
	}
}

// Detaching a running listener's service drops datagrams; attaching another
// one takes over.
func TestDetachWhileRunning(t *testing.T) {
	l, addr := startListener(t, nil, udp.Echo)
	c := newClient(t, &udp.ClientConfig{LocalHost: "127.0.0.1", Timeout: 200 * time.Millisecond})
	roundTrip(t, c, addr, []byte("a"))
	if err := l.Detach(); err != nil {
		t.Fatal(err)
	}
	send(t, c, addr, []byte("dropped"))
	if _, err := c.ReceiveDatagram(context.Background()); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("detached listener answered: %v", err)
	}
	if l.Stats().Dropped != 1 {
		t.Fatalf("stats %+v, want 1 dropped", l.Stats())
	}
	if err := l.Attach(udp.BytesFunc(func(_ udp.Caller, b []byte) ([]byte, error) { return []byte("new"), nil })); err != nil {
		t.Fatal(err)
	}
	if d := roundTrip(t, c, addr, []byte("b")); string(d.Data) != "new" {
		t.Fatalf("reply %q", d.Data)
	}
}

type bothHandlers struct{}

func (bothHandlers) OnBytes(udp.Caller, []byte) ([]byte, error) { return nil, nil }
func (bothHandlers) OnDatagram(udp.Caller, udp.Datagram) (udp.Datagram, error) {
	return udp.Datagram{}, nil
}

type badSignature struct{}

func (badSignature) OnBytes(data []byte) []byte { return data }

type unknownHook struct{ echoWithErrors }

func (unknownHook) OnClose(udp.Caller) {}

func TestAttachResolvesHooks(t *testing.T) {
	for _, tc := range []struct {
		name string
		svc  udp.Service
		want string
	}{
		{"both", bothHandlers{}, "Service cannot contain both onBytes and onDatagram"},
		{"neither", struct{}{}, "Service must contain either onBytes or onDatagram"},
		{"nil", nil, "nil service"},
		{"bad signature", badSignature{}, "OnBytes has signature func([]uint8) []uint8, want func(udp.Caller, []uint8) ([]uint8, error)"},
		{"unknown hook", unknownHook{}, "unknown callback OnClose"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := udp.NewListener(0, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = l.Attach(tc.svc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Attach: %v, want %q", err, tc.want)
			}
		})
	}
	l, _ := udp.NewListener(0, nil)
	if err := l.Attach(bothHandlers{}); !errors.Is(err, udp.ErrBothHandlers) {
		t.Fatalf("errors.Is ErrBothHandlers: %v", err)
	}
}

func TestListenerConfigErrors(t *testing.T) {
	_, err := udp.NewListener(0, &udp.ListenerConfig{RemoteHost: "localhost"})
	if err == nil || err.Error() != "Required both remoteHost and remotePort to connect to remote address." {
		t.Fatalf("RemoteHost only: %v", err)
	}
	if _, err := udp.NewListener(0, &udp.ListenerConfig{RemotePort: 9999}); !errors.Is(err, udp.ErrRemoteIncomplete) {
		t.Fatalf("RemotePort only: %v", err)
	}
	if _, err := udp.NewListener(70000, nil); err == nil {
		t.Fatal("port 70000 accepted")
	}
	if _, err := udp.NewListener(0, &udp.ListenerConfig{MaxDatagramSize: 65508}); err == nil {
		t.Fatal("MaxDatagramSize 65508 accepted")
	}
	for _, host := range []string{"bad host name!", "203.0.113.7"} {
		l, err := udp.NewListener(0, &udp.ListenerConfig{LocalHost: host})
		if err != nil {
			t.Fatal(err)
		}
		l.Attach(udp.Echo)
		err = l.Start()
		var ue *udp.Error
		if !errors.As(err, &ue) || ue.Msg != "Unable to initialize UDP Listener" {
			t.Fatalf("Start on %q: %v", host, err)
		}
	}
}

// §4.6: a returned error or a panic does not stop the listener; both are
// logged and passed to OnError.
type faulty struct {
	errSink
}

func (faulty) OnBytes(_ udp.Caller, b []byte) ([]byte, error) {
	switch string(b) {
	case "error":
		return []byte("reply with error"), errors.New("handler failed")
	case "panic":
		panic("handler panicked")
	}
	return b, nil
}

func TestHandlerErrorAndPanic(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		var logs logBuffer
		sink := errSink(make(chan error, 4))
		cfg := &udp.ListenerConfig{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
		m.cfg(cfg)
		l, addr := startListener(t, cfg, faulty{sink})
		c := newClient(t, nil)

		if d := roundTrip(t, c, addr, []byte("error")); string(d.Data) != "reply with error" {
			t.Fatalf("reply %q", d.Data)
		}
		if err := sink.wait(t); err == nil || err.Error() != "handler failed" {
			t.Fatalf("OnError got %v", err)
		}
		send(t, c, addr, []byte("panic"))
		err := sink.wait(t)
		var pe *udp.PanicError
		if !errors.As(err, &pe) || pe.Value != "handler panicked" || !bytes.Contains(pe.Stack, []byte("faulty.OnBytes")) {
			t.Fatalf("OnError got %v", err)
		}
		if d := roundTrip(t, c, addr, []byte("still alive")); string(d.Data) != "still alive" {
			t.Fatalf("reply %q", d.Data)
		}
		if s := l.Stats(); s.Errors != 2 {
			t.Fatalf("stats %+v, want 2 errors", s)
		}
		out := logs.String()
		if !strings.Contains(out, "handler failed") || !strings.Contains(out, "handler panicked") || !strings.Contains(out, "faulty.OnBytes") {
			t.Fatalf("log lacks the error, the panic or its stack:\n%s", out)
		}
	})
}

// A datagram larger than ReceiveBufferSize is reported, never delivered cut.
func TestListenerTruncated(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		sink := errSink(make(chan error, 4))
		cfg := &udp.ListenerConfig{ReceiveBufferSize: 1024}
		m.cfg(cfg)
		l, addr := startListener(t, cfg, echoWithErrors{sink})
		c := newClient(t, nil)
		send(t, c, addr, make([]byte, 1025))
		if err := sink.wait(t); !errors.Is(err, udp.ErrTruncated) {
			t.Fatalf("OnError got %v", err)
		}
		if d := roundTrip(t, c, addr, make([]byte, 1024)); len(d.Data) != 1024 {
			t.Fatalf("reply has %d bytes", len(d.Data))
		}
		if s := l.Stats(); s.Truncated != 1 || s.Received != 2 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// Workers keep each peer's order while several peers send at once.
func TestWorkersPerPeerOrder(t *testing.T) {
	const peers, per = 6, 200
	var mu sync.Mutex
	seen := map[netip.AddrPort][]int{}
	cfg := &udp.ListenerConfig{Workers: 3, QueueSize: 1024}
	_, addr := startListener(t, cfg, udp.BytesFunc(func(c udp.Caller, b []byte) ([]byte, error) {
		mu.Lock()
		seen[c.Addr()] = append(seen[c.Addr()], int(b[0])<<8|int(b[1]))
		mu.Unlock()
		return b, nil
	}))
	var wg sync.WaitGroup
	for range peers {
		c := newClient(t, &udp.ClientConfig{LocalHost: "127.0.0.1", Timeout: time.Second})
		wg.Go(func() {
			const window = 8 // datagrams in flight per peer, so that the socket buffer does not overflow
			for i := range per {
				c.SendDatagram(context.Background(), udp.Datagram{Addr: addr, Data: []byte{byte(i >> 8), byte(i)}})
				if i >= window {
					c.ReceiveDatagram(context.Background()) // a reply, or a timeout if one was lost
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != peers {
		t.Fatalf("%d peers seen, want %d", len(seen), peers)
	}
	total := 0
	for p, seq := range seen {
		total += len(seq)
		for i := 1; i < len(seq); i++ {
			if seq[i] <= seq[i-1] {
				t.Fatalf("peer %v: %d after %d", p, seq[i], seq[i-1])
			}
		}
	}
	t.Logf("%d of %d datagrams handled, each peer in order", total, peers*per)
	if total < peers*per/2 {
		t.Fatalf("only %d of %d handled", total, peers*per)
	}
}

// Workers handle different peers concurrently: the handlers wait until two
// of them run at once. Ten peers over 64 workers: the test fails only if all
// ten hash to the same worker.
func TestWorkersConcurrent(t *testing.T) {
	var active atomic.Int32
	barrier := make(chan struct{})
	var once sync.Once
	cfg := &udp.ListenerConfig{Workers: 64}
	_, addr := startListener(t, cfg, udp.BytesFunc(func(c udp.Caller, d []byte) ([]byte, error) {
		if active.Add(1) >= 2 {
			once.Do(func() { close(barrier) })
		}
		defer active.Add(-1)
		select {
		case <-barrier:
			return d, nil
		case <-time.After(5 * time.Second):
			return []byte("alone"), nil
		}
	}))
	var clients []*udp.Client
	for i := range 10 {
		c := newClient(t, nil)
		clients = append(clients, c)
		send(t, c, addr, []byte{byte(i)})
	}
	for i, c := range clients {
		if d := recv(t, c); !bytes.Equal(d.Data, []byte{byte(i)}) {
			t.Fatalf("client %d got %q", i, d.Data)
		}
	}
}

// A full worker queue drops datagrams and counts them.
func TestWorkersDropWhenFull(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	cfg := &udp.ListenerConfig{Workers: 1, QueueSize: 2}
	l, addr := startListener(t, cfg, udp.BytesFunc(func(c udp.Caller, d []byte) ([]byte, error) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return nil, nil
	}))
	c := newClient(t, nil)
	send(t, c, addr, []byte("block"))
	<-entered
	for range 5 {
		send(t, c, addr, []byte("x"))
	}
	// The read loop counts a datagram as received before queueing or dropping it.
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Dropped < 3 && time.Now().Before(deadline) {
		runtimeGosched()
	}
	close(release)
	if s := l.Stats(); s.Received != 6 || s.Dropped != 3 {
		t.Fatalf("stats %+v, want 6 received, 3 dropped", s)
	}
}

// Borrowed data is poisoned once the handler returns (netkit_debug). The
// check runs in the handler of the next datagram from the same peer, which
// runs after the first one's buffer was recycled (same goroutine or worker);
// the buffer may hold that next, shorter datagram, so only the bytes beyond
// it are checked.
func TestBorrowedDataPoisoned(t *testing.T) {
	if !bufpool.Debug {
		t.Skip("poisoning needs the netkit_debug build tag")
	}
	const keep, check = "keep this payload, please", "check"
	forModes(t, func(t *testing.T, m mode) {
		var kept []byte
		cfg := &udp.ListenerConfig{}
		m.cfg(cfg)
		_, addr := startListener(t, cfg, udp.BytesFunc(func(_ udp.Caller, b []byte) ([]byte, error) {
			switch string(b) {
			case keep:
				kept = b // a retention bug, on purpose
				return []byte("kept"), nil
			case check:
				for _, x := range kept[len(check):] {
					if x != bufpool.PoisonByte {
						return fmt.Appendf(nil, "reads %q, not poison", kept), nil
					}
				}
				return []byte("poisoned"), nil
			}
			return nil, nil
		}))
		c := newClient(t, nil)
		roundTrip(t, c, addr, []byte(keep))
		if d := roundTrip(t, c, addr, []byte(check)); string(d.Data) != "poisoned" {
			t.Fatalf("kept slice %s", d.Data)
		}
	})
}

// Replies of one batch to one peer, of mixed sizes, arrive whole and in
// order (on Linux they leave as UDP GSO messages where sizes allow).
func TestBatchedRepliesMixedSizes(t *testing.T) {
	sizes := []int{100, 100, 100, 50, 100, 200, 200, 10, 0, 300, 300, 300, 300, 300, 8192, 8192, 20000, 64, 64, 64, 64, 64, 64, 64}
	forModes(t, func(t *testing.T, m mode) {
		release := make(chan struct{})
		var once sync.Once
		cfg := &udp.ListenerConfig{}
		m.cfg(cfg)
		l, addr := startListener(t, cfg, udp.BytesFunc(func(_ udp.Caller, b []byte) ([]byte, error) {
			once.Do(func() { <-release }) // hold the loop until every datagram is queued
			return b, nil
		}))
		c := newClient(t, nil)
		var want [][]byte
		for i, n := range sizes {
			p := make([]byte, n)
			for j := range p {
				p[j] = byte(i + j)
			}
			send(t, c, addr, p)
			if n > 8192 { // the reply is split at MaxDatagramSize
				for off := 0; off < n; off += 8192 {
					want = append(want, p[off:min(off+8192, n)])
				}
			} else {
				want = append(want, p)
			}
		}
		close(release)
		for i, w := range want {
			if d := recv(t, c); !bytes.Equal(d.Data, w) {
				t.Fatalf("reply %d: %d bytes, want %d", i, len(d.Data), len(w))
			}
		}
		if s := l.Stats(); s.Errors != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// A connected listener sends only to its peer: a reply addressed elsewhere
// fails (net.ErrWriteToConnected) and is reported to OnError.
type forwarder struct {
	errSink
	to netip.AddrPort
}

func (f forwarder) OnDatagram(_ udp.Caller, d udp.Datagram) (udp.Datagram, error) {
	if string(d.Data) == "forward" {
		return udp.Datagram{Addr: f.to, Data: d.Data}, nil
	}
	return udp.Datagram{Data: d.Data}, nil
}

func TestConnectedListenerRefusesOtherDestinations(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		peer := newClient(t, nil)
		other := newClient(t, nil)
		sink := errSink(make(chan error, 4))
		cfg := &udp.ListenerConfig{RemoteHost: "127.0.0.1", RemotePort: peer.LocalAddr().(*net.UDPAddr).Port}
		m.cfg(cfg)
		_, addr := startListener(t, cfg, forwarder{sink, other.LocalAddr().(*net.UDPAddr).AddrPort()})
		send(t, peer, addr, []byte("forward"))
		if err := sink.wait(t); !errors.Is(err, net.ErrWriteToConnected) {
			t.Fatalf("OnError got %v", err)
		}
		if d := roundTrip(t, peer, addr, []byte("back")); string(d.Data) != "back" {
			t.Fatalf("reply %q", d.Data)
		}
	})
}
