//go:build !nonetkitws

package main

import (
	"context"
	"fmt"
	"net/http"

	nkhub "github.com/netkit-go/netkit/hub"
	nkws "github.com/netkit-go/netkit/websocket"
)

// netkitHubWS is the broadcast server built on package hub with its
// in-memory broker: every connection subscribes to one topic on open, and
// every message received is published on it (the publisher gets its own
// copy too; the load generator drains it). Slow consumers: a queue of 256
// per subscriber and the Disconnect policy, as gorilla's chat example
// (send channel 256, drop and close when full); the websocket default
// WriteTimeout (30 s) bounds each write, done by the subscriber's own
// writer goroutine. Echo (without -broadcast) is the plain netkit adapter.
func netkitHubWS(o options) (string, func(), error) {
	if !o.broadcast {
		return netkitWS(o)
	}
	l, sc, err := netkitListener(o)
	if err != nil {
		return "", nil, err
	}
	hb := nkhub.New(&nkhub.Config{QueueSize: 256, Policy: nkhub.Disconnect})
	const topic = "all"
	svc := &nkws.ServiceFuncs{
		OnOpen: func(c *nkws.Conn) error { return hb.Subscribe(context.Background(), c, topic) },
		OnTextMessage: func(c *nkws.Conn, p []byte) error {
			return hb.Publish(context.Background(), topic, nkws.TextMessage, p)
		},
		OnBinaryMessage: func(c *nkws.Conn, p []byte) error {
			return hb.Publish(context.Background(), topic, nkws.BinaryMessage, p)
		},
	}
	if err := l.Attach("/", nkws.UpgradeFunc(func(*http.Request, http.Header) (nkws.Service, error) { return svc, nil }), sc); err != nil {
		return "", nil, err
	}
	if err := l.Start(); err != nil {
		return "", nil, err
	}
	cfg := fmt.Sprintf("websocket.Listener, hub.New(QueueSize 256, Disconnect), in-memory broker, Compression %+v", sc.Compression)
	return cfg + tlsNote(o, "ListenerConfig.SecureSocket CertKey"), func() { hb.ImmediateStop(); l.ImmediateStop() }, nil
}
