package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// wsTestServer starts a websocket listener with up at /ws and returns the
// URL.
func wsTestServer(t *testing.T, up websocket.UpgradeService, sc *websocket.ServiceConfig) string {
	t.Helper()
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/ws", up, sc); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	return "ws://" + l.Addr().String() + "/ws"
}

func wsRun(t *testing.T, ctx context.Context, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut syncWriter
	err := Run(ctx, append([]string{"ws", "connect"}, args...), stdin, &out, &errOut)
	return out.String(), errOut.String(), err
}

func wsEvents(t *testing.T, out string) []wsEvent {
	t.Helper()
	var evs []wsEvent
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev wsEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		evs = append(evs, ev)
	}
	return evs
}

// wsSession runs "ws connect" with piped stdin and stdout: lines yields
// stdout's lines, done the command's result.
type wsSession struct {
	in    *io.PipeWriter
	lines chan string
	done  chan error
	err   *syncWriter
}

func wsStart(t *testing.T, ctx context.Context, args ...string) *wsSession {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &wsSession{in: inW, lines: make(chan string, 64), done: make(chan error, 1), err: &syncWriter{}}
	go func() {
		err := Run(ctx, append([]string{"ws", "connect"}, args...), inR, outW, s.err)
		outW.Close()
		s.done <- err
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	t.Cleanup(func() { inW.Close(); outR.Close() })
	return s
}

func (s *wsSession) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-s.lines:
		if !ok {
			t.Fatalf("stdout ended; stderr %q", s.err.String())
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no output within 10 s")
	}
	return ""
}

func (s *wsSession) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("ws connect did not end within 10 s")
	}
	return nil
}

func (s *wsSession) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

