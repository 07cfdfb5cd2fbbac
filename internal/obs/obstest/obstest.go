package obstest

import (
	"context"
	"io"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/netkit-go/netkit/internal/obs"
)

// Metrics is a MeterProvider whose points a test reads on demand.
type Metrics struct {
	Provider *sdkmetric.MeterProvider
	reader   *sdkmetric.ManualReader
}

// NewMetrics returns a Metrics, shut down when t ends.
func NewMetrics(t testing.TB) *Metrics {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	return &Metrics{Provider: mp, reader: r}
}

// Snapshot is one collection.
type Snapshot struct{ rm metricdata.ResourceMetrics }

// Collect reads every instrument's points now.
func (m *Metrics) Collect(t testing.TB) Snapshot {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := m.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return Snapshot{rm}
}

// Names returns the names of the instruments that have points.
func (s Snapshot) Names() map[string]bool {
	out := map[string]bool{}
	for _, sm := range s.rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = true
		}
	}
	return out
}

func has(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// each calls f with the attributes and the value (a sum's, or a
// histogram's count) of every point of instrument name.
func (s Snapshot) each(name string, f func(attrs attribute.Set, v int64)) {
	for _, sm := range s.rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					f(p.Attributes, p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					f(p.Attributes, int64(p.Count))
				}
			}
		}
	}
}

// Sum adds up the int64 sum (counter and up-down counter) points of
// instrument name whose attributes include every one of want.
func (s Snapshot) Sum(name string, want ...attribute.KeyValue) int64 {
	var total int64
	s.each(name, func(a attribute.Set, v int64) {
		if has(a, want) {
			total += v
		}
	})
	return total
}

// Count adds up the counts of the histogram points of instrument name
// whose attributes include every one of want.
func (s Snapshot) Count(name string, want ...attribute.KeyValue) uint64 {
	return uint64(s.Sum(name, want...))
}

// Attrs returns the attribute sets of instrument name's points.
func (s Snapshot) Attrs(name string) []attribute.Set {
	var out []attribute.Set
	s.each(name, func(a attribute.Set, _ int64) { out = append(out, a) })
	return out
}

// RecordEach records once with each instrument of s (a WebSocket server
// Set shows them all), closing what it opens.
func RecordEach(s *obs.Set) {
	m := s.ConnOpened()
	s.Received(obs.MsgText, 3)
	s.Sent(obs.MsgText, 3)
	s.SentN(2, 2)
	s.Error(obs.KindProtocol)
	s.Stop(obs.StopGraceful)
	s.Upgrade(101, "/ws", time.Now())
	s.CloseSent(1000)
	s.CloseReceived(1000)
	s.Compressed(10, 5)
	s.Dropped(obs.DropQueueFull)
	s.Truncated()
	s.SendError(io.ErrClosedPipe)
	s.DialFailed(io.ErrClosedPipe)
	s.Handshake(time.Now())
	s.OpenKeyed(1)
	s.UpgradedKeyed(1)
	s.CloseKeyed(1, nil)
	s.ConnClosed(m, nil)
}

// Spans is a TracerProvider that records ended spans in memory.
type Spans struct {
	Provider *sdktrace.TracerProvider
	Recorder *tracetest.SpanRecorder
}

// NewSpans returns a Spans, shut down when t ends.
func NewSpans(t testing.TB) *Spans {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return &Spans{Provider: tp, Recorder: rec}
}

// Ended returns the ended spans named name.
func (s *Spans) Ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, sp := range s.Recorder.Ended() {
		if sp.Name() == name {
			out = append(out, sp)
		}
	}
	return out
}
