package hub

import (
	"context"
	"net"
	"sync"

	"github.com/netkit-go/netkit/websocket"
)

// Broker carries messages between hubs: one Broker value is one node's
// attachment to the bus (the in-memory [MemoryBus], or NATS through
// package hub/natsbroker). A hub delivers its own publishes to its own
// subscribers itself, so a Broker must not hand a node's publish back to
// that node's subscriptions (NATS's no-echo): that is what keeps a node from
// delivering its own message twice.
type Broker interface {
	// Publish sends a message on topic to the other nodes. It may return
	// before they received it. Messages published from one goroutine
	// reach each other node in publish order.
	Publish(ctx context.Context, topic string, typ websocket.MessageType, data []byte) error
	// Subscribe registers interest in pattern (NATS subject syntax) and
	// returns once the subscription is active. deliver is called for
	// each message published by another node on a topic that matches
	// pattern, in the order that node published them; data is borrowed
	// until deliver returns. deliver may be called from several goroutines
	// at once (one per publishing node, for the memory bus). The returned
	// cancel ends the subscription.
	Subscribe(ctx context.Context, pattern string, deliver DeliverFunc) (cancel func() error, err error)
	// Close ends the node's attachment and its subscriptions.
	Close() error
}

// DeliverFunc receives a message from another node (see Broker.Subscribe).
type DeliverFunc func(topic string, typ websocket.MessageType, data []byte)

// MemoryBus is an in-process bus: every Broker returned by [MemoryBus.Node]
// is one node, and a message published through one node is delivered,
// synchronously, to the subscriptions of every other node on the bus whose
// pattern matches, with the same subject syntax as NATS. A hub created
// without a Broker gets a node of its own bus (a single-node hub). Several
// hubs sharing one MemoryBus behave as a cluster in one process, which is
// what tests and single-binary deployments with several listeners want.
type MemoryBus struct {
	mu    sync.RWMutex
	subs  map[*memSub]struct{}
	nodes int
}

type memSub struct {
	node    *memNode
	pattern string
	deliver DeliverFunc
}

// NewMemoryBus returns an empty bus.
func NewMemoryBus() *MemoryBus { return &MemoryBus{subs: make(map[*memSub]struct{})} }

// Node returns a new node on the bus.
func (b *MemoryBus) Node() Broker {
	b.mu.Lock()
	b.nodes++
	b.mu.Unlock()
	return &memNode{bus: b}
}

type memNode struct {
	bus    *MemoryBus
	mu     sync.Mutex
	closed bool
}

// Publish delivers to the matching subscriptions of the other nodes before
// it returns.
func (n *memNode) Publish(ctx context.Context, topic string, typ websocket.MessageType, data []byte) error {
	if err := ValidTopic(topic); err != nil {
		return err
	}
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return errBrokerClosed
	}
	n.bus.mu.RLock()
	defer n.bus.mu.RUnlock()
	if n.bus.nodes < 2 {
		return nil // no other node
	}
	for s := range n.bus.subs {
		if s.node != n && Match(s.pattern, topic) {
			s.deliver(topic, typ, data)
		}
	}
	return nil
}

var errBrokerClosed = &brokerClosedError{}

type brokerClosedError struct{}

func (*brokerClosedError) Error() string { return "hub: broker closed" }
func (*brokerClosedError) Unwrap() error { return net.ErrClosed }

func (n *memNode) Subscribe(ctx context.Context, pattern string, deliver DeliverFunc) (func() error, error) {
	if err := ValidPattern(pattern); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, errBrokerClosed
	}
	s := &memSub{node: n, pattern: pattern, deliver: deliver}
	n.bus.mu.Lock()
	n.bus.subs[s] = struct{}{}
	n.bus.mu.Unlock()
	return func() error {
		n.bus.mu.Lock()
		delete(n.bus.subs, s)
		n.bus.mu.Unlock()
		return nil
	}, nil
}

func (n *memNode) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	n.bus.mu.Lock()
	for s := range n.bus.subs {
		if s.node == n {
			delete(n.bus.subs, s)
		}
	}
	n.bus.nodes--
	n.bus.mu.Unlock()
	return nil
}