func TestWSConnectEchoJSON(t *testing.T) {
	url := wsTestServer(t, websocket.Static(websocket.Echo), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := wsStart(t, ctx, "--json", url)
	var got []string
	got = append(got, s.line(t))
	s.send(t, "hello")
	got = append(got, s.line(t))
	s.send(t, "world \u00e9")
	got = append(got, s.line(t))
	s.in.Close() // end of input: clean close
	got = append(got, s.line(t))
	if err := s.wait(t); err != nil {
		t.Fatalf("%v\n%s", err, s.err.String())
	}
	evs := wsEvents(t, strings.Join(got, "\n"))
	want := []wsEvent{{Event: "open", URL: url, HTTP: "1.1", Status: 101}, {Event: "text", Data: "hello"}, {Event: "text", Data: "world \u00e9"}, {Event: "close", Code: 1000}}
	for i := range want {
		if evs[i] != want[i] {
			t.Fatalf("event %d: %+v, want %+v", i, evs[i], want[i])
		}
	}
}

func TestWSConnectBinaryHeadersSubprotocol(t *testing.T) {
	seen := make(chan string, 2)
	up := websocket.UpgradeFunc(func(r *http.Request, h http.Header) (websocket.Service, error) {
		seen <- r.Header.Get("X-Test")
		return &websocket.ServiceFuncs{OnTextMessage: func(c *websocket.Conn, text []byte) error {
			return c.WriteBinaryMessage(context.Background(), text)
		}}, nil
	})
	url := wsTestServer(t, up, &websocket.ServiceConfig{SubProtocols: []string{"chat"}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := wsStart(t, ctx, "--binary", "base64", "--header", "X-Test: yes", "--subprotocol", "chat", url)
	s.send(t, "hi")
	if l := s.line(t); l != "aGk=" {
		t.Fatalf("stdout %q", l)
	}
	s.in.Close()
	if err := s.wait(t); err != nil {
		t.Fatal(err)
	}
	if e := s.err.String(); !strings.Contains(e, "subprotocol chat") || !strings.Contains(e, "closed: 1000") {
		t.Fatalf("stderr %q", e)
	}
	if h := <-seen; h != "yes" {
		t.Fatalf("server saw X-Test %q", h)
	}
	// hex, JSON.
	s = wsStart(t, ctx, "--json", "--subprotocol", "chat", url)
	if l := s.line(t); !strings.Contains(l, `"subprotocol":"chat"`) {
		t.Fatalf("open %q", l)
	}
	s.send(t, "hi")
	if l := s.line(t); l != `{"event":"binary","data":"6869","encoding":"hex"}` {
		t.Fatalf("binary %q", l)
	}
	s.in.Close()
	if err := s.wait(t); err != nil {
		t.Fatal(err)
	}
}

// TestWSConnectCancel: cancelling the context (Ctrl-C) closes cleanly.
func TestWSConnectCancel(t *testing.T) {
	closed := make(chan int, 1)
	up := websocket.Static(&websocket.ServiceFuncs{
		OnClose: func(c *websocket.Conn, code int, reason string) { closed <- code },
	})
	url := wsTestServer(t, up, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := wsStart(t, ctx, "--json", url)
	if l := s.line(t); !strings.Contains(l, `"open"`) {
		t.Fatalf("first line %q", l)
	}
	cancel()
	if l := s.line(t); l != `{"event":"close","code":1000}` {
		t.Fatalf("last line %q", l)
	}
	if err := s.wait(t); err != nil {
		t.Fatal(err)
	}
	if code := <-closed; code != 1000 {
		t.Fatalf("server saw close %d", code)
	}
}

// TestWSConnectServerCloses: the server's close ends the command.
func TestWSConnectServerCloses(t *testing.T) {
	up := websocket.Static(&websocket.ServiceFuncs{
		OnOpen: func(c *websocket.Conn) error { return &websocket.CloseError{Code: 4000, Reason: "go away"} },
	})
	url := wsTestServer(t, up, nil)
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, _, err := wsRun(t, ctx, pr, "--json", url)
	if err != nil {
		t.Fatal(err)
	}
	evs := wsEvents(t, out)
	if last := evs[len(evs)-1]; last.Event != "close" || last.Code != 4000 || last.Reason != "go away" {
		t.Fatalf("events %+v", evs)
	}
}

func TestWSConnectErrors(t *testing.T) {
	ctx := context.Background()
	if _, _, err := wsRun(t, ctx, strings.NewReader(""), "not a url"); err == nil {
		t.Fatal("malformed URL accepted")
	}
	if _, _, err := wsRun(t, ctx, strings.NewReader("")); !errors.Is(err, ErrUsage) {
		t.Fatalf("no URL: %v", err)
	}
	if _, _, err := wsRun(t, ctx, strings.NewReader(""), "--binary", "octal", "ws://127.0.0.1:1/"); !errors.Is(err, ErrUsage) {
		t.Fatalf("bad --binary: %v", err)
	}
	if _, _, err := wsRun(t, ctx, strings.NewReader(""), "--header", "nocolon", "ws://127.0.0.1:1/"); !errors.Is(err, ErrUsage) {
		t.Fatalf("bad --header: %v", err)
	}
	url := wsTestServer(t, websocket.Static(websocket.Echo), nil)
	missing := strings.TrimSuffix(url, "/ws") + "/missing"
	_, errOut, err := wsRun(t, ctx, strings.NewReader(""), missing)
	if err == nil || !strings.Contains(err.Error(), "404") || errOut != "" {
		t.Fatalf("404: %v, stderr %q", err, errOut)
	}
	// Main prints the error once (it was printed twice: as an "error:"
	// event and by Main).
	var stderr bytes.Buffer
	if code := exitCode(err, &stderr); code != 1 || strings.Count(stderr.String(), "404") != 1 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	// With --json the error is one event on stdout, and Main adds nothing.
	out, errOut, err := wsRun(t, ctx, strings.NewReader(""), "--json", missing)
	stderr.Reset()
	if code := exitCode(err, &stderr); code != 1 || stderr.Len() != 0 || errOut != "" || strings.Count(out, `"event":"error"`) != 1 {
		t.Fatalf("--json: exit %d, stdout %q, stderr %q %q", code, out, errOut, stderr.String())
	}
}

// Piped input: the replies that arrive after the end of input are printed,
// until the server closes (here after "bye"; --wait is far longer). Before
// the fix the close went out at the end of input and the replies were lost.
func TestWSConnectPipedInputGetsReplies(t *testing.T) {
	up := websocket.Static(&websocket.ServiceFuncs{
		OnTextMessage: func(c *websocket.Conn, text []byte) error {
			if err := c.WriteTextMessage(context.Background(), text); err != nil {
				return err
			}
			if string(text) == "bye" {
				return c.Close(context.Background(), 1000, "done")
			}
			return nil
		},
	})
	url := wsTestServer(t, up, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, errOut, err := wsRun(t, ctx, strings.NewReader("hello\nworld\nbye\n"), url, "--wait", "1m")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, errOut)
	}
	if out != "hello\nworld\nbye\n" || !strings.Contains(errOut, "closed: 1000 done") {
		t.Fatalf("stdout %q, stderr %q", out, errOut)
	}
	if ctx.Err() != nil {
		t.Fatal("ws connect waited for its context")
	}
}

// A server that neither answers nor closes: after --wait the client closes.
func TestWSConnectWaitEnds(t *testing.T) {
	closed := make(chan int, 1)
	up := websocket.Static(&websocket.ServiceFuncs{
		OnTextMessage: func(c *websocket.Conn, text []byte) error { return nil },
		OnClose:       func(c *websocket.Conn, code int, reason string) { closed <- code },
	})
	url := wsTestServer(t, up, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, errOut, err := wsRun(t, ctx, strings.NewReader("anyone?\n"), "--json", "--wait", "50ms", url)
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, errOut)
	}
	evs := wsEvents(t, out)
	if len(evs) != 2 || evs[0].Event != "open" || evs[1] != (wsEvent{Event: "close", Code: 1000}) {
		t.Fatalf("events %+v", evs)
	}
	if code := <-closed; code != 1000 {
		t.Fatalf("server saw close %d", code)
	}
}

// The README's "ws listen 9001 --echo": flags after the port; without
// --echo messages are printed (binary in hex).
func TestWSListenEchoesAndPrints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := startCommand(t, "ws", "listen", "0", "--echo", "--path", "/echo")
	c, err := websocket.Dial(ctx, "ws://"+r.addr(t, "ws")+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteTextMessage(ctx, []byte("echo me"))
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != "echo me" {
		t.Fatalf("echo %q, %v", s, err)
	}
	c.Close(ctx, 1000, "")
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	r = startCommand(t, "ws", "listen", "0")
	c, err = websocket.Dial(ctx, "ws://"+r.addr(t, "ws")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteTextMessage(ctx, []byte("print me"))
	c.WriteBinaryMessage(ctx, []byte{0xca, 0xfe})
	// The close handshake ends after both messages were handled.
	if err := c.Close(ctx, 1000, ""); err != nil {
		t.Fatal(err)
	}
	r.log.wait(t, regexp.MustCompile(`msg=closed proto=ws .* code=1000`))
	if got := r.out.String(); got != "print me\ncafe\n" {
		t.Fatalf("printed %q", got)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// wssTestServer starts a TLS websocket Listener (HTTP/2 offered unless
// disableH2) echoing at /ws and returns its wss URL.
func wssTestServer(t *testing.T, disableH2 bool) string {
	t.Helper()
	srvTLS, _ := netkittest.TLSPair(t)
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", TLSConfig: srvTLS, DisableHTTP2: disableH2})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/ws", websocket.Static(websocket.Echo), nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	return "wss://" + l.Addr().String() + "/ws"
}

// TestWSConnectH2: --h2 dials a TLS Listener over HTTP/2 (--insecure: its
// certificate is not checked), --verbose names the HTTP version and status,
// --json's open event carries them; against a Listener without HTTP/2 the
// same flags fall back to HTTP/1.1 and say so.
func TestWSConnectH2(t *testing.T) {
	for _, tc := range []struct {
		name    string
		disable bool
		http    string
		status  int
	}{{"h2", false, "2", 200}, {"fallback", true, "1.1", 101}} {
		t.Run(tc.name, func(t *testing.T) {
			url := wssTestServer(t, tc.disable)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			s := wsStart(t, ctx, "--h2", "--insecure", "--verbose", url)
			s.send(t, "over h2")
			if l := s.line(t); l != "over h2" {
				t.Fatalf("stdout %q", l)
			}
			s.in.Close()
			if err := s.wait(t); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("connected to %s over HTTP/%s (status %d)", url, tc.http, tc.status)
			if e := s.err.String(); !strings.Contains(e, want) {
				t.Fatalf("stderr %q, want %q", e, want)
			}

			s = wsStart(t, ctx, "--h2", "--insecure", "--json", url)
			evs := wsEvents(t, s.line(t))
			if ev := evs[0]; ev.Event != "open" || ev.HTTP != tc.http || ev.Status != tc.status {
				t.Errorf("open event %+v", ev)
			}
			s.in.Close()
			if err := s.wait(t); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Without --insecure the self-signed certificate is refused.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, _, err := wsRun(t, ctx, strings.NewReader(""), "--h2", wssTestServer(t, false)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without --insecure: %v, want a certificate error", err)
	}
}
