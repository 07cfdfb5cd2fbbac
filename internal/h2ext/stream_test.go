package h2ext_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/internal/h2ext"
)

// TestBodyReaderDeadline: a read that times out consumes nothing and the
// next read gets the data; a past deadline wakes a blocked read; the end
// of the body is io.EOF, another error a StreamEnded matching io.EOF; Close
// stops the pump and later reads fail with net.ErrClosed.
func TestBodyReaderDeadline(t *testing.T) {
	pr, pw := io.Pipe()
	r := h2ext.NewBodyReader(pr, true)
	r.Start()
	r.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	buf := make([]byte, 16)
	if _, err := r.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with nothing sent: %v, want os.ErrDeadlineExceeded", err)
	}
	r.SetReadDeadline(time.Time{})
	go pw.Write([]byte("hello"))
	if n, err := r.Read(buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read after the timeout: %q, %v", buf[:n], err)
	}

	woken := make(chan error, 1)
	go func() { _, err := r.Read(buf); woken <- err }()
	r.SetReadDeadline(time.Unix(1, 0)) // the engine's wake-up
	if err := <-woken; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("woken read: %v", err)
	}
	r.SetReadDeadline(time.Time{})

	pw.CloseWithError(errors.New("RST_STREAM"))
	_, err := r.Read(buf)
	var se *h2ext.StreamEnded
	if !errors.As(err, &se) || !errors.Is(err, io.EOF) {
		t.Fatalf("read after a reset: %v, want a StreamEnded matching io.EOF", err)
	}
	r.Close()
	if _, err := r.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}

	// END_STREAM is io.EOF itself.
	pr2, pw2 := io.Pipe()
	r2 := h2ext.NewBodyReader(pr2, true)
	r2.Start()
	defer r2.Close()
	pw2.Close()
	if _, err := r2.Read(buf); err != io.EOF {
		t.Fatalf("read at END_STREAM: %v, want io.EOF", err)
	}
}

// TestBodyReaderPooled: an idle stream's pump waits with its small buffer;
// a read that fills it switches to a pooled buffer, which ReadPooled hands
// over whole; EndRead ends reads with io.EOF after what was read; without
// wrapEnd a reset reads as the body's own error; Ended tells a clean end.
func TestBodyReaderPooled(t *testing.T) {
	pr, pw := io.Pipe()
	r := h2ext.NewBodyReader(pr, false)
	r.Start()
	defer r.Close()
	big := make([]byte, 3*h2ext.IdleReadBuffer)
	for i := range big {
		big[i] = byte(i)
	}
	go pw.Write(big)
	var got []byte
	for len(got) < len(big) {
		b, n, err := r.ReadPooled()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, (*b)[:n]...)
		bufpool.Put(b)
	}
	if !bytes.Equal(got, big) {
		t.Fatal("ReadPooled returned other bytes")
	}
	go pw.Write([]byte("tail"))
	b, n, err := r.ReadPooled()
	if err != nil || string((*b)[:n]) != "tail" {
		t.Fatalf("ReadPooled: %q %v", (*b)[:n], err)
	}
	bufpool.Put(b)
	if r.Ended() {
		t.Fatal("Ended before the end")
	}
	r.EndRead()
	if _, err := r.Read(make([]byte, 4)); err != io.EOF || !r.Ended() {
		t.Fatalf("read after EndRead: %v (Ended %v), want io.EOF", err, r.Ended())
	}

	pr2, pw2 := io.Pipe()
	r2 := h2ext.NewBodyReader(pr2, false)
	r2.Start()
	defer r2.Close()
	reset := errors.New("RST_STREAM")
	pw2.CloseWithError(reset)
	if _, err := r2.Read(make([]byte, 4)); err != reset || r2.Ended() {
		t.Fatalf("read after a reset without wrapEnd: %v (Ended %v), want the body's error", err, r2.Ended())
	}
}
