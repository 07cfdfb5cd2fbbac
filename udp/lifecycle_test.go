package udp_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit-go/netkit/udp"
)

// Start twice is ErrAlreadyStarted; stop then start again works; the stop
// methods are idempotent.
func TestLifecycle(t *testing.T) {
	l, err := udp.NewListener(0, &udp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Addr() != nil {
		t.Fatal("Addr before Start")
	}
	select {
	case <-l.Done():
	default:
		t.Fatal("Done not closed before Start")
	}
	if err := l.GracefulStop(context.Background()); err != nil {
		t.Fatalf("GracefulStop before Start: %v", err)
	}
	if err := l.Attach(udp.Echo); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, nil)
	for round := range 3 {
		if err := l.Start(); err != nil {
			t.Fatalf("round %d: Start: %v", round, err)
		}
		if err := l.Start(); !errors.Is(err, udp.ErrAlreadyStarted) {
			t.Fatalf("round %d: second Start: %v", round, err)
		}
		if err := l.Serve(nil); !errors.Is(err, udp.ErrAlreadyStarted) {
			t.Fatalf("round %d: Serve while started: %v", round, err)
		}
		addr := l.Addr().(*net.UDPAddr).AddrPort()
		if d := roundTrip(t, c, addr, []byte("hi")); string(d.Data) != "hi" {
			t.Fatalf("round %d: reply %q", round, d.Data)
		}
		done := l.Done()
		if round%2 == 0 {
			if err := l.GracefulStop(context.Background()); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			default:
				t.Fatal("GracefulStop returned before the run ended")
			}
		} else {
			if err := l.ImmediateStop(); err != nil {
				t.Fatal(err)
			}
			<-done
		}
		if err := l.ImmediateStop(); err != nil {
			t.Fatalf("second stop: %v", err)
		}
		if err := l.Err(); err != nil {
			t.Fatalf("Err after a requested stop: %v", err)
		}
	}
}

// A fixed port can be reused at once after a stop.
func TestRestartSamePort(t *testing.T) {
	l1, addr := startListener(t, nil, udp.Echo)
	l1.ImmediateStop()
	<-l1.Done()
	l2, err := udp.NewListener(int(addr.Port()), &udp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	l2.Attach(udp.Echo)
	if err := l2.Start(); err != nil {
		t.Fatalf("restart on port %d: %v", addr.Port(), err)
	}
	defer stopListener(t, l2)
	c := newClient(t, nil)
	roundTrip(t, c, addr, []byte("again"))
}

// GracefulStop lets queued datagrams finish and their replies go out;
// Callers kept after the stop fail with net.ErrClosed.
func TestGracefulStopFinishesWork(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		release := make(chan struct{})
		entered := make(chan udp.Caller, 16)
		cfg := &udp.ListenerConfig{Logger: quietLogger(), LocalHost: "127.0.0.1"}
		m.cfg(cfg)
		l, err := udp.NewListener(0, cfg)
		if err != nil {
			t.Fatal(err)
		}
		l.Attach(udp.BytesFunc(func(c udp.Caller, b []byte) ([]byte, error) {
			entered <- c
			<-release
			return b, nil
		}))
		if err := l.Start(); err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().(*net.UDPAddr).AddrPort()
		c := newClient(t, nil)
		send(t, c, addr, []byte("first"))
		caller := <-entered // the handler is busy with "first"
		send(t, c, addr, []byte("second"))
		if m.name == "workers" {
			// wait until the read loop has queued "second" for the busy worker
			deadline := time.Now().Add(5 * time.Second)
			for l.Stats().Received < 2 && time.Now().Before(deadline) {
				runtimeGosched()
			}
		} // else "second" waits in the socket's queue, and a graceful stop leaves it there
		stopped := make(chan error, 1)
		go func() { stopped <- l.GracefulStop(context.Background()) }()
		close(release)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if d := recv(t, c); string(d.Data) != "first" {
			t.Fatalf("reply %q", d.Data)
		}
		if m.name == "workers" { // queued for the worker: handled
			if d := recv(t, c); string(d.Data) != "second" {
				t.Fatalf("reply %q", d.Data)
			}
		}
		if err := caller.SendBytes(context.Background(), []byte("late")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("send through a kept Caller after stop: %v", err)
		}
	})
}

