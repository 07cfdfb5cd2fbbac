package cli

import (
	_ "embed"
	"fmt"
	"net/http"

	"github.com/netkit-go/netkit/websocket"
)

//go:embed page.html
var echoPage []byte

func init() {
	register(command{name: "ws listen", summary: "serve a WebSocket echo (--echo) or printer at PATH, with a chat page at /", run: wsListen})
}

// pageHandler serves the built-in chat page at / and 404 elsewhere.
func pageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(echoPage)
	})
}

func startWS(e *env, host string, port int, path string, svc websocket.UpgradeService) (*websocket.Listener, error) {
	l, err := websocket.NewListener(port, &websocket.ListenerConfig{Host: host, Fallback: pageHandler(), Logger: e.log, MeterProvider: meterOf(e)})
	if err != nil {
		return nil, err
	}
	if err := l.Attach(path, svc, nil); err != nil {
		return nil, err
	}
	if err := l.Start(); err != nil {
		return nil, err
	}
	return l, nil
}

func wsListen(e *env, args []string) error {
	fs := newFlags(e, "ws listen", "[--host H] [--echo] [--path P] [--metrics ADDR] PORT")
	lf := addListenFlags(fs, "send each message back")
	path := fs.String("path", "/ws", "the WebSocket path")
	port, err := lf.parse(fs, args)
	if err != nil {
		return err
	}
	stopMetrics, err := startMetrics(e, *lf.metrics)
	if err != nil {
		return err
	}
	defer stopMetrics()
	host, echo := lf.host, lf.echo
	svc := websocket.EchoService
	if !*echo {
		svc = websocket.Static(websocket.ServiceFuncs{
			OnTextMessage: func(c *websocket.Caller, text []byte) error {
				_, err := fmt.Fprintf(e.stdout, "%s\n", text)
				return err
			},
			OnBinaryMessage: func(c *websocket.Caller, data []byte) error {
				_, err := fmt.Fprintf(e.stdout, "%x\n", data)
				return err
			},
		})
	}
	l, err := startWS(e, *host, port, *path, svc)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "ws listening on ws://%s%s (page at http://%s/)\n", l.Addr(), *path, l.Addr())
	return waitAndStop(e, l.GracefulStop)
}
