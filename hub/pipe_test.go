package hub_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/netkit-go/netkit/hub"
	"github.com/netkit-go/netkit/internal/obs/obstest"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// pipeListener accepts in-memory connections (net.Pipe): a fan-out to ten
// thousand subscribers in one process without twenty thousand file
// descriptors.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error { l.once.Do(func() { close(l.closed) }); return nil }

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial() (net.Conn, error) {
	c, s := net.Pipe()
	select {
	case l.conns <- noDeadlines{s}:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// noDeadlines ignores write deadlines: net.Pipe's allocate a timer each
// time one is set (the engine sets one per write), where a TCP socket's do
// not, so without this the benchmark would count the pipe's allocations.
// (Read deadlines are kept: net/http interrupts a read with one.)
type noDeadlines struct{ net.Conn }

func (noDeadlines) SetWriteDeadline(time.Time) error { return nil }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// fanout is a hub with subscribers on in-memory connections; each
// subscriber's reader counts the messages it gets on got.
type fanout struct {
	h    *hub.Hub
	l    *websocket.Listener
	ln   *pipeListener
	got  sync.WaitGroup
	subs []net.Conn
	wg   sync.WaitGroup // the readers
}

const upgradeRequest = "GET /hub HTTP/1.1\r\nHost: pipe\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// startFanout starts a hub whose n subscribers on topic "t" read messages
// of size bytes (so 2 or 4 header bytes: size < 65536).
// On TCP, the subscribers are loopback sockets; else in-memory pipes.
func startFanout(tb testing.TB, n, size int, tcp bool) *fanout {
	tb.Helper()
	return startFanoutMetrics(tb, n, size, tcp, nil, nil)
}

// startFanoutMetrics is startFanout with the hub's and the listener's
// MeterProviders (nil: metrics off).
func startFanoutMetrics(tb testing.TB, n, size int, tcp bool, hubMP, listenerMP metric.MeterProvider) *fanout {
	tb.Helper()
	f := &fanout{h: hub.New(&hub.Config{Logger: netkittest.DiscardLogger, MeterProvider: hubMP}), ln: newPipeListener()}
	var err error
	f.l, err = websocket.NewListener(0, &websocket.ListenerConfig{Logger: netkittest.DiscardLogger, DisableCompression: true, MeterProvider: listenerMP})
	if err != nil {
		tb.Fatal(err)
	}
	svc := websocket.ServiceFuncs{OnOpen: func(c *websocket.Conn) error {
		if err := f.h.Subscribe(context.Background(), c, "t"); err != nil {
			return err
		}
		return c.WriteTextMessage(context.Background(), []byte("ready"))
	}}
	if err := f.l.Attach("/hub", websocket.Static(svc), &websocket.ServiceConfig{Logger: netkittest.DiscardLogger}); err != nil {
		tb.Fatal(err)
	}
	dial := f.ln.dial
	if tcp {
		f.l, err = websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", Logger: netkittest.DiscardLogger, DisableCompression: true, MeterProvider: listenerMP})
		if err != nil {
			tb.Fatal(err)
		}
		if err := f.l.Attach("/hub", websocket.Static(svc), &websocket.ServiceConfig{Logger: netkittest.DiscardLogger}); err != nil {
			tb.Fatal(err)
		}
		err = f.l.Start()
		dial = func() (net.Conn, error) { return net.Dial("tcp", f.l.Addr().String()) }
	} else {
		err = f.l.Serve(f.ln)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(f.stop)
	frame := size + 2
	if size >= 126 {
		frame += 2
	}
	for range n {
		c, err := dial()
		if err != nil {
			tb.Fatal(err)
		}
		f.subs = append(f.subs, c)
		br := bufio.NewReaderSize(c, 4096)
		if _, err := io.WriteString(c, upgradeRequest); err != nil {
			tb.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			tb.Fatalf("upgrade: %v %v", resp, err)
		}
		ready := make([]byte, 7)
		if _, err := io.ReadFull(br, ready); err != nil || !strings.HasSuffix(string(ready), "ready") {
			tb.Fatalf("ready: %q %v", ready, err)
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			buf := make([]byte, frame)
			for {
				if _, err := io.ReadFull(br, buf); err != nil {
					if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) {
						tb.Error(err)
					}
					return
				}
				f.got.Done()
			}
		}()
	}
	return f
}

// broadcast publishes one message and waits until every subscriber read it.
func (f *fanout) broadcast(tb testing.TB, p *hub.Prepared) {
	f.got.Add(len(f.subs))
	if err := f.h.PublishPrepared(context.Background(), "t", p); err != nil {
		tb.Fatal(err)
	}
	f.got.Wait()
}

func (f *fanout) stop() {
	f.h.ImmediateStop()
	f.l.ImmediateStop()
	for _, c := range f.subs {
		c.Close()
	}
	f.wg.Wait()
}

func BenchmarkBroadcast(b *testing.B) {
	for _, c := range []struct {
		n   int
		tcp bool
	}{{1000, true}, {1000, false}, {10000, false}} {
		name := strconv.Itoa(c.n) + "subs-pipe"
		if c.tcp {
			name = strconv.Itoa(c.n) + "subs-tcp"
		}
		n := c.n
		b.Run(name, func(b *testing.B) { benchBroadcast(b, startFanout(b, n, 256, c.tcp)) })
	}
}

// benchBroadcast broadcasts 256-byte messages to f's subscribers, b.N
// times, and reports the deliveries per second and the time per delivery.
func benchBroadcast(b *testing.B, f *fanout) {
	p, err := hub.Prepare(websocket.TextMessage, []byte(strings.Repeat("x", 256)))
	if err != nil {
		b.Fatal(err)
	}
	f.broadcast(b, p)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.broadcast(b, p)
	}
	n := len(f.subs)
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
}

// metricsCases are the metrics settings of TestAllocsBroadcast and
// BenchmarkBroadcastMetrics: off, the hub's, the hub's and its listener's.
var metricsCases = []struct {
	name          string
	hub, listener bool
}{{"off", false, false}, {"hub", true, false}, {"hub+listener", true, true}}

// providers returns an in-memory provider and it as the hub's and the
// listener's MeterProvider as hub and listener say (else nil).
func providers(tb testing.TB, hub, listener bool) (mt *obstest.Metrics, hubMP, listenerMP metric.MeterProvider) {
	mt = obstest.NewMetrics(tb)
	if hub {
		hubMP = mt.Provider
	}
	if listener {
		listenerMP = mt.Provider
	}
	return mt, hubMP, listenerMP
}

// BenchmarkBroadcastMetrics is BenchmarkBroadcast's 1000subs-pipe case
// with metrics off, with the hub's metrics on (read from its counts at
// collection: nothing per message), and with the listener's too (the
// websocket face counts each delivery written: netkit.sent.*). The
// provider is the SDK's, with a manual reader that collects once at the
// end.
func BenchmarkBroadcastMetrics(b *testing.B) {
	for _, c := range metricsCases {
		b.Run(c.name, func(b *testing.B) {
			mt, hubMP, lMP := providers(b, c.hub, c.listener)
			benchBroadcast(b, startFanoutMetrics(b, 1000, 256, false, hubMP, lMP))
			b.StopTimer()
			mt.Collect(b)
		})
	}
}

// BenchmarkPublish256 is Publish (encoding included) to 10 000 subscribers.
func BenchmarkPublish256(b *testing.B) {
	f := startFanout(b, 10000, 256, false)
	msg := []byte(strings.Repeat("x", 256))
	b.ReportAllocs()
	for b.Loop() {
		f.got.Add(len(f.subs))
		if err := f.h.Publish(context.Background(), "t", websocket.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
		f.got.Wait()
	}
}
