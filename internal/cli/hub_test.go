package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/netkit-go/netkit/internal/natstest"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// runHub runs `netkit hub` with args until the test ends and returns its
// address.
func runHub(t *testing.T, args ...string) string {
	t.Helper()
	r := startCommand(t, append([]string{"hub", "--port", "0"}, args...)...)
	t.Cleanup(func() {
		if err := r.stop(t); err != nil {
			t.Errorf("netkit hub: %v", err)
		}
	})
	return r.addr(t, "ws")
}

func hubDial(t *testing.T, addr string) *websocket.Client {
	t.Helper()
	cl, err := websocket.Dial(netkittest.Context(t), "ws://"+addr+"/hub", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(context.Background(), 1000, "") })
	return cl
}

// call sends req (unless "") and checks that the next message is want
// (unless "").
func call(t *testing.T, cl *websocket.Client, req, want string) {
	t.Helper()
	ctx := netkittest.Context(t)
	if req != "" {
		if err := cl.WriteTextMessage(ctx, []byte(req)); err != nil {
			t.Fatal(err)
		}
	}
	if want == "" {
		return
	}
	got, err := cl.ReadTextMessage(ctx)
	if err != nil {
		t.Fatalf("after %s: %v", req, err)
	}
	if string(got) != want {
		t.Fatalf("after %s:\n got %s\nwant %s", req, got, want)
	}
}

func TestHubProtocol(t *testing.T) {
	addr := runHub(t)
	a, b := hubDial(t, addr), hubDial(t, addr)
	call(t, a, `{"op":"subscribe","topic":"chat.*"}`, `{"op":"ok","for":"subscribe","topic":"chat.*"}`)
	call(t, b, `{"op":"subscribe","topic":"chat.lobby"}`, `{"op":"ok","for":"subscribe","topic":"chat.lobby"}`)
	call(t, b, `{"op":"publish","topic":"chat.lobby","data":{"from":"b","text":"hi ✓"}}`,
		`{"topic":"chat.lobby","data":{"from":"b","text":"hi ✓"}}`)
	call(t, a, "", `{"topic":"chat.lobby","data":{"from":"b","text":"hi ✓"}}`)
	call(t, a, `{"op":"publish","topic":"chat.x","data":[1, 2]}`, `{"topic":"chat.x","data":[1, 2]}`)
	call(t, a, `{"op":"unsubscribe","topic":"chat.*"}`, `{"op":"ok","for":"unsubscribe","topic":"chat.*"}`)
	call(t, a, `{"op":"publish","topic":"chat.lobby","data":"to b only"}`, "")
	call(t, b, "", `{"topic":"chat.lobby","data":"to b only"}`)
	// a gets no more of chat.*: its next message is the next it asks for.
	call(t, a, `{"op":"subscribe","topic":"z"}`, `{"op":"ok","for":"subscribe","topic":"z"}`)
	call(t, a, `{"op":"publish","topic":"z","data":0}`, `{"topic":"z","data":0}`)
}

func TestHubBadRequests(t *testing.T) {
	addr := runHub(t)
	cl := hubDial(t, addr)
	for _, c := range []struct{ req, want string }{
		{`{"op":"fly"}`, `unknown op \"fly\"`},
		{`{}`, `a request needs \"op\"`},
		{`[1]`, `a request is a JSON object`},
		{`"subscribe"`, `a request is a JSON object`},
		{`{"op":"subscribe","topic":"a..b"}`, `bad topic`},
		{`{"op":"subscribe"}`, `bad topic \"\": empty`},
		{`{"op":"unsubscribe","topic":"a b"}`, `bad topic`},
		{`{"op":"publish","topic":"a.*","data":1}`, `wildcard in a published topic`},
		{`{"op":"publish","topic":"t"}`, `publish needs data`},
		{`{"op":"subscribe","topic":7}`, `a request is a JSON object`},
	} {
		if err := cl.WriteTextMessage(netkittest.Context(t), []byte(c.req)); err != nil {
			t.Fatal(err)
		}
		got, err := cl.ReadTextMessage(netkittest.Context(t))
		if err != nil {
			t.Fatalf("%s: %v", c.req, err)
		}
		if !bytes.HasPrefix(got, []byte(`{"op":"error","error":"`)) || !bytes.Contains(got, []byte(c.want)) {
			t.Errorf("%s: got %s, want an error with %s", c.req, got, c.want)
		}
	}
	// Still open and working.
	call(t, cl, `{"op":"subscribe","topic":"t"}`, `{"op":"ok","for":"subscribe","topic":"t"}`)
	// Not JSON at all: the connection closes with 1007.
	if err := cl.WriteTextMessage(netkittest.Context(t), []byte("hello?")); err != nil {
		t.Fatal(err)
	}
	_, err := cl.ReadTextMessage(netkittest.Context(t))
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 1007 {
		t.Fatalf("after non-JSON: %v, want close 1007", err)
	}
}

