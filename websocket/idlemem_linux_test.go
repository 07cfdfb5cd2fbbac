package websocket_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// TestIdleMemory measures the server-side memory of idle WebSocket
// connections, as benchmark W3 does, but inside one process so that the
// figures can be attributed. It runs only when NETKIT_IDLEMEM is set to the
// number of connections (e.g. NETKIT_IDLEMEM=5000; the client holds one fd
// per connection too). The clients are raw non-Go sockets (syscall fds, no
// goroutine, no Go heap), so every byte measured is the server's.
//
// It serves an echo ServiceFuncs with compression off (the benchmark's
// configuration), opens a warm-up batch, samples, opens N more, samples
// again and prints the growth per connection: heap in use, live heap
// objects, goroutine stacks, goroutines, RSS. NETKIT_IDLEMEM_PROFILE=file
// writes a heap profile (inuse_space, every allocation sampled) taken with
// the connections open. NETKIT_IDLEMEM_MAX=bytes fails the test when heap
// objects + stacks per connection exceed it. NETKIT_IDLEMEM_DEFLATE=1 makes
// the clients offer permessage-deflate and the server accept it.
func TestIdleMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("NETKIT_IDLEMEM"))
	if n <= 0 {
		t.Skip("set NETKIT_IDLEMEM=N to measure N idle connections")
	}
	deflate := os.Getenv("NETKIT_IDLEMEM_DEFLATE") == "1"
	profile := os.Getenv("NETKIT_IDLEMEM_PROFILE")
	if profile != "" {
		runtime.MemProfileRate = 1
	}
	sc := &websocket.ServiceConfig{Logger: quietLogger}
	sc.Compression.Disable = !deflate
	svc := &websocket.ServiceFuncs{
		OnTextMessage:   func(c *websocket.Conn, p []byte) error { return c.WriteTextMessage(context.Background(), p) },
		OnBinaryMessage: func(c *websocket.Conn, p []byte) error { return c.WriteBinaryMessage(context.Background(), p) },
	}
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", Logger: quietLogger})
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
	port := l.Port()

	var fds []int
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	open := func(k int) {
		g0 := runtime.NumGoroutine()
		for i := 0; i < k; i++ {
			fd, err := rawUpgrade(port, deflate)
			if err != nil {
				t.Fatalf("connection %d: %v", len(fds), err)
			}
			fds = append(fds, fd)
		}
		// Every connection has its goroutine once the count is reached
		// (on the event-loop backend: none has one once the hand-overs to
		// the loop are done).
		deadline := time.Now().Add(30 * time.Second)
		settled := func() bool { return runtime.NumGoroutine() >= g0+k }
		if os.Getenv("NETKIT_ENGINE") != "goroutine" { // the event loop is the default on Linux
			settled = func() bool { return runtime.NumGoroutine() <= g0+16 }
		}
		for !settled() {
			if time.Now().After(deadline) {
				t.Fatalf("goroutines: %d, want %d", runtime.NumGoroutine(), g0+k)
			}
			runtime.Gosched()
		}
	}

	const warm = 200
	open(warm)
	before := sampleMem(true)
	open(n)
	after := sampleMem(true)
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) }
	t.Logf("idle connections: %d (after %d warm-up), deflate offered: %v", n, warm, deflate)
	t.Logf("per conn: heap objects %.0f B, heap in use %.0f B, stacks %.0f B, goroutines %.2f, RSS %.0f B, mallocs %.1f",
		per(before.objects, after.objects), per(before.heapInuse, after.heapInuse), per(before.stack, after.stack),
		per(before.goroutines, after.goroutines), per(before.rss, after.rss), per(before.liveObjs, after.liveObjs))
	if testing.Verbose() {
		var names []string
		for name := range after.classes {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if d := per(before.classes[name], after.classes[name]); d != 0 {
				t.Logf("  %-50s %8.0f B/conn", name, d)
			}
		}
	}
	t.Logf("starting stack size: %d B; stack per goroutine: %.0f B; used (scanned) per goroutine at the last GC: %.0f B",
		after.startStack, float64(after.stack)/float64(after.goroutines), float64(after.scanStack)/float64(after.goroutines))
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if gp := os.Getenv("NETKIT_IDLEMEM_GOROUTINES"); gp != "" {
		f, err := os.Create(gp)
		if err != nil {
			t.Fatal(err)
		}
		pprof.Lookup("goroutine").WriteTo(f, 1)
		f.Close()
	}
	if max, _ := strconv.ParseFloat(os.Getenv("NETKIT_IDLEMEM_MAX"), 64); max > 0 {
		if got := per(before.objects+before.stack, after.objects+after.stack); got > max {
			t.Errorf("heap objects + stacks per idle connection: %.0f B, want <= %.0f", got, max)
		}
	}
}

