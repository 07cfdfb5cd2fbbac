package cli

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/netkit-go/netkit/tcp"
	"github.com/netkit-go/netkit/udp"
	"github.com/netkit-go/netkit/websocket"
)

func init() {
	register(command{name: "serve", summary: "run the seed samples' servers (TCP echo on 3000, UDP echo on 48826, WebSocket echo on 21003) until Ctrl-C", run: serve})
}

// server is one of the samples run by serve.
type server struct {
	name string
	stop func(context.Context) error
}

func serve(e *env, args []string) error {
	fs := newFlags(e, "serve", "[--host H] [--tcp-port P] [--udp-port P] [--ws-port P] [--metrics ADDR]")
	host := fs.String("host", "127.0.0.1", "address to bind (0.0.0.0 or :: for every interface)")
	tcpPort := fs.Int("tcp-port", 3000, "port of the TCP echo service (0: any free port)")
	udpPort := fs.Int("udp-port", 48826, "port of the UDP echo service (0: any free port)")
	wsPort := fs.Int("ws-port", 21003, "port of the WebSocket echo service at /ws and its page at / (0: any free port)")
	metricsAddr := addMetricsFlag(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	stopMetrics, err := startMetrics(e, *metricsAddr)
	if err != nil {
		return err
	}
	defer stopMetrics()
	var servers []server
	// If a later server cannot start, stop the ones already running.
	fail := func(what string, err error) error {
		for _, s := range servers {
			s.stop(context.Background())
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	// The tcp seed's echo listener: onConnect prints the client's port, the
	// connection service echoes, onClose prints who left.
	var outMu sync.Mutex
	l, err := startTCP(e, *host, *tcpPort, tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		printf(e.stdout, &outMu, "Client connected to echoServer: %d\n", c.RemotePort())
		return echoService{out: e.stdout, mu: &outMu}, nil
	}))
	if err != nil {
		return fail("tcp echo", err)
	}
	servers = append(servers, server{"tcp echo", l.GracefulStop})
	printf(e.stdout, &outMu, "tcp echo listening on %s\n", l.Addr())

	// The udp sample port: every datagram is echoed to its sender.
	ul, err := startUDP(e, *host, *udpPort, udp.Echo)
	if err != nil {
		return fail("udp echo", err)
	}
	servers = append(servers, server{"udp echo", ul.GracefulStop})
	printf(e.stdout, &outMu, "udp echo listening on %s\n", ul.Addr())

	// The websocket seed's service: /ws echoes each text message (and binary
	// message); / serves a page that chats with it from a browser.
	wl, err := startWS(e, *host, *wsPort, "/ws", websocket.EchoService)
	if err != nil {
		return fail("ws echo", err)
	}
	servers = append(servers, server{"ws echo", wl.GracefulStop})
	printf(e.stdout, &outMu, "ws echo listening on ws://%s/ws (page at http://%s/)\n", wl.Addr(), wl.Addr())

	printf(e.stdout, &outMu, "netkit serve: ready; Ctrl-C stops\n")
	stops := make([]func(context.Context) error, len(servers))
	for i, s := range servers {
		stops[i] = s.stop
	}
	err = waitAndStop(e, stops...)
	printf(e.stdout, &outMu, "netkit serve: stopped\n")
	return err
}

type echoService struct {
	out io.Writer
	mu  *sync.Mutex
}

func (echoService) OnBytes(c *tcp.Caller, data []byte) ([]byte, error) { return data, nil }

func (s echoService) OnClose(c *tcp.Caller) {
	printf(s.out, s.mu, "Client left: %d\n", c.RemotePort())
}

func printf(w io.Writer, mu *sync.Mutex, format string, args ...any) {
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(w, format, args...)
}
