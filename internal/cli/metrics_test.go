package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/natstest"
	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/internal/obs/obstest"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// docInstruments returns the Prometheus names of the instruments that
// docs/metrics.md lists.
func docInstruments(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `netkit.") {
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) < 5 {
			t.Fatalf("short row: %q", line)
		}
		names = append(names, strings.Trim(strings.TrimSpace(cols[4]), "`"))
	}
	if len(names) < 10 {
		t.Fatalf("docs/metrics.md lists %d instruments", len(names))
	}
	return names
}

// scrape returns the text of url's /metrics.
func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// typed reports whether text declares metric name (# TYPE name ...).
func typed(text, name string) bool {
	return regexp.MustCompile(`(?m)^# TYPE ` + regexp.QuoteMeta(name) + ` `).MatchString(text)
}

// The endpoint exposes every instrument of docs/metrics.md under the
// Prometheus name the table gives (each instrument recorded once through
// the CLI's provider), and the Go runtime and process collectors.
func TestMetricsEndpointExposesEveryDocumentedInstrument(t *testing.T) {
	var errOut syncWriter
	e := &env{ctx: context.Background(), stdout: io.Discard, stderr: io.Discard, log: slog.New(slog.NewTextHandler(&errOut, nil))}
	stop, err := startMetrics(e, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	url := regexp.MustCompile(`http://\S+/metrics`).FindString(errOut.String())
	if url == "" {
		t.Fatalf("no endpoint announced: %q", errOut.String())
	}
	s := obs.New(obs.Config{Face: obs.FaceWebSocket, Role: obs.RoleServer, Transport: "tcp", MeterProvider: meterOf(e)})
	s.Bind(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9})
	obstest.RecordEach(s)
	h := obs.NewHub(meterOf(e), func() obs.HubCounts { return obs.HubCounts{Subscribers: 1, Published: 1} })
	defer h.Close()
	obs.NewHubBroker(meterOf(e), "nats").RoundTrip(time.Millisecond)
	text := scrape(t, url)
	for _, name := range append(docInstruments(t), "go_goroutines", "process_cpu_seconds_total") {
		if !typed(text, name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if got := strings.Count(text, "# TYPE netkit_"); got != len(docInstruments(t)) {
		t.Errorf("/metrics has %d netkit instruments, docs/metrics.md %d", got, len(docInstruments(t)))
	}
}

// netkit serve --metrics serves /metrics in the Prometheus text format;
// after tcp, udp and WebSocket traffic (including a refused upgrade, a
// compressed message and a protocol error) it has each instrument of
// docs/metrics.md that the samples can produce: not the stops (they come
// after the endpoint stopped), truncations and send errors (the udp
// sample's buffer takes any datagram and it only replies to senders) and
// TrySend drops (the samples do not broadcast), and the hub's (serve runs
// no hub: TestHubMetrics), which
// TestMetricsEndpointExposesEveryDocumentedInstrument and the faces' tests
// cover.
func TestServeMetricsAfterTraffic(t *testing.T) {
	ctx := context.Background()
	r := startCommand(t, "serve", "--tcp-port", "0", "--udp-port", "0", "--ws-port", "0", "--metrics", "127.0.0.1:0")
	metricsURL := r.log.wait(t, regexp.MustCompile(`http://\S+/metrics`))[0]
	addrs := map[string]string{"tcp": r.addr(t, "tcp"), "udp": r.addr(t, "udp"), "ws": r.addr(t, "ws")}
	deadline := time.Now().Add(10 * time.Second)

	// tcp: one echoed message on one connection.
	tc, err := net.Dial("tcp", addrs["tcp"])
	if err != nil {
		t.Fatal(err)
	}
	tc.SetDeadline(deadline)
	tc.Write([]byte("ping"))
	if _, err := io.ReadFull(tc, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	tc.Close()
	// udp: one echoed datagram.
	uc, err := net.Dial("udp", addrs["udp"])
	if err != nil {
		t.Fatal(err)
	}
	uc.SetDeadline(deadline)
	uc.Write([]byte("ping"))
	if _, err := uc.Read(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	uc.Close()
	// websocket: two messages (one compressed), a close, a refused upgrade
	// and a protocol error.
	wctx, wcancel := context.WithDeadline(ctx, deadline)
	defer wcancel()
	cl, err := websocket.Dial(wctx, "ws://"+addrs["ws"]+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range [][]byte{[]byte("hello"), bytes.Repeat([]byte("compress me "), 30)} {
		cl.WriteTextMessage(wctx, msg)
		if _, got, err := cl.Read(wctx, nil); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("ws echo %q %v", got, err)
		}
	}
	if err := cl.Close(wctx, 1000, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := websocket.Dial(wctx, "ws://"+addrs["ws"]+"/nope", nil); err == nil {
		t.Fatal("upgrade at /nope accepted")
	}
	raw, err := net.Dial("tcp", addrs["ws"])
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(deadline)
	io.WriteString(raw, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(raw)
	if status, _ := br.ReadString('\n'); !strings.Contains(status, "101") {
		t.Fatalf("raw upgrade: %q", status)
	}
	raw.Write([]byte{0x81, 0x02, 'h', 'i'}) // unmasked: a protocol error, close 1002
	io.Copy(io.Discard, br)                 // until the server closes
	raw.Close()

	// The closes are counted just after the sockets close: scrape until the
	// three server connections (tcp, ws, raw ws) are counted closed.
	want := append(docInstruments(t), "go_goroutines", "process_cpu_seconds_total")
	skip := map[string]bool{"netkit_stops_total": true, "netkit_udp_truncated_datagrams_total": true,
		"netkit_udp_send_errors_total": true, "netkit_websocket_dropped_messages_total": true}
	closed := regexp.MustCompile(`(?m)^netkit_connection_closed_total\{[^}]*netkit_role="server"[^}]*\} (\d+)`)
	var text string
	for {
		text = scrape(t, metricsURL)
		n := 0
		for _, m := range closed.FindAllStringSubmatch(text, -1) {
			v, _ := strconv.Atoi(m[1])
			n += v
		}
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d server connections counted closed, want 3:\n%s", n, text)
		}
	}
	for _, name := range want {
		if !skip[name] && !strings.HasPrefix(name, "netkit_hub_") && !typed(text, name) {
			t.Errorf("/metrics after traffic has no %s", name)
		}
	}
	for _, series := range []string{
		`netkit_websocket_upgrades_total\{[^}]*http_response_status_code="404"[^}]*\} 1`,
		`netkit_websocket_upgrades_total\{[^}]*http_response_status_code="101"[^}]*http_route="/ws"[^}]*\} 2`,
		`netkit_websocket_close_sent_total\{[^}]*websocket_close_code="1002"[^}]*\} 1`,
		`netkit_errors_total\{error_type="protocol"[^}]*\} 1`,
		`netkit_received_messages_total\{[^}]*netkit_face="udp"[^}]*\} 1`,
		`netkit_sent_messages_total\{[^}]*netkit_face="tcp"[^}]*\} 1`,
	} {
		if !regexp.MustCompile(`(?m)^` + series).MatchString(text) {
			t.Errorf("/metrics has no series matching %s", series)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// netkit hub --metrics serves /metrics with the hub's WebSocket listener's
// instruments (its upgrade on the hub's path is counted) and the hub's own,
// each instrument of docs/metrics.md named netkit_hub_*: after two
// subscribers on a node joined to NATS, a publish delivered to both, the
// hub's series have the counts.
func TestHubMetrics(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	r := startCommand(t, "hub", "--port", "0", "--metrics", "127.0.0.1:0", "--nats", srv.URL())
	metricsURL := r.log.wait(t, regexp.MustCompile(`http://\S+/metrics`))[0]
	addr := r.addr(t, "ws")
	a, b := hubDial(t, addr), hubDial(t, addr)
	call(t, a, `{"op":"subscribe","topic":"m"}`, `{"op":"ok","for":"subscribe","topic":"m"}`)
	call(t, b, `{"op":"subscribe","topic":"m"}`, `{"op":"ok","for":"subscribe","topic":"m"}`)
	call(t, a, `{"op":"publish","topic":"m","data":1}`, `{"topic":"m","data":1}`)
	call(t, b, "", `{"topic":"m","data":1}`)
	// The upgrades are counted just after the 101 is written, a delivery
	// just after its write: scrape until they are, for at most 10 s.
	ready := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^netkit_websocket_upgrades_total\{[^}]*http_response_status_code="101"[^}]*http_route="/hub"[^}]*\} 2`),
		regexp.MustCompile(`(?m)^netkit_hub_deliveries_total\{[^}]*\} 2$`),
	}
	var text string
	for deadline := time.Now().Add(10 * time.Second); ; {
		text = scrape(t, metricsURL)
		if ready[0].MatchString(text) && ready[1].MatchString(text) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics has not the two upgrades on /hub and the two deliveries:\n%s", text)
		}
	}
	for _, name := range docInstruments(t) {
		if strings.HasPrefix(name, "netkit_hub_") && !typed(text, name) {
			t.Errorf("/metrics after hub traffic has no %s", name)
		}
	}
	for _, series := range []string{
		`netkit_hub_subscribers\{[^}]*\} 2`,
		`netkit_hub_topics\{[^}]*\} 1`,
		`netkit_hub_published_messages_total\{[^}]*\} 1`,
		`netkit_hub_queued_deliveries_total\{[^}]*\} 2`,
		`netkit_hub_dropped_deliveries_total\{[^}]*netkit_hub_policy="drop-oldest"[^}]*\} 0`,
		`netkit_hub_broker_round_trip_seconds_count\{[^}]*messaging_system="nats"[^}]*\} 1`,
	} {
		if !regexp.MustCompile(`(?m)^` + series).MatchString(text) {
			t.Errorf("/metrics has no series matching %s", series)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
	for _, cl := range []*websocket.Client{a, b} {
		if err := cl.Close(netkittest.Context(t), 1000, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}
