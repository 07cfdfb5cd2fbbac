package main

import (
	"compress/flate"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
	gorilla "github.com/gorilla/websocket"
	nbtls "github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/lxzan/gws"
)

// hub is the set of connections a broadcast server sends to.
type hub[T comparable] struct {
	mu sync.Mutex
	m  map[T]struct{}
}

func newHub[T comparable]() *hub[T] { return &hub[T]{m: map[T]struct{}{}} }

func (h *hub[T]) add(c T)    { h.mu.Lock(); h.m[c] = struct{}{}; h.mu.Unlock() }
func (h *hub[T]) remove(c T) { h.mu.Lock(); delete(h.m, c); h.mu.Unlock() }

// others calls f for every connection but from, under the hub's lock.
func (h *hub[T]) others(from T, f func(T)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.m {
		if c != from {
			f(c)
		}
	}
}

// serveHTTP runs srv on o.addr: plain, or with -tls net/http's
// Server.ServeTLS with the certificate files (net/http's documented way to
// serve HTTPS; gorilla's Upgrader, coder's Accept and gws's Upgrader work
// on any http.Handler, and none of them documents another TLS setup).
func serveHTTP(o options, srv *http.Server) (func(), error) {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, err
	}
	if o.tls != nil {
		go srv.ServeTLS(ln, o.tls.cert, o.tls.key)
	} else {
		go srv.Serve(ln)
	}
	return func() { srv.Close() }, nil
}

// tlsNote is appended to an adapter's configuration.
func tlsNote(o options, how string) string {
	if o.tls == nil {
		return ""
	}
	return "; TLS: " + how
}

// ---- gorilla ----------------------------------------------------------

// gorillaWS: Upgrader with 1 KiB buffers and a WriteBufferPool (gorilla's
// doc.go "Buffers" section and peers.md §7); echo with NextReader /
// NextWriter + io.Copy (doc.go: "Applications can also send and receive
// messages using the io.WriteCloser and io.Reader interfaces"); broadcast as
// in examples/chat (hub.go, client.go): a hub, a send channel of 256 and a
// write pump per client with writeWait = 10 s per write; a client whose
// channel is full is dropped: the hub closes its channel and the write pump
// sends a close message and closes the connection. A PreparedMessage
// encodes each message once. The server is a plain http.Server, as
// examples/chat's http.ListenAndServe (no header timeout). Compression:
// gorilla supports no context takeover only (doc.go "Compression
// EXPERIMENTAL").
func gorillaWS(o options) (string, func(), error) {
	up := gorilla.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{},
		EnableCompression: o.compress != ""}
	type client struct {
		c    *gorilla.Conn
		send chan *gorilla.PreparedMessage
	}
	conns := newHub[*client]()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if !o.broadcast {
			for {
				mt, rd, err := c.NextReader()
				if err != nil {
					return
				}
				wr, err := c.NextWriter(mt)
				if err != nil {
					return
				}
				if _, err := io.Copy(wr, rd); err != nil {
					return
				}
				if err := wr.Close(); err != nil {
					return
				}
			}
		}
		cl := &client{c: c, send: make(chan *gorilla.PreparedMessage, 256)}
		conns.add(cl)
		done := make(chan struct{})
		go func() { // write pump (examples/chat client.go writePump)
			defer close(done)
			defer c.Close()
			for {
				pm, ok := <-cl.send
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if !ok { // the hub closed the channel
					c.WriteMessage(gorilla.CloseMessage, []byte{})
					return
				}
				if err := c.WritePreparedMessage(pm); err != nil {
					return
				}
			}
		}()
		defer func() {
			conns.mu.Lock()
			if _, ok := conns.m[cl]; ok {
				delete(conns.m, cl)
				close(cl.send)
			}
			conns.mu.Unlock()
			<-done
		}()
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			pm, err := gorilla.NewPreparedMessage(mt, p)
			if err != nil {
				return
			}
			conns.others(cl, func(o *client) {
				select {
				case o.send <- pm:
				default: // slow client: dropped, as examples/chat does
					delete(conns.m, o)
					close(o.send)
				}
			})
		}
	})
	stop, err := serveHTTP(o, &http.Server{Handler: h})
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("Upgrader{ReadBufferSize:1024, WriteBufferSize:1024, WriteBufferPool, EnableCompression:%v (no context takeover only)}, NextReader/NextWriter echo; broadcast: examples/chat hub (send chan 256, drop + close when full, 10 s write wait); http.Server without timeouts (examples use http.ListenAndServe)", o.compress != "") +
		tlsNote(o, "net/http Server.ServeTLS"), stop, nil
}

// ---- coder ------------------------------------------------------------

