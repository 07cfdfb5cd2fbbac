package main

import (
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
	gorilla "github.com/gorilla/websocket"
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

// serveHTTP runs an http.Server with h on addr.
func serveHTTP(addr string, h http.Handler) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}

// ---- gorilla ----------------------------------------------------------

// gorillaWS: Upgrader with 1 KiB buffers and a WriteBufferPool (gorilla's
// doc.go "Buffers" section and peers.md §7); echo with NextReader /
// NextWriter + io.Copy (doc.go: "Applications can also send and receive
// messages using the io.WriteCloser and io.Reader interfaces"); broadcast as
// in examples/chat: a hub, a buffered send channel and a write pump per
// client (a client whose channel is full is dropped), with a
// PreparedMessage so each message is encoded once. Compression: gorilla
// supports no context takeover only (doc.go "Compression EXPERIMENTAL").
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
		go func() { // write pump
			defer close(done)
			for pm := range cl.send {
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if err := c.WritePreparedMessage(pm); err != nil {
					c.Close()
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
	stop, err := serveHTTP(o.addr, h)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("Upgrader{ReadBufferSize:1024, WriteBufferSize:1024, WriteBufferPool, EnableCompression:%v (no context takeover only)}, NextReader/NextWriter echo", o.compress != ""), stop, nil
}

// ---- coder ------------------------------------------------------------

// coderWS: websocket.Accept, and the echo loop of coder's
// internal/examples/echo (c.Reader, c.Writer, io.Copy, with a 10 s context
// per message); broadcast as in internal/examples/chat: a buffered channel
// per subscriber, a slow subscriber is closed, writes bounded by 5 s.
func coderWS(o options) (string, func(), error) {
	mode := coder.CompressionDisabled
	switch o.compress {
	case "no-takeover":
		mode = coder.CompressionNoContextTakeover
	case "takeover":
		mode = coder.CompressionContextTakeover
	}
	type sub struct {
		c    *coder.Conn
		msgs chan []byte
		typ  chan coder.MessageType
	}
	conns := newHub[*sub]()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: mode})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		if !o.broadcast {
			for {
				if err := coderEcho(ctx, c); err != nil {
					return
				}
			}
		}
		s := &sub{c: c, msgs: make(chan []byte, 16)}
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
					default: // closeSlow, as examples/chat does
						o.c.Close(coder.StatusPolicyViolation, "slow")
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
	stop, err := serveHTTP(o.addr, h)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("Accept(CompressionMode %v), Reader/Writer+io.Copy echo with 10 s context per message (internal/examples/echo)", mode), stop, nil
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
// README's wsflate frame loop (DefaultParameters: no context takeover);
// broadcast with a buffered channel and writer goroutine per connection
// (gobwas has no broadcast helper).
func gobwasWS(o options) (string, func(), error) {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return "", nil, err
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
					for p := range cl.send {
						conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
						if err := wsutil.WriteServerMessage(conn, ws.OpBinary, p); err != nil {
							conn.Close()
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
	return fmt.Sprintf("ws.Upgrade(raw conn) + goroutine per conn, wsutil.ReadClientData/WriteServerMessage; deflate: wsflate DefaultParameters + wsutil reader/writer loop (README), BestSpeed = %v", o.compress != ""),
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
// the message), without ParallelEnabled so that echoes keep their order.
func gwsWS(o options) (string, func(), error) {
	opt := &gws.ServerOption{
		Recovery:          gws.Recovery,
		PermessageDeflate: gws.PermessageDeflate{Enabled: o.compress != "", ServerContextTakeover: o.compress == "takeover"},
	}
	up := gws.NewUpgrader(&gwsHandler{broadcast: o.broadcast, conns: newHub[*gws.Conn]()}, opt)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go c.ReadLoop()
	})
	stop, err := serveHTTP(o.addr, h)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("NewUpgrader (README best practice, ParallelEnabled false), PermessageDeflate %+v", opt.PermessageDeflate), stop, nil
}

// ---- nbio -------------------------------------------------------------

// nbioWS: nbhttp.Engine (non-blocking IOMod, the default) with a
// websocket.Upgrader whose OnMessage writes back (nbio-examples
// websocket/server), ReleaseWebsocketPayload on (peers.md §7); broadcast
// writes to each connection with Conn.WriteMessage, which nbio queues
// without blocking (concurrent-safe writes, README).
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
	eng := nbhttp.NewEngine(nbhttp.Config{Network: "tcp", Addrs: []string{o.addr}, Handler: mux, ReleaseWebsocketPayload: true})
	if err := eng.Start(); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("nbhttp.Engine IOModNonBlocking, ReleaseWebsocketPayload, Upgrader.EnableCompression(%v)", o.compress != ""),
		func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			eng.Shutdown(ctx)
		}, nil
}

var _ = errors.New
