package obs

import (
	"go.opentelemetry.io/otel/metric"
)

// Instrument names (docs/metrics.md is the table).
const (
	NameConnOpened        = "netkit.connection.opened"
	NameConnClosed        = "netkit.connection.closed"
	NameActiveConns       = "netkit.active_connections"
	NameUpgradedConns     = "netkit.upgraded_connections"
	NameConnDuration      = "netkit.connection.duration"
	NameSentMessages      = "netkit.sent.messages"
	NameReceivedMessages  = "netkit.received.messages"
	NameSentBytes         = "netkit.sent.bytes"
	NameReceivedBytes     = "netkit.received.bytes"
	NameErrors            = "netkit.errors"
	NameStops             = "netkit.stops"
	NameUpgrades          = "netkit.websocket.upgrades"
	NameHandshakeDuration = "netkit.websocket.handshake.duration"
	NameCloseSent         = "netkit.websocket.close.sent"
	NameCloseReceived     = "netkit.websocket.close.received"
	NameCompressionRatio  = "netkit.websocket.compression.ratio"
	NameDropped           = "netkit.websocket.dropped.messages"
	NameTruncated         = "netkit.udp.truncated.datagrams"
	NameSendErrors        = "netkit.udp.send.errors"
)

// Bucket boundaries, after the HTTP and Kestrel conventions.
var (
	durationBuckets  = []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300}
	handshakeBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	ratioBuckets     = []float64{0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.5}
)

type instruments struct {
	opened, closed        metric.Int64Counter
	active, upgraded      metric.Int64UpDownCounter
	duration              metric.Float64Histogram
	errors, stops         metric.Int64Counter
	upgrades              metric.Int64Counter
	handshake             metric.Float64Histogram
	closeSent, closeRecv  metric.Int64Counter
	ratio                 metric.Float64Histogram
	dropped               metric.Int64Counter
	truncated, sendErrors metric.Int64Counter
}

// observableCounter makes an asynchronous counter from m (a no-op one if
// m cannot: the API's instruments are valid even on error).
func observableCounter(m metric.Meter, name, unit, desc string) metric.Int64ObservableCounter {
	i, _ := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	return i
}

// observableUpDown makes an asynchronous up-down counter from m, as
// observableCounter.
func observableUpDown(m metric.Meter, name, unit, desc string) metric.Int64ObservableUpDownCounter {
	i, _ := m.Int64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	return i
}

// newInstruments makes the instruments from m. An instrument that m cannot
// make is a no-op (the API's instruments are valid even on error).
func newInstruments(m metric.Meter) *instruments {
	in := &instruments{}
	c := func(name, unit, desc string) metric.Int64Counter {
		i, _ := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return i
	}
	ud := func(name, unit, desc string) metric.Int64UpDownCounter {
		i, _ := m.Int64UpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return i
	}
	h := func(name, unit, desc string, b []float64) metric.Float64Histogram {
		i, _ := m.Float64Histogram(name, metric.WithUnit(unit), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(b...))
		return i
	}
	in.opened = c(NameConnOpened, "{connection}", "Connections opened (accepted, upgraded or dialed).")
	in.closed = c(NameConnClosed, "{connection}", "Connections closed.")
	in.active = ud(NameActiveConns, "{connection}", "Connections open now.")
	in.upgraded = ud(NameUpgradedConns, "{connection}", "WebSocket connections open now that were upgraded from HTTP.")
	in.duration = h(NameConnDuration, "s", "How long connections were open.", durationBuckets)
	in.errors = c(NameErrors, "{error}", "Connection and protocol errors, by error.type.")
	in.stops = c(NameStops, "{stop}", "Listener stops, by netkit.stop.kind.")
	in.upgrades = c(NameUpgrades, "{request}", "WebSocket upgrade requests, by the HTTP status answered.")
	in.handshake = h(NameHandshakeDuration, "s", "WebSocket opening handshake duration (server: request to 101 written; client: dial to 101 read).", handshakeBuckets)
	in.closeSent = c(NameCloseSent, "{frame}", "WebSocket close frames sent, by close code.")
	in.closeRecv = c(NameCloseReceived, "{frame}", "WebSocket close frames received, by close code.")
	in.ratio = h(NameCompressionRatio, "1", "Compressed size over uncompressed size of each compressed WebSocket message sent.", ratioBuckets)
	in.dropped = c(NameDropped, "{message}", "WebSocket messages dropped instead of sent (TrySend on a full queue).")
	in.truncated = c(NameTruncated, "{datagram}", "Datagrams truncated on receipt (larger than the read buffer).")
	in.sendErrors = c(NameSendErrors, "{error}", "Datagram sends that failed, by error.type.")
	return in
}
