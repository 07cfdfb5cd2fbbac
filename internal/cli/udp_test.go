package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netkit-go/netkit/udp"
)

func TestUDPSendPrintsReply(t *testing.T) {
	l, err := udp.NewListener(0, &udp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	l.Attach(udp.Echo)
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	defer l.ImmediateStop()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Run(ctx, []string{"udp", "send", l.Addr().String(), "hello udp", "--timeout", "5s"}, nil, &out, &errOut); err != nil {
		t.Fatalf("%v (%s)", err, errOut.String())
	}
	if out.String() != "hello udp\n" {
		t.Fatalf("stdout %q", out.String())
	}
}

// udp send to a closed port reports the ICMP port unreachable at once: with
// a one-minute --timeout and a 20 s bound on the command, waiting out the
// timeout would end in the context's deadline instead.
func TestUDPSendClosedPortReportsUnreachable(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err = Run(ctx, []string{"udp", "send", "--timeout", "1m", addr, "anyone?"}, nil, &out, &errOut)
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "nothing listens on "+addr+" (ICMP port unreachable)") {
		t.Fatalf("err %v, stderr %q", err, errOut.String())
	}
	if ctx.Err() != nil {
		t.Fatal("udp send waited for its context")
	}
}

func TestUDPListenEchoesAndPrints(t *testing.T) {
	for _, echo := range []bool{false, true} {
		args := []string{"udp", "listen", "0"}
		if echo {
			args = append(args, "--echo") // after the port
		}
		r := startCommand(t, args...)
		addr := r.addr(t, "udp")
		var sendOut, sendErr bytes.Buffer
		timeout := "0"
		if echo {
			timeout = "5s"
		}
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := Run(sctx, []string{"udp", "send", "--timeout", timeout, addr, "dgram"}, nil, &sendOut, &sendErr); err != nil {
			t.Fatal(err)
		}
		scancel()
		if echo && sendOut.String() != "dgram\n" {
			t.Fatalf("echo reply %q", sendOut.String())
		}
		// The datagram is logged (and printed) on the listener's goroutine.
		r.log.wait(t, regexp.MustCompile(`msg=datagram proto=udp remote=127\.0\.0\.1:\d+ bytes=5$`))
		if !echo {
			select {
			case <-r.out.wrote:
			case <-time.After(10 * time.Second):
			}
		}
		if !echo && r.out.String() != "dgram\n" {
			t.Fatalf("printed %q", r.out.String())
		}
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	}
}

// The CLI's UDP echo returns datagrams whole by default (the library splits
// at Ballerina's 8192 bytes: 20000 bytes came back as 8192+8192+3616, which
// this test saw before the fix); --max-datagram splits.
func TestUDPEchoWholeDatagrams(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []int
	}{
		{[]string{"udp", "listen", "0", "--echo"}, []int{20000}},
		{[]string{"serve", "--tcp-port", "0", "--udp-port", "0", "--ws-port", "0"}, []int{20000}},
		{[]string{"udp", "listen", "0", "--echo", "--max-datagram", "8192"}, []int{8192, 8192, 3616}},
	} {
		r := startCommand(t, c.args...)
		conn, err := net.Dial("udp", r.addr(t, "udp"))
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(bytes.Repeat([]byte("u"), 20000)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 65536)
		for i, want := range c.want {
			n, err := conn.Read(buf)
			if err != nil || n != want {
				t.Fatalf("%q: datagram %d: %d bytes, %v; want %d", c.args, i, n, err, want)
			}
		}
		conn.Close()
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	}
}