// Two `netkit hub` nodes joined by NATS (in-process): a message published
// on one reaches the subscribers of both, once each.
func TestHubAcrossNATS(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	n1, n2 := runHub(t, "--nats", srv.URL()), runHub(t, "--nats", srv.URL(), "--policy", "disconnect")
	a, b := hubDial(t, n1), hubDial(t, n2)
	call(t, a, `{"op":"subscribe","topic":"room"}`, `{"op":"ok","for":"subscribe","topic":"room"}`)
	call(t, b, `{"op":"subscribe","topic":"room"}`, `{"op":"ok","for":"subscribe","topic":"room"}`)
	for i, c := range []*websocket.Client{a, b} {
		msg := `{"topic":"room","data":` + string(rune('1'+i)) + `}`
		call(t, c, `{"op":"publish","topic":"room","data":`+string(rune('1'+i))+`}`, msg)
		call(t, []*websocket.Client{b, a}[i], "", msg)
	}
	// No duplicates: the next message on each is the next one published.
	call(t, a, `{"op":"publish","topic":"room","data":"last"}`, `{"topic":"room","data":"last"}`)
	call(t, b, "", `{"topic":"room","data":"last"}`)
}

func TestHubPage(t *testing.T) {
	if body := getPage(t, runHub(t, "--path", "/hub")); !strings.Contains(body, `location.host + "/hub"`) {
		t.Fatalf("page: %.300s", body)
	}
}

// The echo page connects to ws listen's --path (it connected to /ws
// whatever the path: this test failed before pageHandler took the path).
func TestWSListenPageFollowsPath(t *testing.T) {
	r := startCommand(t, "ws", "listen", "0", "--path", "/e</script>")
	body := getPage(t, r.addr(t, "ws"))
	if !strings.Contains(body, `location.host + "/e\u003c/script\u003e"`) {
		t.Fatalf("page: %.300s", body)
	}
}

// getPage returns the body of http://addr/, which must answer 200.
func getPage(t *testing.T, addr string) string {
	t.Helper()
	defer http.DefaultClient.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(netkittest.Context(t), "GET", "http://"+addr+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /: %d %v", resp.StatusCode, err)
	}
	return string(body)
}

// netkit hub logs as the other server commands do: its configuration, and
// each connection and its close with the shared attributes.
func TestHubLogs(t *testing.T) {
	r := startCommand(t, "hub", "--port", "0", "--queue", "7", "--policy", "disconnect")
	cl := hubDial(t, r.addr(t, "ws"))
	r.log.wait(t, regexp.MustCompile(`^time=\S+ level=INFO msg=hub broker=memory policy=disconnect queue=7$`))
	r.log.wait(t, regexp.MustCompile(`msg=connected proto=ws conn.id=\d+ remote=127\.0\.0\.1:\d+ path=/hub http=1\.1$`))
	if err := cl.Close(netkittest.Context(t), 1000, "bye"); err != nil {
		t.Fatal(err)
	}
	r.log.wait(t, regexp.MustCompile(`msg=closed proto=ws conn.id=\d+ remote=\S+ path=/hub code=1000 reason=bye$`))
}

// FuzzHubRequest: any input is refused with a reason, closes the
// connection, or is a valid request; a valid publish's delivery is JSON
// that carries the topic and the data as published.
func FuzzHubRequest(f *testing.F) {
	for _, s := range []string{`{"op":"subscribe","topic":"a.*"}`, `{"op":"unsubscribe","topic":"a"}`,
		`{"op":"publish","topic":"a.b","data":{"x":[1,"y"]}}`, `{"op":"publish","topic":"t","data":" \u00e9 "}`,
		`[1]`, `nope`, `{"op":"publish","topic":"a.*","data":1}`, `{"op":7}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		req, bad, notJSON := parseHubRequest(msg)
		if notJSON {
			if json.Valid(msg) {
				t.Fatalf("valid JSON %q called not JSON", msg)
			}
			return
		}
		if bad != "" || req.Op != "publish" {
			return
		}
		d := delivery(req.Topic, req.Data)
		var got struct {
			Topic string          `json:"topic"`
			Data  json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(d, &got); err != nil {
			t.Fatalf("delivery %q is not JSON: %v", d, err)
		}
		if got.Topic != req.Topic || !bytes.Equal(got.Data, bytes.TrimSpace(req.Data)) {
			t.Fatalf("delivery %q does not carry topic %q and data %q", d, req.Topic, req.Data)
		}
	})
}