// GracefulStop whose context ends gives up: the socket closes and ctx.Err() is returned.
func TestGracefulStopTimeout(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	l, addr := startListener(t, nil, udp.BytesFunc(func(c udp.Caller, b []byte) ([]byte, error) {
		entered <- struct{}{}
		<-release
		return b, nil
	}))
	c := newClient(t, nil)
	send(t, c, addr, []byte("stuck"))
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.GracefulStop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GracefulStop: %v", err)
	}
	select {
	case <-l.Done():
		t.Fatal("Done closed while a handler runs")
	default:
	}
	close(release)
	<-l.Done()
}

// The stop methods called from a handler do not deadlock.
func TestStopFromHandler(t *testing.T) {
	for _, graceful := range []bool{true, false} {
		forModes(t, func(t *testing.T, m mode) {
			var lp atomic.Pointer[udp.Listener]
			stopErr := make(chan error, 1)
			cfg := &udp.ListenerConfig{}
			m.cfg(cfg)
			l, addr := startListener(t, cfg, udp.BytesFunc(func(c udp.Caller, b []byte) ([]byte, error) {
				if graceful {
					stopErr <- lp.Load().GracefulStop(context.Background())
				} else {
					stopErr <- lp.Load().ImmediateStop()
				}
				return b, nil
			}))
			lp.Store(l)
			c := newClient(t, nil)
			send(t, c, addr, []byte("stop"))
			select {
			case err := <-stopErr:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("stop from a handler deadlocked")
			}
			<-l.Done()
			if graceful {
				if d := recv(t, c); string(d.Data) != "stop" {
					t.Fatalf("reply %q", d.Data)
				}
			}
		})
	}
}

// wrapped hides *net.UDPConn, so Serve takes the portable path.
type wrapped struct{ net.PacketConn }

// Serve runs on a caller's PacketConn: a custom one goes through the
// portable loop (truncation detected with the one-byte-larger buffer).
func TestServeCustomPacketConn(t *testing.T) {
	for _, custom := range []bool{true, false} {
		uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		var pc net.PacketConn = uc
		if custom {
			pc = wrapped{uc}
		}
		sink := errSink(make(chan error, 4))
		l, err := udp.NewListener(0, &udp.ListenerConfig{ReceiveBufferSize: 100, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		l.Attach(echoWithErrors{sink})
		served := make(chan error, 1)
		go func() { served <- l.Serve(pc) }()
		addr := uc.LocalAddr().(*net.UDPAddr).AddrPort()
		c := newClient(t, nil)
		send(t, c, addr, make([]byte, 101))
		if err := sink.wait(t); !errors.Is(err, udp.ErrTruncated) {
			t.Fatalf("custom=%v: OnError got %v", custom, err)
		}
		if d := roundTrip(t, c, addr, []byte("served")); string(d.Data) != "served" || d.Addr != addr {
			t.Fatalf("custom=%v: reply %q from %v", custom, d.Data, d.Addr)
		}
		if err := l.GracefulStop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-served; err != nil {
			t.Fatalf("custom=%v: Serve returned %v after GracefulStop", custom, err)
		}
		if _, _, err := uc.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("custom=%v: Serve did not close the PacketConn: %v", custom, err)
		}
	}
}

// A socket closed behind the listener's back ends the run with an error
// reported by Err and Serve.
func TestServeFatalError(t *testing.T) {
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := udp.NewListener(0, &udp.ListenerConfig{Logger: quietLogger()})
	l.Attach(udp.Echo)
	served := make(chan error, 1)
	go func() { served <- l.Serve(uc) }()
	c := newClient(t, nil)
	roundTrip(t, c, uc.LocalAddr().(*net.UDPAddr).AddrPort(), []byte("up"))
	uc.Close()
	err = <-served
	if !errors.Is(err, net.ErrClosed) || !errors.Is(l.Err(), net.ErrClosed) {
		t.Fatalf("Serve: %v; Err: %v", err, l.Err())
	}
}
