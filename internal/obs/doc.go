// Package obs is netkit's one set of OpenTelemetry instruments, shared by
// every face (tcp, udp, websocket, socket), so that the hook points in the
// faces are one-line calls and every face reports under the same names and
// attributes (docs/metrics.md has the table).
//
// It imports only the OpenTelemetry API modules (metric, trace, attribute,
// propagation, codes); the SDK and exporters are for the CLI and tests.
//
// A face builds one [*Set] per listener or client with [New]. New returns
// nil when no MeterProvider and no TracerProvider is given, and every
// method of a nil *Set returns at once: metrics off cost one nil check and
// allocate nothing. With metrics on, the per-message calls ([Set.Received],
// [Set.Sent]) use option slices built once per Set (and again by
// [Set.Bind]), so they allocate nothing in the API layer either.
//
// Cardinality is bounded: no attribute names a connection; paths are only
// the routes a listener has attached; close codes outside the registered
// ranges are folded (see [CloseCode]); error kinds come from a fixed list
// (see [ErrorKind]).
//
// Traces: one span per WebSocket upgrade ([Set.StartUpgrade], the parent
// extracted from the request headers with the configured or global
// propagator) and one per client dial ([Set.StartDial]); never one per
// message.
//
// Waits: none. Nothing here blocks.
package obs
