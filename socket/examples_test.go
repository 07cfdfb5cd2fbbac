package socket_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/socket"
)

// The seed documents' samples live in examples/socket-*; these tests build
// them once and run them on free ports, checking what they print.

// buildExamples builds the named example programs into a temporary
// directory and returns it.
func buildExamples(t *testing.T, names ...string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the example tests stop servers with SIGINT")
	}
	gobin := netkittest.RequireTool(t, "go")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./examples/"+n)
	}
	cmd := exec.CommandContext(ctx, gobin, args...)
	cmd.Dir = ".." // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// proc is a running example whose stdout lines arrive on a channel.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{} // closed when stdout hit EOF
}

func start(t *testing.T, ctx context.Context, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 256), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // a test that stopped reading; keep draining
			}
		}
		io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		cmd.Wait()
	})
	return p
}

// expect waits for a line satisfying match, failing on the way if the
// program ends first.
func (p *proc) expect(t *testing.T, what string, match func(string) bool) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("program ended before printing %s", what)
			}
			if match(l) {
				return l
			}
		case <-p.done:
			// Lines may still be buffered.
			select {
			case l := <-p.lines:
				if match(l) {
					return l
				}
				continue
			default:
			}
			t.Fatalf("program ended before printing %s", what)
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (p *proc) expectLine(t *testing.T, want string) {
	t.Helper()
	p.expect(t, strconv.Quote(want), func(l string) bool { return l == want })
}

// listening waits for the startup line and returns the port.
func (p *proc) listening(t *testing.T) int {
	t.Helper()
	const prefix = "[ballerina/socket] started socket listener "
	l := p.expect(t, "the startup line", func(l string) bool { return strings.HasPrefix(l, prefix) })
	port, err := strconv.Atoi(strings.TrimPrefix(l, prefix))
	if err != nil || port == 0 {
		t.Fatalf("startup line %q", l)
	}
	return port
}

// interrupt stops a server with SIGINT and checks that it exits cleanly.
func (p *proc) interrupt(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-p.done
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("program exited with %v", err)
	}
}

// run runs a client example to completion and returns its output lines.
func runExample(t *testing.T, ctx context.Context, bin string, args ...string) []string {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\nstdout: %s\nstderr: %s", filepath.Base(bin), args, err, out, stderr.String())
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func exampleCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Seed 000: the 0.990 echo server, driven by a socket.Client and by the
// 0.990 client sample.
func TestExampleEchoServer0990AndClient0990(t *testing.T) {
	t.Parallel()
	dir := buildExamples(t, "socket-echo-server-0990", "socket-client-0990")
	ctx := exampleCtx(t)
	srv := start(t, ctx, filepath.Join(dir, "socket-echo-server-0990"), "-port", "0", "-interface", "127.0.0.1")
	port := srv.listening(t)

	c, err := socket.NewClient(ctx, socket.ClientConfig{Host: "127.0.0.1", Port: port})
	if err != nil {
		t.Fatal(err)
	}
	srv.expectLine(t, fmt.Sprint("Join: ", c.LocalPort()))
	c.Write(ctx, []byte("Hello Ballerina\n"))
	if b, err := c.Read(ctx, 16); err != nil || string(b) != "Hello Ballerina\n" {
		t.Fatalf("echo %q, %v", b, err)
	}
	local := c.LocalPort()
	c.Close()
	srv.expectLine(t, fmt.Sprint("Leave: ", local))

	lines := runExample(t, ctx, filepath.Join(dir, "socket-client-0990"), "-host", "127.0.0.1", "-port", strconv.Itoa(port), "-max", "3")
	want := []string{"connect: " + strconv.Itoa(port), "client write", "client write", "client write", "Leave: " + strconv.Itoa(port)}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("client printed %q, want %q", lines, want)
	}
	srv.expect(t, "Join of the sample client", func(l string) bool { return strings.HasPrefix(l, "Join: ") })
	srv.expect(t, "Leave of the sample client", func(l string) bool { return strings.HasPrefix(l, "Leave: ") })
	srv.interrupt(t)
}

// Seeds 001/003: the 1.x listener and the 1.x client sample.
func TestExampleListener1xAndClient1x(t *testing.T) {
	t.Parallel()
	dir := buildExamples(t, "socket-listener-1x", "socket-client-1x")
	ctx := exampleCtx(t)
	srv := start(t, ctx, filepath.Join(dir, "socket-listener-1x"), "-port", "0", "-interface", "127.0.0.1")
	port := srv.listening(t)

	lines := runExample(t, ctx, filepath.Join(dir, "socket-client-1x"), "-host", "127.0.0.1", "-port", strconv.Itoa(port))
	out := strings.Join(lines, "\n")
	for _, want := range []string{"connect: " + strconv.Itoa(port), "wrote 16 bytes", `received: "Hello Ballerina\n"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("client printed %q, missing %q", out, want)
		}
	}
	srv.expect(t, "connect", func(l string) bool { return strings.HasPrefix(l, "connect: ") })
	srv.expectLine(t, `received 16 bytes: "Hello Ballerina\n"`)
	srv.expect(t, "disconnect", func(l string) bool { return strings.HasPrefix(l, "disconnect: ") })
	srv.interrupt(t)
}

// Seeds 001/003: the UDP client sample, against an echoing peer.
func TestExampleUdpClient1x(t *testing.T) {
	t.Parallel()
	dir := buildExamples(t, "socket-udp-client-1x")
	ctx := exampleCtx(t)
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peer.SetDeadline(time.Now().Add(30 * time.Second))
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 1024)
		n, from, err := peer.ReadFromUDPAddrPort(b)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(b[:n])
		peer.WriteToUDPAddrPort(b[:n], from)
	}()
	port := strconv.Itoa(peer.LocalAddr().(*net.UDPAddr).Port)
	lines := runExample(t, ctx, filepath.Join(dir, "socket-udp-client-1x"), "-host", "127.0.0.1", "-port", port, "-receive")
	if s := recv(t, got); s != "Hello from UDP client" {
		t.Fatalf("peer received %q", s)
	}
	want := []string{"sent 21 bytes", `received 21 bytes from 127.0.0.1:` + port + `: "Hello from UDP client"`}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("printed %q, want %q", lines, want)
	}
}