// coderWS: websocket.Accept, and the echo loop of coder's
// internal/examples/echo (c.Reader, c.Writer, io.Copy, with a 10 s context
// per message), served by an http.Server with ReadTimeout and WriteTimeout
// of 10 s as in internal/examples/echo/main.go and chat/main.go (net/http
// clears the deadlines when the connection is hijacked, so they bound the
// upgrade request only); broadcast as in internal/examples/chat/chat.go: a
// channel of 16 messages per subscriber, writes bounded by 5 s, and a
// subscriber whose channel is full is closed asynchronously (publish does
// `go s.closeSlow()`: Close with StatusPolicyViolation). The read limit is
// raised from coder's 32 KiB default to 16 MiB (Conn.SetReadLimit).
func coderWS(o options) (string, func(), error) {
	mode := coder.CompressionDisabled
	switch o.compress {
	case "no-takeover":
		mode = coder.CompressionNoContextTakeover
	case "takeover":
		mode = coder.CompressionContextTakeover
	}
	type sub struct {
		c         *coder.Conn
		msgs      chan []byte
		closeSlow func()
	}
	conns := newHub[*sub]()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: mode})
		if err != nil {
			return
		}
		defer c.CloseNow()
		// coder's default read limit is 32 KiB per message (SetReadLimit's
		// doc); W3's burst sends 1 MiB, so raise it to 16 MiB, the default
		// of netkit and gws.
		c.SetReadLimit(16 << 20)
		ctx := r.Context()
		if !o.broadcast {
			for {
				if err := coderEcho(ctx, c); err != nil {
					return
				}
			}
		}
		s := &sub{c: c, msgs: make(chan []byte, 16)}
		s.closeSlow = sync.OnceFunc(func() {
			c.Close(coder.StatusPolicyViolation, "connection too slow to keep up with messages")
		})
		conns.add(s)
		defer conns.remove(s)
		go func() {
			for {
				typ, p, err := c.Read(ctx)
				if err != nil {
					c.CloseNow()
					return
				}
				_ = typ
				conns.others(s, func(o *sub) {
					select {
					case o.msgs <- p:
					default: // as examples/chat's publish: go s.closeSlow()
						go o.closeSlow()
					}
				})
			}
		}()
		for {
			select {
			case p := <-s.msgs:
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := c.Write(wctx, coder.MessageBinary, p)
				cancel()
				if err != nil {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	})
	stop, err := serveHTTP(o, &http.Server{Handler: h, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("Accept(CompressionMode %v), Reader/Writer+io.Copy echo with 10 s context per message (internal/examples/echo), SetReadLimit 16 MiB; broadcast: examples/chat (chan 16, 5 s write timeout, async closeSlow); http.Server ReadTimeout/WriteTimeout 10 s (examples' main.go)", mode) +
		tlsNote(o, "net/http Server.ServeTLS"), stop, nil
}

func coderEcho(ctx context.Context, c *coder.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	typ, r, err := c.Reader(ctx)
	if err != nil {
		return err
	}
	w, err := c.Writer(ctx, typ)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		return err
	}
	return w.Close()
}

// ---- gobwas -----------------------------------------------------------

// gobwasWS: the README's zero-copy upgrade on a raw net.Listener
// (ws.Upgrade(conn)) and a goroutine per connection with
// wsutil.ReadClientData / wsutil.WriteServerMessage; with compression, the
// README's wsflate frame loop (DefaultParameters: no context takeover).
// The README sets no deadline; this adapter bounds the upgrade (and the
// TLS handshake) by 10 s, as any server on a raw listener must. Broadcast:
// gobwas has no broadcast helper or example, so it mirrors gorilla's
// examples/chat: a channel of 256 and a writer goroutine per connection,
// 10 s per write, and a connection whose channel is full is dropped and
// closed. TLS: crypto/tls's NewListener around the raw listener (gobwas
// documents no TLS setup; ws.Upgrade works on any net.Conn).
func gobwasWS(o options) (string, func(), error) {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return "", nil, err
	}
	if o.tls != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{o.tls.pair}})
	}
	type client struct {
		c    net.Conn
		send chan []byte
	}
	conns := newHub[*client]()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				if o.compress != "" {
					e := wsflate.Extension{Parameters: wsflate.DefaultParameters}
					u := ws.Upgrader{Negotiate: e.Negotiate}
					if _, err := u.Upgrade(conn); err != nil {
						return
					}
					conn.SetDeadline(time.Time{})
					_, ok := e.Accepted()
					gobwasDeflateEcho(conn, ok)
					return
				}
				if _, err := ws.Upgrade(conn); err != nil {
					return
				}
				conn.SetDeadline(time.Time{})
				if !o.broadcast {
					for {
						msg, op, err := wsutil.ReadClientData(conn)
						if err != nil {
							return
						}
						if err := wsutil.WriteServerMessage(conn, op, msg); err != nil {
							return
						}
					}
				}
				cl := &client{c: conn, send: make(chan []byte, 256)}
				conns.add(cl)
				done := make(chan struct{})
				go func() {
					defer close(done)
					defer conn.Close() // also when dropped: the channel was closed
					for p := range cl.send {
						conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
						if err := wsutil.WriteServerMessage(conn, ws.OpBinary, p); err != nil {
							return
						}
					}
				}()
				defer func() {
					conns.mu.Lock()
					if _, ok := conns.m[cl]; ok {
						delete(conns.m, cl)
						close(cl.send)
					}
					conns.mu.Unlock()
					<-done
				}()
				for {
					msg, _, err := wsutil.ReadClientData(conn)
					if err != nil {
						return
					}
					conns.others(cl, func(o *client) {
						select {
						case o.send <- msg:
						default:
							delete(conns.m, o)
							close(o.send)
						}
					})
				}
			}()
		}
	}()
	return fmt.Sprintf("ws.Upgrade(raw conn) + goroutine per conn, wsutil.ReadClientData/WriteServerMessage, 10 s deadline on the upgrade (ours); deflate: wsflate DefaultParameters + wsutil reader/writer loop (README), BestSpeed = %v; broadcast: chan 256 per conn, drop + close when full, 10 s write deadline", o.compress != "") +
			tlsNote(o, "crypto/tls NewListener"),
		func() { ln.Close() }, nil
}

