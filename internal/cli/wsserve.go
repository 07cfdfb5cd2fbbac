package cli

import (
	_ "embed"
	"net/http"
)

//go:embed page.html
var echoPage []byte

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

func wsListen(e *env, args []string) error {
	f := newFlags(e, "ws listen", "[flags] PORT")
	sf := addServerFlags(f)
	echo := f.Bool("echo", false, "send each message back (default: print it on stdout, binary in hex)")
	path := f.String("path", "/ws", "the WebSocket path")
	pos, err := f.parse(args, "PORT")
	if err != nil {
		return err
	}
	port, err := parsePort(f, pos[0])
	if err != nil {
		return err
	}
	if err := sf.setup(f); err != nil {
		return err
	}
	stopMetrics, err := startMetrics(e, *sf.metrics)
	if err != nil {
		return err
	}
	defer stopMetrics()
	l, err := startWS(e, *sf.host, port, *path, wsService(e, *path, *echo))
	if err != nil {
		return err
	}
	return waitAndStop(e, l.GracefulStop)
}
