package main

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// netkitMetricsWS is netkitWS with metrics on: the listener reports to an
// OpenTelemetry SDK MeterProvider (docs/metrics.md) whose reader is
// collected every second, as a Prometheus scrape would. Its msgs/s over
// netkit's is the cost of metrics (bench/run's W1).
func netkitMetricsWS(o options) (string, func(), error) {
	r := metric.NewManualReader()
	mp := metric.NewMeterProvider(metric.WithReader(r))
	o.meter = mp
	cfg, stop, err := netkitWS(o)
	if err != nil {
		mp.Shutdown(context.Background())
		return "", nil, err
	}
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var rm metricdata.ResourceMetrics
		for {
			select {
			case <-t.C:
				r.Collect(context.Background(), &rm)
			case <-quit:
				return
			}
		}
	}()
	return cfg + "; metrics on: OpenTelemetry SDK MeterProvider, collected every 1 s", func() {
		stop()
		close(quit)
		<-done
		mp.Shutdown(context.Background())
	}, nil
}