// gobwasDeflateEcho is the README's "compression with wsutil" loop: one
// flate reader and writer reused per connection (wsflate.NewReader /
// NewWriter over compress/flate, level BestSpeed like the other libraries'
// defaults rather than the README's 9), wsutil.Reader/Writer with the
// wsflate.MessageState extension, control frames handled by
// wsutil.ControlFrameHandler.
func gobwasDeflateEcho(conn net.Conn, compressed bool) {
	fr := wsflate.NewReader(nil, func(r io.Reader) wsflate.Decompressor { return flate.NewReader(r) })
	fw := wsflate.NewWriter(nil, func(w io.Writer) wsflate.Compressor {
		f, _ := flate.NewWriter(w, flate.BestSpeed)
		return f
	})
	var msg wsflate.MessageState
	rd := &wsutil.Reader{Source: conn, State: ws.StateServerSide | ws.StateExtended,
		Extensions: []wsutil.RecvExtension{&msg}, MaxFrameSize: 16 << 20,
		OnIntermediate: wsutil.ControlFrameHandler(conn, ws.StateServerSide)}
	wr := wsutil.NewWriter(conn, ws.StateServerSide|ws.StateExtended, 0)
	wr.SetExtensions(&msg)
	ctl := wsutil.ControlFrameHandler(conn, ws.StateServerSide)
	for {
		h, err := rd.NextFrame()
		if err != nil {
			return
		}
		if h.OpCode.IsControl() {
			if err := ctl(h, rd); err != nil {
				return
			}
			continue
		}
		wr.ResetOp(h.OpCode)
		if msg.IsCompressed() && compressed {
			fr.Reset(rd)
			fw.Reset(wr)
			if _, err := io.Copy(fw, fr); err != nil {
				return
			}
			if err := fw.Close(); err != nil {
				return
			}
		} else if _, err := io.Copy(wr, rd); err != nil {
			return
		}
		if err := wr.Flush(); err != nil {
			return
		}
	}
}

var _ = flate.BestSpeed

// ---- gws --------------------------------------------------------------

type gwsHandler struct {
	gws.BuiltinEventHandler
	broadcast bool
	conns     *hub[*gws.Conn]
}

func (h *gwsHandler) OnOpen(c *gws.Conn) {
	if h.broadcast {
		h.conns.add(c)
	}
}

func (h *gwsHandler) OnClose(c *gws.Conn, err error) {
	if h.broadcast {
		h.conns.remove(c)
	}
}

func (h *gwsHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	if !h.broadcast {
		c.WriteMessage(m.Opcode, m.Bytes())
		return
	}
	// README "Broadcast": a Broadcaster encodes once and writes
	// asynchronously to each connection.
	b := gws.NewBroadcaster(m.Opcode, m.Bytes())
	defer b.Close()
	h.conns.others(c, func(o *gws.Conn) { b.Broadcast(o) })
}

