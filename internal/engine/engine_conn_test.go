package engine

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// A read whose ctx deadline expires reports ctx's error, even though the
// socket deadline (set from ctx) fires before ctx's own timer.
func TestReadCtxDeadlineIsCtxError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c := NewConn(nc, ConnConfig{ReadTimeout: time.Hour, WriteTimeout: time.Hour})
	defer c.Close(nil)
	buf := make([]byte, 8)
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_, err := c.Read(ctx, buf)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("try %d: err = %v, want context.DeadlineExceeded", i, err)
		}
	}
	// The configured timeout, when it is the earlier, reports a timeout error.
	c2 := NewConn(peer, ConnConfig{ReadTimeout: time.Millisecond})
	if _, err := c2.Read(context.Background(), buf); !errors.Is(err, ErrReadTimeout) {
		t.Fatalf("err = %v, want ErrReadTimeout", err)
	}
}
