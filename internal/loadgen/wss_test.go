package loadgen

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/wstest"
	"github.com/netkit-go/netkit/netkittest"
)

func runTest(t *testing.T, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg.ServerPID = os.Getpid()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("%+v: %v", cfg, err)
	}
	return res
}

// TestWSSEcho checks the counts of echo runs over wss://, verified against
// a CA file, with TLS 1.3 and 1.2.
func TestWSSEcho(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	url := wstest.Start(t, wstest.Options{Certificate: &certs.Server})
	for _, v := range []string{"1.3", "1.2"} {
		t.Run(v, func(t *testing.T) {
			r := runTest(t, Config{Proto: "ws", Target: url, Conns: 3, Payload: 1024, MaxMessages: 300,
				Duration: 20 * time.Second, CAFile: certs.CACert, TLSVersion: v, TLSCurves: []string{"x25519", "p256"}})
			if r.Connected != 3 || r.ConnectErrors != 0 || r.Sent != 300 || r.Received != 300 || r.Errors != 0 || r.Latency.Count != 300 {
				t.Errorf("connected %d/%d, sent %d, received %d, errors %d, latencies %d (%s)",
					r.Connected, r.ConnectErrors, r.Sent, r.Received, r.Errors, r.Latency.Count, r.FirstError)
			}
			if want := "TLS " + v + " "; !strings.HasPrefix(r.TLS, want) || !strings.HasSuffix(r.TLS, "X25519") {
				t.Errorf("TLS %q, want %q... X25519", r.TLS, want)
			}
		})
	}
}

// TestWSSHandshakeAndVerify checks handshake mode over wss:// with
// verification off, and that an unknown certificate fails verification.
func TestWSSHandshakeAndVerify(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	url := wstest.Start(t, wstest.Options{Certificate: &certs.Server})
	r := runTest(t, Config{Proto: "ws", Target: url, Mode: ModeHandshake, Conns: 2, MaxMessages: 30,
		Duration: 20 * time.Second, Insecure: true})
	if r.Connected != 30 || r.ConnectErrors != 0 || r.Latency.Count != 30 || r.TLS == "" {
		t.Errorf("handshakes %d (errors %d, %q), latencies %d, TLS %q", r.Connected, r.ConnectErrors, r.FirstError, r.Latency.Count, r.TLS)
	}
	// Neither the system roots nor an unrelated CA trust the server.
	for _, ca := range []string{"", certs.OtherCACert} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := Run(ctx, Config{Proto: "ws", Target: url, Conns: 1, Duration: time.Second, CAFile: ca})
		cancel()
		if err == nil || res.Connected != 0 || res.ConnectErrors != 1 || !strings.Contains(res.FirstError, "certificate") {
			t.Errorf("CA file %q: unverifiable server: %v, connected %d, errors %d (%s)", ca, err, res.Connected, res.ConnectErrors, res.FirstError)
		}
	}
}

// TestIdleBurst checks idle mode's burst of large messages over wss://.
func TestIdleBurst(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	url := wstest.Start(t, wstest.Options{Certificate: &certs.Server})
	const conns, size = 4, 300 << 10
	r := runTest(t, Config{Proto: "ws", Target: url, Mode: ModeIdle, Conns: conns, Hold: 20 * time.Millisecond,
		Burst: size, BurstHold: 20 * time.Millisecond, Duration: 20 * time.Second, CAFile: certs.CACert})
	b := r.Burst
	if r.Connected != conns || b == nil || b.Echoed != conns || b.Errors != 0 || r.Received != conns || r.Latency.Count != conns {
		t.Fatalf("connected %d, burst %+v, received %d, latencies %d (%s)", r.Connected, b, r.Received, r.Latency.Count, r.FirstError)
	}
	if b.Bytes != size || b.After.RSS <= 0 || b.Settled.RSS <= 0 || b.Seconds <= 0 || b.Seconds > 20 {
		t.Errorf("burst %+v", b)
	}
}

// TestBroadcastStall checks that a stalled subscriber's full path is
// detected, and the server's closing of it: the server drops a
// connection whose write does not finish within 300 ms.
func TestBroadcastStall(t *testing.T) {
	url := wstest.Start(t, wstest.Options{Broadcast: true, WriteTimeout: 300 * time.Millisecond})
	// 64 KiB at 200 Hz: 13 MB/s, far more than the kernel buffers.
	r := runTest(t, Config{Proto: "ws", Target: url, Mode: ModeBroadcast, Conns: 4, Stalled: 1, Payload: 64 << 10,
		Rate: 200, Duration: 2 * time.Second})
	st := r.Stall
	if st == nil || !st.Checked || len(st.Conns) != 1 {
		t.Fatalf("stall report %+v", st)
	}
	c := st.Conns[0]
	t.Logf("stalled subscriber %+v; before %+v; after %+v", c, st.Before, st.After)
	if c.StalledAt < 0 || st.At != c.StalledAt || c.AcceptedMax <= 0 || c.ServerSendQMax <= 0 || c.DueBytes <= c.AcceptedMax+c.ServerSendQMax {
		t.Errorf("not seen stalled: %+v", c)
	}
	if c.ClosedAt < c.StalledAt || c.ServerState == "ESTABLISHED" {
		t.Errorf("the server's close not seen: %+v", c)
	}
	if st.Before.Count+st.After.Count != r.Latency.Count || r.Measured == 0 {
		t.Errorf("latencies: %d before + %d after, %d in all", st.Before.Count, st.After.Count, r.Latency.Count)
	}
	if st.ServerRSSMax <= 0 || st.ServerRSSAtStall <= 0 || st.Watched < 2 {
		t.Errorf("server RSS not sampled: %+v", st)
	}
}

// TestSlowloris checks that slow connections closed by the server are
// counted, with the time they lasted.
func TestSlowloris(t *testing.T) {
	url := wstest.Start(t, wstest.Options{HandshakeTimeout: 300 * time.Millisecond})
	r := runTest(t, Config{Proto: "ws", Target: url, Conns: 1, Rate: 100, Duration: 1500 * time.Millisecond,
		Slow: 3, SlowInterval: 10 * time.Millisecond})
	if r.SlowOpened != 3 || r.SlowClosed != 3 || r.SlowClose == nil || r.SlowClose.N != 3 {
		t.Fatalf("slow: opened %d closed %d %+v", r.SlowOpened, r.SlowClosed, r.SlowClose)
	}
	if s := r.SlowClose; s.Min < 0.2 || s.Max > 1.2 {
		t.Errorf("closed after %+v, want about 0.3 s", s)
	}
	if r.Sent == 0 || r.Received != r.Sent || r.Errors != 0 {
		t.Errorf("normal conn: sent %d received %d errors %d", r.Sent, r.Received, r.Errors)
	}
}
