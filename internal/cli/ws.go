package cli

import (
	"bufio"
	"context"
	"crypto/tls"
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
	HTTP        string `json:"http,omitempty"`   // open: the handshake's HTTP version, "1.1" or "2"
	Status      int    `json:"status,omitempty"` // open: its status (101, or 200 over HTTP/2)
	Data        string `json:"data,omitempty"`
	Encoding    string `json:"encoding,omitempty"`
	Code        int    `json:"code,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Error       string `json:"error,omitempty"`
}

func wsConnect(e *env, args []string) error {
	f := newFlags(e, "ws connect", "[flags] URL")
	var headers, subs wsListFlag
	f.Var(&headers, "header", "add a header to the upgrade request (repeatable), as 'Name: value'")
	f.Var(&subs, "subprotocol", "offer a subprotocol (repeatable)")
	binFmt := f.String("binary", "hex", "how to display binary messages: hex or base64")
	asJSON := f.Bool("json", false, "print one JSON object per event (open, text, binary, close, error) on stdout")
	timeout := f.Duration("timeout", 30*time.Second, "handshake timeout")
	wait := f.Duration("wait", defaultWSWait, "after the end of input, how long to keep printing replies before closing (the server's close ends it sooner; 0: close at once)")
	cacert := f.String("cacert", "", "PEM file of CA certificates to trust for wss (default: the system roots)")
	noCompress := f.Bool("no-compression", false, "do not offer permessage-deflate")
	h2 := f.Bool("h2", false, "dial wss URLs over HTTP/2 (RFC 8441 extended CONNECT), falling back to HTTP/1.1 when the server does not offer it")
	insecure := f.Bool("insecure", false, "skip wss certificate verification (local testing only)")
	verbose := f.Bool("verbose", false, "also print the handshake's HTTP version and status")
	pos, err := f.parse(args, "URL")
	if err != nil {
		return err
	}
	if *binFmt != "hex" && *binFmt != "base64" {
		return f.fail("--binary must be hex or base64, not %q", *binFmt)
	}
	if *wait < 0 {
		return f.fail("--wait must not be negative")
	}
	cfg := &websocket.ClientConfig{
		SubProtocols:     subs,
		HandshakeTimeout: *timeout,
		Compression:      websocket.CompressionConfig{Disable: *noCompress},
		Logger:           e.log,
		HTTP2:            *h2,
	}
	if *insecure {
		cfg.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	}
	if len(headers) > 0 {
		cfg.CustomHeaders = http.Header{}
		for _, h := range headers {
			name, value, ok := strings.Cut(h, ":")
			if !ok || strings.TrimSpace(name) == "" {
				return f.fail("--header wants 'Name: value', got %q", h)
			}
			cfg.CustomHeaders.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
	}
	if *cacert != "" {
		cfg.SecureSocket = &tlsconfig.ClientSecureSocket{Cert: *cacert}
	}
	url := pos[0]
	out := &wsPrinter{w: e.stdout, log: e.stderr, json: *asJSON, bin: *binFmt, verbose: *verbose}
	c, err := websocket.Dial(e.ctx, url, cfg)
	if err != nil {
		return out.fail(err)
	}
	out.event(wsEvent{Event: "open", URL: url, Subprotocol: c.NegotiatedSubProtocol(), HTTP: c.HTTPVersion(), Status: c.HandshakeResponse().StatusCode})

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
		return out.fail(err)
	case inErr = <-inputDone: // end of input: replies may still come
		if inErr == nil && *wait > 0 {
			t := time.NewTimer(*wait)
			defer t.Stop()
			select {
			case err := <-readDone: // the server closed within --wait
				return out.fail(err)
			case <-t.C:
			case <-e.ctx.Done():
			}
		}
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
		return out.fail(inErr)
	}
	return out.fail(closeErr)
}

// defaultWSWait is --wait's default: long enough for an echo's replies on
// any network, short enough not to hang a script whose server stays open.
const defaultWSWait = 2 * time.Second

// wsPrinter writes events, as text or JSON lines. Messages go to w;
// without --json, other events go to log.
type wsPrinter struct {
	w, log  io.Writer
	json    bool
	bin     string
	verbose bool // the open line names the HTTP version and status
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

// fail reports err once and returns it (nil for nil): with --json as an
// error event on stdout (Main then prints nothing more), otherwise it is
// left to Main, which prints it on stderr.
func (p *wsPrinter) fail(err error) error {
	if err == nil {
		return nil
	}
	if p.json {
		p.event(wsEvent{Event: "error", Error: err.Error()})
		return reportedError{err}
	}
	return err
}

func (p *wsPrinter) event(ev wsEvent) {
	if p.json {
		b, _ := json.Marshal(ev)
		p.w.Write(append(b, '\n'))
		return
	}
	switch ev.Event {
	case "open":
		via := ""
		if p.verbose {
			via = fmt.Sprintf(" over HTTP/%s (status %d)", ev.HTTP, ev.Status)
		}
		if ev.Subprotocol != "" {
			fmt.Fprintf(p.log, "connected to %s%s (subprotocol %s)\n", ev.URL, via, ev.Subprotocol)
		} else {
			fmt.Fprintf(p.log, "connected to %s%s\n", ev.URL, via)
		}
	case "close":
		fmt.Fprintf(p.log, "closed: %d %s\n", ev.Code, ev.Reason)
	}
}