type memSample struct {
	objects, heapInuse, stack, goroutines, rss, liveObjs, startStack uint64
	scanStack                                                        uint64            // stack bytes scanned by the last GC
	classes                                                          map[string]uint64 // /memory/classes/...
}

func sampleMem(gc bool) memSample {
	if gc {
		runtime.GC()
		runtime.GC()
		debug.FreeOSMemory()
	}
	ms := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/objects:objects"},
		{Name: "/gc/stack/starting-size:bytes"},
		{Name: "/gc/scan/stack:bytes"},
	}
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") {
			ms = append(ms, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(ms)
	classes := map[string]uint64{}
	for _, m := range ms[4:] {
		classes[m.Name] = m.Value.Uint64()
	}
	var st runtime.MemStats
	runtime.ReadMemStats(&st)
	return memSample{
		objects:    ms[0].Value.Uint64(),
		liveObjs:   ms[1].Value.Uint64(),
		startStack: ms[2].Value.Uint64(),
		scanStack:  ms[3].Value.Uint64(),
		heapInuse:  st.HeapInuse,
		stack:      st.StackInuse,
		goroutines: uint64(runtime.NumGoroutine()),
		rss:        vmRSS(),
		classes:    classes,
	}
}

func vmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// rawUpgrade opens a WebSocket connection to 127.0.0.1:port with blocking
// syscalls (no Go netpoller, no Go-side objects) and returns its fd after
// the 101 response.
func rawUpgrade(port int, deflate bool) (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	sa := &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
	tv := syscall.Timeval{Sec: 10}
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
	// The runtime's preemption signals interrupt blocking syscalls: retry.
	err = syscall.Connect(fd, sa)
	for i := 0; i < 1000 && (err == syscall.EINTR || err == syscall.EALREADY); i++ {
		err = syscall.Connect(fd, sa)
	}
	if err != nil && err != syscall.EISCONN {
		syscall.Close(fd)
		return -1, err
	}
	req := "GET / HTTP/1.1\r\nHost: 127.0.0.1:" + strconv.Itoa(port) +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if deflate {
		req += "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n"
	}
	req += "\r\n"
	_, err = syscall.Write(fd, []byte(req))
	for i := 0; i < 1000 && err == syscall.EINTR; i++ {
		_, err = syscall.Write(fd, []byte(req))
	}
	if err != nil {
		syscall.Close(fd)
		return -1, err
	}
	var resp []byte
	var buf [512]byte
	for !bytes.Contains(resp, []byte("\r\n\r\n")) {
		k, err := syscall.Read(fd, buf[:])
		for i := 0; i < 1000 && err == syscall.EINTR; i++ {
			k, err = syscall.Read(fd, buf[:])
		}
		if err != nil || k <= 0 {
			syscall.Close(fd)
			return -1, fmt.Errorf("reading the response: %v (%q)", err, resp)
		}
		resp = append(resp, buf[:k]...)
	}
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 101")) {
		syscall.Close(fd)
		return -1, fmt.Errorf("response %q", resp)
	}
	return fd, nil
}