// gwsWS: the README's "Best Practice" server (NewUpgrader, Upgrade in an
// http handler, ReadLoop in a goroutine; OnMessage writes back and closes
// the message), without ParallelEnabled so that echoes keep their order,
// on an http.Server without timeouts (the README uses
// http.ListenAndServe). Broadcast: the README's "Broadcast" (a Broadcaster
// per message, Broadcast(conn) queues an asynchronous write per
// connection); gws documents no bound on that queue, and the README's
// keepalive deadline (SetDeadline in OnOpen, renewed on ping) is not set
// because the load generator does not ping. TLS: gws's own documented
// setup, examples/wss: gws.NewServer(handler, option).RunTLS(addr, cert,
// key) (tls.NewListener with NextProtos http/1.1, gws reading the request
// itself; no timeouts).
func gwsWS(o options) (string, func(), error) {
	opt := &gws.ServerOption{
		Recovery:          gws.Recovery,
		PermessageDeflate: gws.PermessageDeflate{Enabled: o.compress != "", ServerContextTakeover: o.compress == "takeover"},
	}
	handler := &gwsHandler{broadcast: o.broadcast, conns: newHub[*gws.Conn]()}
	if o.tls != nil {
		srv := gws.NewServer(handler, opt)
		ln, err := net.Listen("tcp", o.addr) // fail early if the port is taken
		if err != nil {
			return "", nil, err
		}
		ln.Close()
		go func() {
			if err := srv.RunTLS(o.addr, o.tls.cert, o.tls.key); err != nil {
				fmt.Fprintln(os.Stderr, "peerserve: gws RunTLS:", err)
				os.Exit(1)
			}
		}()
		return fmt.Sprintf("gws.NewServer(handler, option).RunTLS (examples/wss), ParallelEnabled false, PermessageDeflate %+v", opt.PermessageDeflate),
			func() {}, nil
	}
	up := gws.NewUpgrader(handler, opt)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go c.ReadLoop()
	})
	stop, err := serveHTTP(o, &http.Server{Handler: h})
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("NewUpgrader (README best practice, ParallelEnabled false), PermessageDeflate %+v; broadcast: NewBroadcaster (README); http.Server without timeouts", opt.PermessageDeflate), stop, nil
}

// ---- nbio -------------------------------------------------------------

// nbioWS: nbhttp.Engine (non-blocking IOMod, the default) with a
// websocket.Upgrader whose OnMessage writes back (nbio-examples
// websocket/server), ReleaseWebsocketPayload on (peers.md §7),
// MaxWriteBufferSize 6 MiB as in the README's Quick Start (nbhttp.Config:
// a connection whose Send-Q is full and which has more than that queued in
// nbio is closed; the default, 0, queues without limit); broadcast writes
// to each connection with Conn.WriteMessage, which nbio queues without
// blocking (concurrent-safe writes, README). Header timeout: the engine's
// KeepaliveTime, 120 s by default, is the read deadline of a new
// connection. TLS: nbhttp.Config AddrsTLS + TLSConfig (nbio's fork of
// crypto/tls, github.com/lesismal/llib/std/crypto/tls), as
// examples/websocket_tls/server.
func nbioWS(o options) (string, func(), error) {
	up := nbws.NewUpgrader()
	up.EnableCompression(o.compress != "")
	conns := newHub[*nbws.Conn]()
	if o.broadcast {
		up.OnOpen(func(c *nbws.Conn) { conns.add(c) })
		up.OnClose(func(c *nbws.Conn, err error) { conns.remove(c) })
		up.OnMessage(func(c *nbws.Conn, mt nbws.MessageType, p []byte) {
			conns.others(c, func(o *nbws.Conn) { o.WriteMessage(mt, p) })
		})
	} else {
		up.OnMessage(func(c *nbws.Conn, mt nbws.MessageType, p []byte) { c.WriteMessage(mt, p) })
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, err := up.Upgrade(w, r, nil); err != nil {
			return
		}
	})
	conf := nbhttp.Config{Network: "tcp", Addrs: []string{o.addr}, Handler: mux, ReleaseWebsocketPayload: true,
		MaxWriteBufferSize: 6 << 20}
	if o.tls != nil {
		pair, err := nbtls.X509KeyPair(mustRead(o.tls.cert), mustRead(o.tls.key))
		if err != nil {
			return "", nil, err
		}
		conf.Addrs, conf.AddrsTLS = nil, []string{o.addr}
		conf.TLSConfig = &nbtls.Config{Certificates: []nbtls.Certificate{pair}}
	}
	eng := nbhttp.NewEngine(conf)
	if err := eng.Start(); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("nbhttp.Engine IOModNonBlocking, ReleaseWebsocketPayload, MaxWriteBufferSize 6 MiB (README), Upgrader.EnableCompression(%v)", o.compress != "") +
			tlsNote(o, "nbhttp.Config AddrsTLS + TLSConfig (llib crypto/tls)"),
		func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			eng.Shutdown(ctx)
		}, nil
}

var _ = errors.New

func mustRead(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peerserve:", err)
		os.Exit(1)
	}
	return b
}
