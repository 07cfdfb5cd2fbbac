package obs

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The message counters (netkit.{sent,received}.{messages,bytes}) are on
// the hot path: a synchronous Add costs an SDK some hundreds of
// nanoseconds (it normalises the attributes on every call), four of them
// per echoed message. So they are counted in atomics here, shared by every
// Set with the same provider and attributes, and reported as observable
// counters when the provider collects: a message costs four atomic adds.

// msgCounts are the cumulative message counters of one attribute set.
type msgCounts struct {
	recvMsgs, recvBytes, sentMsgs, sentBytes atomic.Int64
}

// countEntry is one attribute set's counters and its observe option.
type countEntry struct {
	c   *msgCounts
	opt []metric.ObserveOption
}

// meterState is a provider's message instruments and the counters its
// callback reports.
type meterState struct {
	recvMsgs, recvBytes, sentMsgs, sentBytes metric.Int64ObservableCounter

	mu      sync.Mutex
	entries map[attribute.Distinct]*countEntry
}

// meters holds the meterState of each (comparable) MeterProvider seen. A
// provider stays here for the life of the process (one per process is the
// usual case).
var meters sync.Map // metric.MeterProvider -> *meterState

// stateFor returns mp's meterState, making and registering it on first
// use.
func stateFor(mp metric.MeterProvider, m metric.Meter) *meterState {
	return perProvider(&meters, mp, func() *meterState { return newMeterState(m) })
}

// perProvider returns the state of mp in states, made by mk on first use.
// A provider whose type is not comparable gets a state of its own each
// time. When two goroutines make one at once, the first stored wins (the
// other's callback observes nothing).
func perProvider[T any](states *sync.Map, mp metric.MeterProvider, mk func() T) T {
	comparable := reflect.TypeOf(mp).Comparable()
	if comparable {
		if st, ok := states.Load(mp); ok {
			return st.(T)
		}
	}
	st := mk()
	if comparable {
		if prev, loaded := states.LoadOrStore(mp, st); loaded {
			return prev.(T)
		}
	}
	return st
}

func newMeterState(m metric.Meter) *meterState {
	st := &meterState{entries: map[attribute.Distinct]*countEntry{}}
	st.sentMsgs = observableCounter(m, NameSentMessages, "{message}", "Messages sent (tcp: writes; udp: datagrams; websocket: data messages).")
	st.recvMsgs = observableCounter(m, NameReceivedMessages, "{message}", "Messages received (tcp: reads handed to a callback; udp: datagrams; websocket: data messages).")
	st.sentBytes = observableCounter(m, NameSentBytes, "By", "Payload bytes sent.")
	st.recvBytes = observableCounter(m, NameReceivedBytes, "By", "Payload bytes received.")
	m.RegisterCallback(st.observe, st.sentMsgs, st.recvMsgs, st.sentBytes, st.recvBytes)
	return st
}

// counts returns the counters of attribute set set, shared by every Set
// of this provider with the same attributes.
func (st *meterState) counts(set attribute.Set) *msgCounts {
	st.mu.Lock()
	defer st.mu.Unlock()
	if e, ok := st.entries[set.Equivalent()]; ok {
		return e.c
	}
	e := &countEntry{c: &msgCounts{}, opt: []metric.ObserveOption{metric.WithAttributeSet(set)}}
	st.entries[set.Equivalent()] = e
	return e.c
}

func (st *meterState) observe(_ context.Context, o metric.Observer) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, e := range st.entries {
		if v := e.c.recvMsgs.Load(); v > 0 {
			o.ObserveInt64(st.recvMsgs, v, e.opt...)
			o.ObserveInt64(st.recvBytes, e.c.recvBytes.Load(), e.opt...)
		}
		if v := e.c.sentMsgs.Load(); v > 0 {
			o.ObserveInt64(st.sentMsgs, v, e.opt...)
			o.ObserveInt64(st.sentBytes, e.c.sentBytes.Load(), e.opt...)
		}
	}
	return nil
}
