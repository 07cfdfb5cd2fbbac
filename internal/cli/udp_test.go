package cli

import (
	"bytes"
	"context"
	"io"
	"regexp"
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
	if err := Run(ctx, []string{"udp", "send", "--timeout", "5s", l.Addr().String(), "hello udp"}, nil, &out, &errOut); err != nil {
		t.Fatalf("%v (%s)", err, errOut.String())
	}
	if out.String() != "hello udp\n" {
		t.Fatalf("stdout %q", out.String())
	}
}

func TestUDPListenEchoesAndPrints(t *testing.T) {
	for _, echo := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		addrs := watch(t, pr, regexp.MustCompile(`^udp listening on (\S+)$`))
		out := syncWriter{wrote: make(chan struct{}, 1)}
		args := []string{"udp", "listen", "0"}
		if echo {
			args = []string{"udp", "listen", "--echo", "0"}
		}
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, args, nil, &out, pw)
			pw.Close()
		}()
		m := <-addrs
		var sendOut, sendErr bytes.Buffer
		timeout := "0"
		if echo {
			timeout = "5s"
		}
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := Run(sctx, []string{"udp", "send", "--timeout", timeout, m[1], "dgram"}, nil, &sendOut, &sendErr); err != nil {
			t.Fatal(err)
		}
		scancel()
		if echo && sendOut.String() != "dgram\n" {
			t.Fatalf("echo reply %q", sendOut.String())
		}
		if !echo {
			// The listener prints on its own goroutine: wait for the write.
			select {
			case <-out.wrote:
			case <-time.After(10 * time.Second):
			}
			if out.String() != "dgram\n" {
				t.Fatalf("printed %q", out.String())
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
