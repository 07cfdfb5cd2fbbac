package cli

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strings"
)

//go:embed page.html
var echoPage string

// pageHandler serves page at / and 404 elsewhere. page is a built-in chat
// page (echoPage, hubPage): its "{{PATH}}" becomes path, the WebSocket
// path it connects to, as a JavaScript string.
func pageHandler(page, path string) http.Handler {
	quoted, _ := json.Marshal(path) // a JS string literal, <, > and & escaped
	body := []byte(strings.ReplaceAll(page, `"{{PATH}}"`, string(quoted)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(body)
	})
}

func wsListen(e *env, args []string) error {
	f := newFlags(e, "ws listen", "[flags] PORT")
	sf := addServerFlags(f)
	echo := f.Bool("echo", false, "send each message back (default: print it on stdout, binary in hex)")
	path := f.String("path", "/ws", "the WebSocket path")
	tf := addTLSFlags(f)
	pos, err := f.parse(args, "PORT")
	if err != nil {
		return err
	}
	tc, err := tf.config(f)
	if err != nil {
		return err
	}
	port, err := parsePort(f, pos[0])
	if err != nil {
		return err
	}
	stopMetrics, err := sf.setup(f)
	if err != nil {
		return err
	}
	defer stopMetrics()
	l, err := startWS(e, *sf.host, port, *path, echoPage, wsService(e, *path, *echo), tc)
	if err != nil {
		return err
	}
	return waitAndStop(e, l.GracefulStop)
}
