package cli

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/netkit-go/netkit/tlsconfig"
	"github.com/netkit-go/netkit/websocket"
)

func init() {
	register(command{name: "ws connect", summary: "connect to a ws:// or wss:// URL; stdin lines are sent as text, messages printed", run: wsConnect})
}

// wsCloseGrace bounds the close handshake at the end of input or Ctrl-C.
const wsCloseGrace = 2 * time.Second

// wsListFlag is a repeatable string flag.
type wsListFlag []string

func (f *wsListFlag) String() string     { return strings.Join(*f, ", ") }
func (f *wsListFlag) Set(s string) error { *f = append(*f, s); return nil }

// wsEvent is one line of --json output.
type wsEvent struct {
	Event       string `json:"event"`
	URL         string `json:"url,omitempty"`
	Subprotocol string `json:"subprotocol,omitempty"`
	Data        string `json:"data,omitempty"`
	Encoding    string `json:"encoding,omitempty"`
	Code        int    `json:"code,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Error       string `json:"error,omitempty"`
}

func wsConnect(e *env, args []string) error {
	fs := newFlags(e, "ws connect", "[--header 'Name: value']... [--subprotocol P]... [--binary hex|base64] [--json] URL")
	var headers, subs wsListFlag
	fs.Var(&headers, "header", "add a header to the upgrade request (repeatable), as 'Name: value'")
	fs.Var(&subs, "subprotocol", "offer a subprotocol (repeatable)")
	binFmt := fs.String("binary", "hex", "how to display binary messages: hex or base64")
	asJSON := fs.Bool("json", false, "print one JSON object per event (open, text, binary, close, error)")
	timeout := fs.Duration("timeout", 30*time.Second, "handshake timeout")
	cacert := fs.String("cacert", "", "PEM file of CA certificates to trust for wss (default: the system roots)")
	noCompress := fs.Bool("no-compression", false, "do not offer permessage-deflate")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	if *binFmt != "hex" && *binFmt != "base64" {
		fmt.Fprintf(e.stderr, "--binary must be hex or base64, not %q\n", *binFmt)
		return ErrUsage
	}
	cfg := &websocket.ClientConfig{
		SubProtocols:     subs,
		HandshakeTimeout: *timeout,
		Compression:      websocket.CompressionConfig{Disable: *noCompress},
		Logger:           e.log,
	}
	if len(headers) > 0 {
		cfg.CustomHeaders = http.Header{}
		for _, h := range headers {
			name, value, ok := strings.Cut(h, ":")
			if !ok || strings.TrimSpace(name) == "" {
				fmt.Fprintf(e.stderr, "--header wants 'Name: value', got %q\n", h)
				return ErrUsage
			}
			cfg.CustomHeaders.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
	}
	if *cacert != "" {
		cfg.SecureSocket = &tlsconfig.ClientSecureSocket{Cert: *cacert}
	}
	url := fs.Arg(0)
	out := &wsPrinter{w: e.stdout, log: e.stderr, json: *asJSON, bin: *binFmt}
	c, err := websocket.Dial(e.ctx, url, cfg)
	if err != nil {
		out.event(wsEvent{Event: "error", Error: err.Error()})
		return err
	}
	out.event(wsEvent{Event: "open", URL: url, Subprotocol: c.NegotiatedSubProtocol()})

	readDone := make(chan error, 1)
	go func() {
		buf := make([]byte, 0, 4096)
		for {
			typ, p, err := c.Read(context.Background(), buf[:0])
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					out.event(wsEvent{Event: "close", Code: ce.Code, Reason: ce.Reason})
					err = nil
				}
				readDone <- err
				return
			}
			buf = p
			out.message(typ, p)
		}
	}()
	inputDone := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(e.stdin)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			if err := c.WriteTextMessage(e.ctx, sc.Bytes()); err != nil {
				inputDone <- err
				return
			}
		}
		inputDone <- sc.Err()
	}()

	var inErr error
	select {
	case err := <-readDone: // the server closed or the connection failed
		if err != nil {
			out.event(wsEvent{Event: "error", Error: err.Error()})
		}
		return err
	case inErr = <-inputDone: // end of input
	case <-e.ctx.Done(): // Ctrl-C
	}
	ctx, cancel := context.WithTimeout(context.Background(), wsCloseGrace)
	defer cancel()
	closeErr := c.Close(ctx, 1000, "")
	readErr := <-readDone
	if readErr != nil && closeErr == nil && !errors.Is(readErr, websocket.ErrClosed) {
		closeErr = readErr
	}
	if inErr != nil && !errors.Is(inErr, websocket.ErrClosed) {
		out.event(wsEvent{Event: "error", Error: inErr.Error()})
		return inErr
	}
	if closeErr != nil {
		out.event(wsEvent{Event: "error", Error: closeErr.Error()})
		return closeErr
	}
	return nil
}

// wsPrinter writes events, as text or JSON lines. Messages go to w;
// without --json, other events go to log.
type wsPrinter struct {
	w, log io.Writer
	json   bool
	bin    string
}

func (p *wsPrinter) encode(b []byte) string {
	if p.bin == "base64" {
		return base64.StdEncoding.EncodeToString(b)
	}
	return hex.EncodeToString(b)
}

func (p *wsPrinter) message(typ websocket.MessageType, data []byte) {
	if typ == websocket.TextMessage {
		if p.json {
			p.event(wsEvent{Event: "text", Data: string(data)})
			return
		}
		p.w.Write(append(data, '\n'))
		return
	}
	if p.json {
		p.event(wsEvent{Event: "binary", Data: p.encode(data), Encoding: p.bin})
		return
	}
	fmt.Fprintln(p.w, p.encode(data))
}

func (p *wsPrinter) event(ev wsEvent) {
	if p.json {
		b, _ := json.Marshal(ev)
		p.w.Write(append(b, '\n'))
		return
	}
	switch ev.Event {
	case "open":
		if ev.Subprotocol != "" {
			fmt.Fprintf(p.log, "connected to %s (subprotocol %s)\n", ev.URL, ev.Subprotocol)
		} else {
			fmt.Fprintf(p.log, "connected to %s\n", ev.URL)
		}
	case "close":
		fmt.Fprintf(p.log, "closed: %d %s\n", ev.Code, ev.Reason)
	case "error":
		fmt.Fprintf(p.log, "error: %s\n", ev.Error)
	}
}
