package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

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

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func wsRun(t *testing.T, ctx context.Context, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut syncBuffer
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
	err   *syncBuffer
}

func wsStart(t *testing.T, ctx context.Context, args ...string) *wsSession {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &wsSession{in: inW, lines: make(chan string, 64), done: make(chan error, 1), err: &syncBuffer{}}
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
	want := []wsEvent{{Event: "open", URL: url}, {Event: "text", Data: "hello"}, {Event: "text", Data: "world \u00e9"}, {Event: "close", Code: 1000}}
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
	_, errOut, err := wsRun(t, ctx, strings.NewReader(""), strings.TrimSuffix(url, "/ws")+"/missing")
	if err == nil || !strings.Contains(errOut, "404") {
		t.Fatalf("404: %v %q", err, errOut)
	}
}
