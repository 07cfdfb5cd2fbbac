package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// exchange drives one TCP echo, one UDP datagram and one WebSocket message
// through a running serve, then stops it.
func exchange(t *testing.T, r *running) {
	t.Helper()
	conn, err := net.Dial("tcp", r.addr(t, "tcp"))
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write([]byte("tcp!"))
	conn.(*net.TCPConn).CloseWrite()
	if got, _ := io.ReadAll(conn); string(got) != "tcp!" {
		t.Fatalf("tcp echo %q", got)
	}
	conn.Close()

	uc, err := net.Dial("udp", r.addr(t, "udp"))
	if err != nil {
		t.Fatal(err)
	}
	uc.SetDeadline(time.Now().Add(10 * time.Second))
	uc.Write([]byte("udp!"))
	buf := make([]byte, 64)
	if n, err := uc.Read(buf); err != nil || string(buf[:n]) != "udp!" {
		t.Fatalf("udp echo %q %v", buf[:n], err)
	}
	uc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, "ws://"+r.addr(t, "ws")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteTextMessage(ctx, []byte("ws!"))
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != "ws!" {
		t.Fatalf("ws echo %q %v", s, err)
	}
	if err := c.Close(ctx, 1000, "bye"); err != nil {
		t.Fatal(err)
	}
	// The stop waits for every connection's close callback (and its log).
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// --engine picks the listeners' backend: serve answers on every protocol
// with each.
func TestServeEngines(t *testing.T) {
	for _, eng := range []string{"goroutine", "evloop"} {
		t.Run(eng, func(t *testing.T) {
			r := startCommand(t, "serve", "--tcp-port", "0", "--udp-port", "0", "--ws-port", "0", "--engine", eng)
			exchange(t, r)
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// serve logs TCP, UDP and WebSocket traffic alike through one slog logger;
// --log-format json selects the JSON handler, --verbose adds each message.
func TestServeLogsEveryProtocol(t *testing.T) {
	r := startCommand(t, "serve", "--tcp-port", "0", "--udp-port", "0", "--ws-port", "0", "--log-format", "json", "--verbose")
	exchange(t, r)
	type rec struct {
		Level, Msg, Proto, Remote, Path, Type, Reason string
		ConnID                                        string `json:"conn.id"`
		Bytes, Code                                   int
	}
	var got []string
	for _, line := range strings.Split(r.log.String(), "\n") {
		var l rec
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
		if l.Proto != "" && l.Msg != "listening" {
			if (l.Proto == "tcp" || l.Proto == "ws") && l.ConnID == "" {
				t.Errorf("no conn.id: %q", line)
			}
			got = append(got, fmt.Sprintf("%s %s %s type=%s bytes=%d code=%d reason=%s path=%s", l.Level, l.Proto, l.Msg, l.Type, l.Bytes, l.Code, l.Reason, l.Path))
		}
	}
	for _, want := range []string{
		"INFO tcp connected type= bytes=0 code=0 reason= path=",
		"DEBUG tcp bytes type= bytes=4 code=0 reason= path=",
		"INFO tcp closed type= bytes=0 code=0 reason= path=",
		"INFO udp datagram type= bytes=4 code=0 reason= path=",
		"INFO ws connected type= bytes=0 code=0 reason= path=/ws",
		"DEBUG ws message type=text bytes=3 code=0 reason= path=/ws",
		"INFO ws closed type= bytes=0 code=1000 reason=bye path=/ws",
	} {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("no log record %q in\n%s", want, strings.Join(got, "\n"))
		}
	}
}

// The default level logs connections and datagrams, not each message;
// --quiet keeps warnings and errors only, --verbose adds debug.
func TestServeLogLevels(t *testing.T) {
	r := startCommand(t, "serve", "--tcp-port", "0", "--udp-port", "0", "--ws-port", "0")
	exchange(t, r)
	log := r.log.String()
	if !strings.Contains(log, "msg=datagram proto=udp") || !strings.Contains(log, "msg=connected proto=ws") || strings.Contains(log, "level=DEBUG") {
		t.Errorf("default level logged:\n%s", log)
	}
	for _, c := range []struct {
		flag        string
		info, debug bool
	}{{"--quiet", false, false}, {"--verbose", true, true}, {"--log-format=text", true, false}} {
		e := &env{stderr: io.Discard}
		f := newFlags(e, "serve", "")
		sf := addServerFlags(f)
		if _, err := f.parse([]string{c.flag}); err != nil {
			t.Fatal(err)
		}
		if err := sf.setLogger(f); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if e.log.Enabled(ctx, slog.LevelInfo) != c.info || e.log.Enabled(ctx, slog.LevelDebug) != c.debug || !e.log.Enabled(ctx, slog.LevelWarn) {
			t.Errorf("%s: info %v, debug %v", c.flag, e.log.Enabled(ctx, slog.LevelInfo), e.log.Enabled(ctx, slog.LevelDebug))
		}
	}
}

// "port in use" reads the same for every listen command and serve: the net
// package's "listen tcp|udp ADDR: bind: address already in use" (it was
// "tcp: start: …", "failed to start the listener: …" and "Unable to
// initialize UDP Listener: …"), and matches syscall.EADDRINUSE.
func TestPortInUseOneFormat(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	tp := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	up := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
	inUse := func(proto, port string) string {
		return `listen ` + proto + ` 127\.0\.0\.1:` + port + `: bind: address already in use$`
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"tcp", "listen", tp}, "^" + inUse("tcp", tp)},
		{[]string{"ws", "listen", tp}, "^" + inUse("tcp", tp)},
		{[]string{"hub", "--port", tp}, "^" + inUse("tcp", tp)},
		{[]string{"udp", "listen", up}, "^" + inUse("udp", up)},
		{[]string{"serve", "--tcp-port", tp}, "^tcp echo: " + inUse("tcp", tp)},
		{[]string{"serve", "--tcp-port", "0", "--udp-port", up}, "^udp echo: " + inUse("udp", up)},
		{[]string{"serve", "--tcp-port", "0", "--udp-port", "0", "--ws-port", tp}, "^ws echo: " + inUse("tcp", tp)},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := Run(ctx, c.args, nil, io.Discard, io.Discard)
		cancel()
		if err == nil || !regexp.MustCompile(c.want).MatchString(err.Error()) || !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("%q: %v, want %s", c.args, err, c.want)
		}
	}
}
