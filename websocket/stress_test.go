package websocket_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// TestStalledReaderDoesNotDelayOthers: a broadcaster sends a prepared
// message to four connections with TrySend; one peer never reads. The
// healthy peers get every message, no TrySend waits beyond its short
// deadline, and the stalled connection is reported (and dropped by the
// broadcaster, as a hub would) instead of holding everyone up.
func TestStalledReaderDoesNotDelayOthers(t *testing.T) {
	conns := make(chan *websocket.Conn, 4)
	svc := &websocket.ServiceFuncs{OnOpen: func(c *websocket.Conn) error { conns <- c; return nil }}
	l := serve(t, "/ws", websocket.Static(svc), &websocket.ServiceConfig{Compression: websocket.CompressionConfig{Disable: true}}, nil)
	const rounds, size = 60, 256 << 10
	var clients []*rawClient
	var callers []*websocket.Conn
	for i := 0; i < 4; i++ {
		clients = append(clients, dialWS(t, addrOf(l), "/ws", nil))
		callers = append(callers, recv(t, conns))
	}
	stalled := 0 // clients[0] never reads
	var wg sync.WaitGroup
	got := make([]int, 4)
	for i := 1; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			buf := make([]byte, size+10)
			for got[i] < rounds {
				clients[i].nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(clients[i].nc, buf); err != nil {
					return
				}
				got[i]++
			}
		}(i)
	}
	pm, err := websocket.NewPreparedMessage(websocket.BinaryMessage, bytesN(size))
	if err != nil {
		t.Fatal(err)
	}
	live := map[int]bool{0: true, 1: true, 2: true, 3: true}
	var stalledErr error
	var slowest time.Duration
	start := time.Now()
	for r := 0; r < rounds; r++ {
		for i, c := range callers {
			if !live[i] {
				continue
			}
			// The stalled peer's send is bounded by 50 ms. A healthy peer's
			// gets 5 s: a TrySend that times out mid-message ends its
			// connection by contract, and a loaded machine can keep a healthy
			// reader from a 256 KiB message for more than 50 ms.
			limit := 5 * time.Second
			if i == stalled {
				limit = 50 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), limit)
			t0 := time.Now()
			err := c.TrySend(ctx, pm)
			cancel()
			if i == stalled {
				slowest = max(slowest, time.Since(t0))
			}
			if err != nil {
				if i != stalled {
					// A healthy peer that is momentarily behind: wait for it,
					// as a hub with a queue would.
					if err = c.WritePreparedMessage(context.Background(), pm); err != nil {
						t.Fatalf("healthy connection %d: %v", i, err)
					}
					continue
				}
				stalledErr = err
				live[i] = false
			}
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i := 1; i < 4; i++ {
		if got[i] != rounds {
			t.Errorf("healthy client %d got %d of %d messages", i, got[i], rounds)
		}
	}
	if stalledErr == nil {
		t.Fatal("the stalled connection never reported a problem")
	}
	if !errors.Is(stalledErr, websocket.ErrSendQueueFull) && !errors.Is(stalledErr, context.DeadlineExceeded) && !errors.Is(stalledErr, net.ErrClosed) {
		t.Errorf("stalled connection error: %v", stalledErr)
	}
	if slowest > time.Second { // its ctx bounds it at 50 ms
		t.Errorf("the stalled connection's slowest TrySend took %v", slowest)
	}
	t.Logf("stalled connection: %v; its slowest TrySend %v; %d rounds in %v", stalledErr, slowest, rounds, elapsed)
}

// TestTricklingUpgradesDoNotBlockOthers: 1000 clients that send part of an
// upgrade request and stop do not stop a normal client from being served,
// and are disconnected after the listener's Timeout.
func TestTricklingUpgradesDoNotBlockOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2000 sockets")
	}
	l := serve(t, "/ws", websocket.Static(websocket.Echo), nil, &websocket.ListenerConfig{Timeout: 1500 * time.Millisecond})
	var trick []net.Conn
	defer func() {
		for _, c := range trick {
			c.Close()
		}
	}()
	for i := 0; i < 1000; i++ {
		c, err := net.DialTimeout("tcp", addrOf(l), 5*time.Second)
		if err != nil {
			t.Fatalf("trickler %d: %v", i, err)
		}
		trick = append(trick, c)
		c.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nUpgr"))
	}
	start := time.Now()
	c := dialWS(t, addrOf(l), "/ws", nil)
	c.sendText("served")
	c.expectMessage(opText, []byte("served"))
	if d := time.Since(start); d > time.Second {
		t.Errorf("normal client served after %v", d)
	}
	// The tricklers are dropped after the Timeout.
	last := trick[len(trick)-1]
	last.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	for {
		_, err := last.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("a trickling client was not disconnected")
		}
		break
	}
}

// TestWriteTimeoutOnStalledPeer: a peer that stops reading costs a writer
// at most WriteTimeout; the error matches os.ErrDeadlineExceeded (and, once
// part of a frame left, net.ErrClosed: the connection is closed).
func TestWriteTimeoutOnStalledPeer(t *testing.T) {
	rec := newRecorder()
	l := serve(t, "/ws", upgradeWith(rec.funcs()), &websocket.ServiceConfig{WriteTimeout: 200 * time.Millisecond,
		Compression: websocket.CompressionConfig{Disable: true}}, nil)
	c := dialWS(t, addrOf(l), "/ws", nil)
	caller := recv(t, rec.caller)
	msg := bytesN(1 << 20)
	start := time.Now()
	var err error
	for i := 0; i < 200 && err == nil; i++ {
		err = caller.WriteBinaryMessage(context.Background(), msg)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write error %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
	if errors.Is(err, net.ErrClosed) && caller.IsOpen() {
		t.Fatal("connection still open after a partial write")
	}
	c.nc.Close()
	recv(t, rec.closes)
}
