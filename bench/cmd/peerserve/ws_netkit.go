//go:build !nonetkitws

package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/netkit-go/netkit/tlsconfig"
	nkws "github.com/netkit-go/netkit/websocket"
)

// ---- netkit -----------------------------------------------------------

// netkitWS: a websocket.Listener with a ServiceFuncs service, as in the
// websocket package documentation; echo writes the message back from the
// callback (writes are synchronous), broadcast uses the documented
// encode-once path: a PreparedMessage and Conn.TrySend, which never waits
// behind another writer. TrySend writes in the caller (here the
// publisher's callback), bounded by its ctx and WriteTimeout, and its doc
// says to give it a short bound when broadcasting: the broadcast server
// sets ServiceConfig.WriteTimeout to 100 ms (a socket deadline per write,
// with no timer or context per subscriber; the doc names no figure, 100 ms
// is ours), so a stalled subscriber costs the others at most that once
// before TrySend drops it (a write cut short after some bytes closes the
// connection). The listener's Timeout (the upgrade request's read
// deadline) is left at its default, 10 s. TLS: ListenerConfig.SecureSocket
// with a CertKey (PEM files), the websocket package's documented wss
// setup.
func netkitWS(o options) (string, func(), error) {
	l, sc, err := netkitListener(o)
	if err != nil {
		return "", nil, err
	}
	// A *ServiceFuncs: the websocket package recognises the pointer (a
	// ServiceFuncs value has no hooks).
	var svc *nkws.ServiceFuncs
	if o.broadcast {
		sc.WriteTimeout = 100 * time.Millisecond
		conns := newHub[*nkws.Conn]()
		send := func(c *nkws.Conn, typ nkws.MessageType, p []byte) error {
			pm, err := nkws.NewPreparedMessage(typ, p)
			if err != nil {
				return err
			}
			conns.others(c, func(o *nkws.Conn) { o.TrySend(context.Background(), pm) })
			return nil
		}
		svc = &nkws.ServiceFuncs{
			OnOpen:          func(c *nkws.Conn) error { conns.add(c); return nil },
			OnClose:         func(c *nkws.Conn, _ int, _ string) { conns.remove(c) },
			OnTextMessage:   func(c *nkws.Conn, p []byte) error { return send(c, nkws.TextMessage, p) },
			OnBinaryMessage: func(c *nkws.Conn, p []byte) error { return send(c, nkws.BinaryMessage, p) },
		}
	} else {
		svc = &nkws.ServiceFuncs{
			OnTextMessage:   func(c *nkws.Conn, p []byte) error { return c.WriteTextMessage(context.Background(), p) },
			OnBinaryMessage: func(c *nkws.Conn, p []byte) error { return c.WriteBinaryMessage(context.Background(), p) },
		}
	}
	if err := l.Attach("/", nkws.UpgradeFunc(func(*http.Request, http.Header) (nkws.Service, error) { return svc, nil }), sc); err != nil {
		return "", nil, err
	}
	if err := l.Start(); err != nil {
		return "", nil, err
	}
	cfg := fmt.Sprintf("websocket.Listener (default Timeout 10 s), ServiceFuncs, Compression %+v", sc.Compression)
	if o.broadcast {
		cfg += "; broadcast: PreparedMessage + TrySend, WriteTimeout 100 ms"
	}
	return cfg + tlsNote(o, "ListenerConfig.SecureSocket CertKey"), func() { l.ImmediateStop() }, nil
}

// netkitListener is the listener and service configuration of the netkit
// adapters (TLS and compression as the options say).
func netkitListener(o options) (*nkws.Listener, *nkws.ServiceConfig, error) {
	h, p, err := hostPort(o.addr)
	if err != nil {
		return nil, nil, err
	}
	lc := &nkws.ListenerConfig{Host: h, MeterProvider: o.meter}
	if o.tls != nil {
		lc.SecureSocket = &tlsconfig.ListenerSecureSocket{CertKey: &tlsconfig.CertKey{CertFile: o.tls.cert, KeyFile: o.tls.key}}
	}
	l, err := nkws.NewListener(p, lc)
	if err != nil {
		return nil, nil, err
	}
	sc := &nkws.ServiceConfig{}
	switch o.compress {
	case "":
		sc.Compression.Disable = true
	case "takeover":
		sc.Compression.ContextTakeover = true
	}
	return l, sc, nil
}
