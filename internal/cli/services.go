package cli

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"strconv"

	"github.com/netkit-go/netkit/tcp"
	"github.com/netkit-go/netkit/udp"
	"github.com/netkit-go/netkit/websocket"
)

// The services of serve and the listen commands: each logs its traffic
// through the command's logger with one vocabulary (proto, conn.id, remote,
// path, code, reason, bytes, err) and either echoes what arrives or prints
// it on stdout (text as it is, WebSocket binary messages in hex).

// logDebug logs msg at debug level; the attributes are built only when
// --verbose enabled it.
func logDebug(log *slog.Logger, msg string, attrs func() []any) {
	if log.Enabled(context.Background(), slog.LevelDebug) {
		log.Debug(msg, attrs()...)
	}
}

// tcpService logs each connection and echoes (or prints) its bytes.
func tcpService(e *env, echo bool) tcp.Service {
	return tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		e.log.Info("connected", "proto", "tcp", "conn.id", c.ID(), "remote", c.RemoteAddr().String())
		return &tcpConn{e: e, echo: echo}, nil
	})
}

type tcpConn struct {
	e    *env
	echo bool
}

func (s *tcpConn) OnBytes(c *tcp.Caller, data []byte) ([]byte, error) {
	logDebug(s.e.log, "bytes", func() []any { return []any{"proto", "tcp", "conn.id", c.ID(), "bytes", len(data)} })
	if s.echo {
		return data, nil
	}
	return nil, s.e.printf("%s", data)
}

func (s *tcpConn) OnClose(c *tcp.Caller) {
	s.e.log.Info("closed", "proto", "tcp", "conn.id", c.ID(), "remote", c.RemoteAddr().String())
}

func (s *tcpConn) OnError(c *tcp.Caller, err error) {
	s.e.log.Warn("error", "proto", "tcp", "conn.id", c.ID(), "remote", c.RemoteAddr().String(), "err", err)
}

// udpService logs each datagram and echoes (or prints) it.
func udpService(e *env, echo bool) udp.Service {
	return udp.BytesFunc(func(c udp.Caller, data []byte) ([]byte, error) {
		e.log.Info("datagram", "proto", "udp", "remote", c.Addr().String(), "bytes", len(data))
		if echo {
			return data, nil
		}
		return nil, e.printf("%s\n", data)
	})
}

// wsService logs each connection at path, its messages (--verbose) and its
// close, and echoes (or prints) its messages.
func wsService(e *env, path string, echo bool) websocket.UpgradeService {
	wl := wsLog{e.log, path}
	return websocket.Static(&websocket.ServiceFuncs{
		OnOpen: func(c *websocket.Conn) error {
			wl.open(c)
			return nil
		},
		OnTextMessage: func(c *websocket.Conn, text []byte) error {
			wl.message(c, "text", text)
			if echo {
				return c.WriteTextMessage(context.Background(), text)
			}
			return e.printf("%s\n", text)
		},
		OnBinaryMessage: func(c *websocket.Conn, data []byte) error {
			wl.message(c, "binary", data)
			if echo {
				return c.WriteBinaryMessage(context.Background(), data)
			}
			return e.printf("%x\n", data)
		},
		OnClose: wl.closed,
		OnError: wl.failed,
	})
}

// wsLog logs the events of the WebSocket connections at path with the
// shared vocabulary: connected and closed at info, each message at debug
// (--verbose), errors as warnings.
type wsLog struct {
	log  *slog.Logger
	path string
}

func (w wsLog) attrs(c *websocket.Conn, more ...any) []any {
	return append([]any{"proto", "ws", "conn.id", c.ID(), "remote", c.RemoteAddr().String(), "path", w.path}, more...)
}

// open logs the connection with the HTTP version it came over ("1.1", or
// "2": an RFC 8441 stream of an HTTP/2 connection).
func (w wsLog) open(c *websocket.Conn) {
	w.log.Info("connected", w.attrs(c, "http", c.HTTPVersion())...)
}

func (w wsLog) message(c *websocket.Conn, typ string, data []byte) {
	logDebug(w.log, "message", func() []any { return w.attrs(c, "type", typ, "bytes", len(data)) })
}

func (w wsLog) closed(c *websocket.Conn, code int, reason string) {
	w.log.Info("closed", w.attrs(c, "code", code, "reason", reason)...)
}

func (w wsLog) failed(c *websocket.Conn, err error) { w.log.Warn("error", w.attrs(c, "err", err)...) }

// serveTCP binds host:port and hands the socket to serve (a TCP or
// WebSocket listener's Serve). A bind error has the net package's format,
// as listenError gives the UDP one.
func serveTCP(host string, port int, serve func(net.Listener) error) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	if err := serve(ln); err != nil {
		ln.Close()
		return err
	}
	return nil
}

func startTCP(e *env, host string, port int, svc tcp.Service) (*tcp.Listener, error) {
	l, err := tcp.NewListener(port, &tcp.ListenerConfig{LocalHost: host, Engine: e.engine, Logger: e.log, MeterProvider: meterOf(e)})
	if err != nil {
		return nil, err
	}
	if err := l.Attach(svc); err != nil {
		return nil, err
	}
	if err := serveTCP(host, port, l.Serve); err != nil {
		return nil, err
	}
	e.log.Info("listening", "proto", "tcp", "addr", l.Addr().String())
	return l, nil
}

func startUDP(e *env, host string, port, maxDatagram int, svc udp.Service) (*udp.Listener, error) {
	l, err := udp.NewListener(port, &udp.ListenerConfig{LocalHost: host, MaxDatagramSize: maxDatagram, Logger: e.log, MeterProvider: meterOf(e)})
	if err != nil {
		return nil, err
	}
	if err := l.Attach(svc); err != nil {
		return nil, err
	}
	if err := l.Start(); err != nil {
		return nil, listenError(err)
	}
	e.log.Info("listening", "proto", "udp", "addr", l.Addr().String())
	return l, nil
}

// startWS serves svc at path on host:port, and page (see pageHandler) at /.
// With tc (nil: plain), it serves TLS, HTTP/2 and HTTP/1.1.
func startWS(e *env, host string, port int, path, page string, svc websocket.UpgradeService, tc *tls.Config) (*websocket.Listener, error) {
	l, err := websocket.NewListener(port, &websocket.ListenerConfig{Host: host, Engine: e.engine, Fallback: pageHandler(page, path), Logger: e.log, MeterProvider: meterOf(e), TLSConfig: tc})
	if err != nil {
		return nil, err
	}
	if err := l.Attach(path, svc, nil); err != nil {
		return nil, err
	}
	if err := serveTCP(host, port, l.Serve); err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	if tc != nil {
		e.log.Info("listening", "proto", "wss", "addr", addr, "url", "wss://"+addr+path, "page", "https://"+addr+"/", "http", "2, 1.1")
		return l, nil
	}
	e.log.Info("listening", "proto", "ws", "addr", addr, "url", "ws://"+addr+path, "page", "http://"+addr+"/")
	return l, nil
}
