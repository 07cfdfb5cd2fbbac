// Package hub is publish/subscribe over WebSocket: a message published on a
// topic goes to every connection subscribed to it, on this node and, through
// a [Broker], on every other node of a cluster. The in-memory [MemoryBus] is
// the default broker; package hub/natsbroker spans nodes through NATS.
//
// # Topics
//
// Topics are NATS subjects: tokens separated by '.', such as "chat.lobby".
// A subscription pattern may use '*' for exactly one token and a last '>'
// for one or more ("chat.*", "prices.>"). The memory bus matches with the
// same rules ([Match]), so a program behaves the same on either broker.
// [Hub.Subscribe] adds a *websocket.Conn to a pattern; the subscription ends
// on [Hub.Unsubscribe], when the connection ends (its Context is done), or
// when the hub stops. A connection subscribed to two patterns that both
// match a topic receives each message twice, as a NATS client would.
//
// # Encode once, never block the publisher
//
// [Hub.Publish] frames a message once per node ([websocket.PreparedMessage];
// its compressed form once too, for every connection that negotiated
// permessage-deflate with the default settings), and queues a pointer to it
// for each subscriber. [Prepare] and [Hub.PublishPrepared] encode once for
// several publishes. Each subscribed connection has a bounded queue and a
// writer goroutine that empties it in order; the publisher only queues, so
// it never waits on a subscriber's socket. The steady-state path allocates
// the prepared message and nothing per subscriber.
//
// # Slow consumers
//
// When a subscriber's queue (Config.QueueSize, 64 messages) is full, the
// policy of the pattern (Config.Policy, or Config.PolicyFor per pattern)
// applies: [DropOldest] (the default, for live data) discards the oldest
// queued message, [DropNewest] refuses the new one, [Disconnect] closes the
// connection with Config.CloseCode (1008, "slow consumer"). [Hub.Stats]
// counts each.
//
// # Order and delivery
//
//   - Per pattern, the messages of one publisher (one goroutine calling
//     Publish in sequence) reach every subscriber in publish order, on every
//     node: the local queue keeps the order, and NATS keeps the order of one
//     connection's messages to each subscription.
//   - On one node, the subscribers of a pattern all see the same
//     interleaving of concurrent publishers (the fan-out of a pattern is
//     serialised). Across nodes they may not: each node puts its own
//     publishes first, and NATS orders messages per publishing connection
//     only.
//   - Delivery is at most once. A message is lost to a subscriber when the
//     slow-consumer policy drops it, when its connection fails, and, across
//     nodes, when the message is published while the nodes are cut from
//     NATS (see hub/natsbroker for the reconnect buffer). Nothing is
//     redelivered.
//   - A node does not deliver its own message twice: it delivers to its own
//     subscribers directly, and the broker does not echo a node's publish
//     back to it (NATS's no-echo option; the memory bus skips the
//     publishing node).
//
// # Stopping
//
// [Hub.GracefulStop] drains: it refuses new publishes, writes what is
// queued, then closes the broker. Stop the hub before the listener, so the
// queued messages leave before the connections close. A connection's end
// (including the listener's graceful or immediate stop) removes its
// subscriptions; its writer tries what is queued and exits.
//
// # Waits and their bounds
//
//   - Subscribe: the broker's subscription (for NATS, one round trip to the
//     server), bounded by its ctx; no default.
//   - a delivery's write: the connection's WriteTimeout (websocket's server
//     default 30 s); the writer, not the publisher, waits.
//   - the Disconnect close: Config.CloseTimeout (5 s) for the write in
//     progress and the close echo, then the TCP connection is closed
//     (negative: the connection's own WriteTimeout and
//     ConnectionClosureTimeout, 30 s and 60 s by default).
//   - GracefulStop: its ctx; then the writes in progress, each bounded by
//     its connection's WriteTimeout.
//   - ImmediateStop: the writes in progress, as above.
//
// # Metrics
//
// Config.MeterProvider turns on the hub's OpenTelemetry instruments
// (docs/metrics.md): subscribers and topics now, messages published and
// received through the broker, deliveries queued and written, drops by
// slow-consumer policy, discarded deliveries and failed writes. They are
// observed from the counts of [Hub.Stats] when the provider collects, so
// publishing and delivering cost the same with metrics on as off. The
// broker's round trip is the broker's (natsbroker.Config.MeterProvider);
// the hub's WebSocket connections are the listener's
// (websocket.ListenerConfig.MeterProvider). The hub makes no spans: it has
// no request to trace (never one span per message).
//
// # Costs
//
// A subscribed connection holds a writer goroutine and a queue of
// QueueSize pointers until it ends or the hub stops, also after it
// unsubscribed from everything. A publish costs one lookup of the exact
// topic plus one match per distinct wildcard pattern on the node.
package hub
