package obs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/internal/obs/obstest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// A nil *Set (no providers) takes every call and records nothing.
func TestNilSetIsANoOp(t *testing.T) {
	s := obs.New(obs.Config{Face: obs.FaceTCP, Role: obs.RoleServer})
	if s != nil {
		t.Fatal("New without providers returned a Set")
	}
	s.Bind(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1})
	obstest.RecordEach(s)
	if m := s.ConnOpened(); m != nil || s.Metrics() || s.Tracing() {
		t.Fatal("a nil Set reports itself on")
	}
	_, span := s.StartDial(context.Background(), "ws", "ws://x")
	obs.EndSpan(span, errors.New("x"))
	if span.IsRecording() {
		t.Fatal("a nil Set's span records")
	}
}

// Bind's address attributes apply to the opens after it; a close counts
// with the attributes of its open, once.
func TestBindAndMarks(t *testing.T) {
	mt := obstest.NewMetrics(t)
	s := obs.New(obs.Config{Face: obs.FaceTCP, Role: obs.RoleServer, Transport: "tcp", MeterProvider: mt.Provider})
	early := s.ConnOpened()
	s.Bind(&net.TCPAddr{IP: net.ParseIP("::1"), Port: 4242})
	late := s.ConnOpened()
	s.ConnClosed(early, nil)
	s.ConnClosed(early, errors.New("twice")) // counts nothing
	s.ConnClosed(late, syscall.ECONNRESET)
	snap := mt.Collect(t)
	bound := []attribute.KeyValue{attribute.Int("server.port", 4242), attribute.String("network.type", "ipv6"), attribute.String("server.address", "::1")}
	if got := snap.Sum("netkit.active_connections"); got != 0 {
		t.Errorf("active %d, want 0 (each close on its open's series)", got)
	}
	if got := snap.Sum("netkit.connection.opened", bound...); got != 1 {
		t.Errorf("bound opens %d, want 1", got)
	}
	if got := snap.Sum("netkit.connection.closed"); got != 2 {
		t.Errorf("closes %d, want 2", got)
	}
	if got := snap.Sum("netkit.errors", attribute.String("error.type", "connection_reset")); got != 1 {
		t.Errorf("resets %d, want 1", got)
	}
	if got := snap.Sum("netkit.errors"); got != 1 {
		t.Errorf("errors %d, want 1 (a second close counts nothing)", got)
	}
}

func TestErrorKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{io.EOF, ""},
		{fmt.Errorf("read: %w", io.EOF), ""},
		{net.ErrClosed, ""},
		{engine.ErrListenerStopping, ""},
		{&engine.PanicError{Value: 1}, obs.KindPanic},
		{engine.ErrSendQueueFull, obs.KindQueueFull},
		{engine.ErrReadTimeout, obs.KindTimeout},
		{os.ErrDeadlineExceeded, obs.KindTimeout},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, obs.KindReset},
		{syscall.EPIPE, obs.KindBrokenPipe},
		{syscall.ECONNREFUSED, obs.KindRefused},
		{errors.New("something"), obs.KindOther},
	} {
		if got := obs.ErrorKind(tc.err); got != tc.want {
			t.Errorf("ErrorKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestCloseCodeIsBounded(t *testing.T) {
	for code, want := range map[int]int{1000: 1000, 1009: 1009, 2999: 2999, 3000: 3000, 3999: 3000, 4001: 4000, 4999: 4000, 5000: 0, 999: 0, 0: 0} {
		if got := obs.CloseCode(code); got != want {
			t.Errorf("CloseCode(%d) = %d, want %d", code, got, want)
		}
	}
}

// BenchmarkMessage: the cost of counting one message received and one sent
// (four counter adds), off (nil Set) and on (the SDK with a reader).
func BenchmarkMessage(b *testing.B) {
	mt := obstest.NewMetrics(b)
	on := obs.New(obs.Config{Face: obs.FaceWebSocket, Role: obs.RoleServer, Transport: "tcp", MeterProvider: mt.Provider})
	on.Bind(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9})
	for _, tc := range []struct {
		name string
		s    *obs.Set
	}{{"off", nil}, {"on", on}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tc.s.Received(obs.MsgText, 1024)
				tc.s.Sent(obs.MsgText, 1024)
			}
		})
	}
}
