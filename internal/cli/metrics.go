package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// The --metrics flag of serve and of every listen command: a Prometheus
// endpoint at http://ADDR/metrics with netkit's OpenTelemetry instruments
// (docs/metrics.md), exported by the OpenTelemetry Prometheus exporter,
// and the Go runtime and process metrics of client_golang's collectors, on
// one registry.

// metricsTimeout bounds the endpoint's reads and writes, and its shutdown.
const metricsTimeout = 10 * time.Second

// addMetricsFlag registers --metrics on fs.
func addMetricsFlag(fs *flag.FlagSet) *string {
	return fs.String("metrics", "", "serve Prometheus metrics at http://ADDR/metrics (for example 127.0.0.1:9464); empty: off")
}

// meterKey is the context key of the command's MeterProvider.
type meterKey struct{}

// meterOf returns the MeterProvider that startMetrics put in e's context,
// or nil (metrics off: the faces record nothing).
func meterOf(e *env) metric.MeterProvider {
	if mp, ok := e.ctx.Value(meterKey{}).(metric.MeterProvider); ok {
		return mp
	}
	return nil
}

// startMetrics serves /metrics on addr (nothing when addr is empty) and
// puts its MeterProvider in e's context for meterOf. stop ends the
// endpoint and the provider; call it when the command ends.
func startMetrics(e *env, addr string) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	reg, mp, err := newMetricsRegistry()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		mp.Shutdown(context.Background())
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{e}}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: metricsTimeout, ReadTimeout: metricsTimeout,
		WriteTimeout: metricsTimeout, IdleTimeout: metricsTimeout}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("metrics endpoint failed", "err", err)
		}
	}()
	e.log.Info("listening", "proto", "metrics", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String()+"/metrics")
	e.ctx = context.WithValue(e.ctx, meterKey{}, metric.MeterProvider(mp))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), metricsTimeout)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			hs.Close()
		}
		<-done
		mp.Shutdown(ctx)
	}, nil
}

// newMetricsRegistry returns a registry with the Go runtime and process
// collectors and a MeterProvider exporting to it.
func newMetricsRegistry() (*prometheus.Registry, *sdkmetric.MeterProvider, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, fmt.Errorf("metrics: %w", err)
	}
	return reg, sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)), nil
}

// slogPrinter logs promhttp's errors through the command's logger.
type slogPrinter struct{ e *env }

func (p slogPrinter) Println(v ...any) { p.e.log.Error("metrics: " + fmt.Sprint(v...)) }
