//go:build !nonetkitws

package main

import (
	"context"
	"fmt"
	"net/http"

	nkws "github.com/netkit-go/netkit/websocket"
)

// ---- netkit -----------------------------------------------------------

// netkitWS: a websocket.Listener with a ServiceFuncs service, as in the
// websocket package documentation; echo writes the message back from the
// callback (writes are synchronous), broadcast uses the documented
// encode-once path: a PreparedMessage and Conn.TrySend, which never waits
// behind another writer.
func netkitWS(o options) (string, func(), error) {
	h, p, err := hostPort(o.addr)
	if err != nil {
		return "", nil, err
	}
	l, err := nkws.NewListener(p, &nkws.ListenerConfig{Host: h})
	if err != nil {
		return "", nil, err
	}
	sc := &nkws.ServiceConfig{}
	switch o.compress {
	case "":
		sc.Compression.Disable = true
	case "takeover":
		sc.Compression.ContextTakeover = true
	}
	// A *ServiceFuncs: the websocket package recognises the pointer (a
	// ServiceFuncs value has no hooks).
	var svc *nkws.ServiceFuncs
	if o.broadcast {
		conns := newHub[*nkws.Caller]()
		send := func(c *nkws.Caller, typ nkws.MessageType, p []byte) error {
			pm, err := nkws.NewPreparedMessage(typ, p)
			if err != nil {
				return err
			}
			conns.others(c, func(o *nkws.Caller) { o.TrySend(context.Background(), pm) })
			return nil
		}
		svc = &nkws.ServiceFuncs{
			OnOpen:          func(c *nkws.Caller) error { conns.add(c); return nil },
			OnClose:         func(c *nkws.Caller, _ int, _ string) { conns.remove(c) },
			OnTextMessage:   func(c *nkws.Caller, p []byte) error { return send(c, nkws.TextMessage, p) },
			OnBinaryMessage: func(c *nkws.Caller, p []byte) error { return send(c, nkws.BinaryMessage, p) },
		}
	} else {
		svc = &nkws.ServiceFuncs{
			OnTextMessage:   func(c *nkws.Caller, p []byte) error { return c.WriteTextMessage(context.Background(), p) },
			OnBinaryMessage: func(c *nkws.Caller, p []byte) error { return c.WriteBinaryMessage(context.Background(), p) },
		}
	}
	if err := l.Attach("/", nkws.UpgradeFunc(func(*http.Request, http.Header) (nkws.Service, error) { return svc, nil }), sc); err != nil {
		return "", nil, err
	}
	if err := l.Start(); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("websocket.Listener, ServiceFuncs, Compression %+v", sc.Compression), func() { l.ImmediateStop() }, nil
}
