// Package obstest is for tests only: an in-memory OpenTelemetry metric
// reader and span recorder (the SDK), and lookups of the points they hold.
// Library packages must not import it (it brings in the SDK); their tests
// do.
package obstest

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
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

// Sum adds up the int64 sum (counter and up-down counter) points of
// instrument name whose attributes include every one of want.
func (s Snapshot) Sum(name string, want ...attribute.KeyValue) int64 {
	var total int64
	for _, sm := range s.rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			if d, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, p := range d.DataPoints {
					if has(p.Attributes, want) {
						total += p.Value
					}
				}
			}
		}
	}
	return total
}

// Count adds up the counts of the float64 histogram points of instrument
// name whose attributes include every one of want.
func (s Snapshot) Count(name string, want ...attribute.KeyValue) uint64 {
	var total uint64
	for _, sm := range s.rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			if d, ok := m.Data.(metricdata.Histogram[float64]); ok {
				for _, p := range d.DataPoints {
					if has(p.Attributes, want) {
						total += p.Count
					}
				}
			}
		}
	}
	return total
}

// Attrs returns the attribute sets of instrument name's points.
func (s Snapshot) Attrs(name string) []attribute.Set {
	var out []attribute.Set
	for _, sm := range s.rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out = append(out, p.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out = append(out, p.Attributes)
				}
			}
		}
	}
	return out
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
