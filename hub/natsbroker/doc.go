// Package natsbroker connects a hub to the other nodes of a cluster through
// NATS (github.com/nats-io/nats.go): each topic is one NATS subject under a
// prefix ("hub.chat.lobby" for topic "chat.lobby"), so any NATS client can
// publish to the hub's subscribers or listen to its topics. Binary messages
// carry the header "Netkit-Type: binary"; everything else is text (text that
// is not UTF-8, from a foreign publisher, is delivered as binary).
//
// # No echo
//
// The connection is opened with NATS's no-echo option: the server does not
// send a node's publishes back to that node's own subscriptions. The hub
// delivers to its own subscribers directly, so each subscriber gets each
// message once, and the local ones without a network round trip. One
// Broker serves one hub: two hubs sharing a connection would not see each
// other's messages.
//
// # Delivery semantics
//
// Core NATS is at most once, and so is the hub over it:
//
//   - While a node is cut from NATS, its subscribers get only their own
//     node's publishes; what other nodes publish meanwhile is lost to them.
//   - nats.go reconnects for ever (every ReconnectWait, 250 ms, with
//     jitter), to the same server or another one of the cluster that the
//     server announced, and subscribes again by itself; the subscribers
//     need not do anything and keep their WebSocket connections. Delivery
//     resumes with the messages published after the subscription is back
//     on the server.
//   - What a node publishes while it is cut off is buffered by nats.go (the
//     reconnect buffer, 8 MiB by default, nats.ReconnectBufSize in
//     Config.Options) and sent after the reconnect, so the other nodes may
//     still receive it, late; once the buffer is full, Publish returns an
//     error and the message reaches only the publishing node.
//   - A NATS subscription whose messages pile up faster than the hub takes
//     them (nats.go's pending limits, 512k messages or 64 MiB) loses
//     messages; the Logger is told. The hub's fan-out only queues, so this
//     needs a node far beyond its CPU.
//
// # Waits and their bounds
//
//   - Connect: Config.Timeout (10 s) or ctx's deadline, per server tried
//     (a negative Timeout is refused: the handshake needs a bound).
//   - Reconnect attempts: Config.ReconnectWait (250 ms; negative: only
//     nats.go's jitter) between rounds over the servers, for ever.
//   - Subscribe: a flush round trip, bounded by ctx, or Config.Timeout if
//     ctx has no deadline.
//   - Close: a flush of what was published, Config.Timeout; then the
//     round-trip probe's end (its flush ends at once on the closed
//     connection).
//   - the round-trip probe (with Config.MeterProvider): a flush every
//     Config.RoundTripInterval (10 s), each bounded by Config.Timeout, on
//     a goroutine of its own until Close.
//   - Publish does not wait for the server.
//
// # Metrics
//
// With Config.MeterProvider, the broker records its round trips to the
// server in netkit.hub.broker.round_trip (docs/metrics.md): the flush of
// each Subscribe, and a flush every Config.RoundTripInterval while
// connected. A flush is a PING written behind what the connection has
// buffered and the server's PONG, as nats.Conn.RTT measures, so it
// includes the time to write out a backlog of publishes. The hub's own
// instruments come from hub.Config.MeterProvider.
package natsbroker
