package websocket_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"

	"github.com/netkit-go/netkit/internal/wstest"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// TestIdleMemoryH2 is TestIdleMemory for WebSockets over HTTP/2: N idle
// sockets as streams of one h2 connection (MaxConcurrentStreams raised to
// fit). It runs only when NETKIT_IDLEMEM_H2 is set to N. The client is
// the in-process raw h2 client (wstest.H2Conn): its share, a few hundred
// bytes of heap per stream and no goroutine, is included in the figures.
func TestIdleMemoryH2(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("NETKIT_IDLEMEM_H2"))
	if n <= 0 {
		t.Skip("set NETKIT_IDLEMEM_H2=N to measure N idle sockets over HTTP/2")
	}
	if os.Getenv("NETKIT_IDLEMEM_PROFILE") != "" {
		runtime.MemProfileRate = 1
	}
	sc := &websocket.ServiceConfig{Logger: quietLogger}
	sc.Compression.Disable = true
	svc := &websocket.ServiceFuncs{
		OnBinaryMessage: func(c *websocket.Conn, p []byte) error { return c.WriteBinaryMessage(context.Background(), p) },
	}
	certs := netkittest.NewCertificates(t)
	const warm = 200
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", Logger: quietLogger,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{certs.Server}}, MaxConcurrentStreams: uint32(n + warm + 10)})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/", websocket.Static(svc), sc); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	defer l.ImmediateStop()
	hc := wstest.DialH2(t, l.Addr().String(), nil)
	open := func(k int) {
		for i := 0; i < k; i++ {
			st, err := hc.Connect("/", nil)
			if err != nil || st.Status() != http.StatusOK {
				t.Fatalf("stream %d: %d %v", i, st.Status(), err)
			}
		}
	}
	open(warm)
	before := sampleMem(true)
	open(n)
	after := sampleMem(true)
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) }
	t.Logf("idle sockets over HTTP/2: %d streams of one connection (after %d warm-up)", n, warm)
	t.Logf("per stream: heap objects %.0f B, heap in use %.0f B, stacks %.0f B, goroutines %.2f, RSS %.0f B, live objects %.1f",
		per(before.objects, after.objects), per(before.heapInuse, after.heapInuse), per(before.stack, after.stack),
		per(before.goroutines, after.goroutines), per(before.rss, after.rss), per(before.liveObjs, after.liveObjs))
	if profile := os.Getenv("NETKIT_IDLEMEM_PROFILE"); profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			t.Fatal(err)
		}
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
}
