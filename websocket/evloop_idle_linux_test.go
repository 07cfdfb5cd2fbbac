package websocket_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// The environment of TestHelperIdleClients, the child process that holds
// the client side of TestEventLoopIdleWebSocketsCostNoGoroutine.
const (
	envIdleClientsPort = "NETKIT_TEST_IDLE_CLIENTS_PORT"
	envIdleClientsN    = "NETKIT_TEST_IDLE_CLIENTS_N"
)

// idleClients is how many idle WebSockets the event-loop test holds: the
// server's descriptors are in this process, the clients' in a child, so
// each process stays under the 20000-descriptor limit.
const idleClients = 10000

// On the event-loop backend an upgraded ws:// connection moves to the
// loop: 10k idle WebSockets hold no goroutine each, only the loops, the
// parked pool workers and a few more (a bound far below the pool's
// 32 × GOMAXPROCS). The clients are raw sockets in a child process (this
// test binary re-run as TestHelperIdleClients), so that neither process
// holds more than about 10k descriptors.
func TestEventLoopIdleWebSocketsCostNoGoroutine(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10000 connections")
	}
	t.Setenv("NETKIT_ENGINE", "evloop")
	base := runtime.NumGoroutine()
	svc := &websocket.ServiceFuncs{
		OnTextMessage: func(c *websocket.Conn, p []byte) error { return c.WriteTextMessage(context.Background(), p) },
	}
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/", websocket.Static(svc), &websocket.ServiceConfig{Logger: quietLogger}); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	defer l.ImmediateStop()
	fdsBefore := openFDs(t)

	child := exec.Command(os.Args[0], "-test.run=^TestHelperIdleClients$", "-test.count=1", "-test.timeout=2m")
	child.Env = append(os.Environ(), envIdleClientsPort+"="+strconv.Itoa(l.Port()), envIdleClientsN+"="+strconv.Itoa(idleClients))
	child.Stderr = os.Stderr
	child.WaitDelay = 5 * time.Second
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	type result struct {
		out string // the child's stdout but the ready line (its test output)
		err error
	}
	readyc, endc := make(chan struct{}), make(chan result, 1)
	go func() {
		var out []string
		signalled := false
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready "+strconv.Itoa(idleClients) && !signalled {
				close(readyc)
				signalled = true
				continue
			}
			out = append(out, sc.Text())
		}
		endc <- result{strings.Join(out, "\n"), child.Wait()}
	}()
	ended := false
	end := func() result { // closes the child's stdin: it closes its sockets and exits
		ended = true
		stdin.Close()
		select {
		case r := <-endc:
			return r
		case <-time.After(30 * time.Second):
			child.Process.Kill()
			r := <-endc
			r.err = fmt.Errorf("did not exit within 30 s after its stdin closed (killed): %v", r.err)
			return r
		}
	}
	defer func() {
		if !ended {
			if r := end(); r.err != nil {
				t.Errorf("child: %v\n%s", r.err, r.out)
			}
		}
	}()
	select {
	case <-readyc:
	case r := <-endc:
		ended = true
		t.Fatalf("child exited before its %d connections were ready: %v\n%s", idleClients, r.err, r.out)
	case <-time.After(90 * time.Second):
		t.Fatalf("child's %d connections not ready within 90 s", idleClients)
	}

	// Every upgraded connection is still open on the server (one descriptor
	// each), and none holds a goroutine.
	if got := openFDs(t) - fdsBefore; got < idleClients {
		t.Fatalf("server holds %d more descriptors than before, want at least %d (one per connection)", got, idleClients)
	}
	bound := base + 2*runtime.GOMAXPROCS(0) + 8
	waitFor(t, "the goroutines of idle WebSockets to end", func() bool { return runtime.NumGoroutine() <= bound })
	t.Logf("%d idle WebSockets: %d goroutines above the %d before (bound %d)", idleClients, runtime.NumGoroutine()-base, base, bound-base)
	if r := end(); r.err != nil {
		t.Fatalf("child: %v\n%s", r.err, r.out)
	}
	// The server sees every connection close: its descriptors go.
	waitFor(t, "the server to close the connections the child closed", func() bool { return openFDs(t)-fdsBefore < idleClients/100 })
}

// TestHelperIdleClients is not a test: TestEventLoopIdleWebSocketsCostNoGoroutine
// runs it in a child process. It upgrades N raw client connections to the
// port in its environment, prints "ready N" and holds them until its stdin
// closes.
func TestHelperIdleClients(t *testing.T) {
	port, n := os.Getenv(envIdleClientsPort), os.Getenv(envIdleClientsN)
	if port == "" {
		t.Skip("helper process of TestEventLoopIdleWebSocketsCostNoGoroutine")
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	total, err := strconv.Atoi(n)
	if err != nil {
		t.Fatal(err)
	}
	const workers = 8
	fds := make([][]int, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += workers {
				fd, err := rawUpgrade(p, false)
				if err != nil {
					errs[w] = fmt.Errorf("connection %d: %v", i, err)
					return
				}
				fds[w] = append(fds[w], fd)
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, s := range fds {
			for _, fd := range s {
				syscall.Close(fd)
			}
		}
	}()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	fmt.Printf("ready %d\n", total)
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
}

// openFDs is the number of this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
