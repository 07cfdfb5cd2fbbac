package engine_test

import (
	"testing"

	"github.com/netkit-go/netkit/internal/engine"
)

// TestReserve: a reservation holds a MaxConnections place until
// ServeReserved takes it over or Unreserve gives it back; a full server
// reserves nothing.
func TestReserve(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f := newFace()
			srv, _ := serve(t, b, engine.Config{MaxConnections: 2}, f)
			if !srv.Reserve() || !srv.Reserve() {
				t.Fatal("Reserve refused below MaxConnections")
			}
			if !srv.Full() || srv.Reserve() {
				t.Fatalf("two reservations at MaxConnections 2: Full %v, and a third was granted", srv.Full())
			}
			srv.Unreserve()
			if srv.Full() {
				t.Fatal("Full after Unreserve")
			}
			// The remaining reservation becomes a stream: still one place.
			s, c := streamPair(t)
			done := make(chan bool, 1)
			go func() { done <- srv.ServeReserved(s, f, nil) }()
			recvT(t, f.opened, "Open")
			if srv.Len() != 1 || srv.Full() {
				t.Fatalf("Len %d Full %v with one reserved stream running", srv.Len(), srv.Full())
			}
			if !srv.Reserve() || srv.Reserve() {
				t.Fatal("want exactly one more place beside the running stream")
			}
			srv.Unreserve()
			c.Close()
			if !recvT(t, done, "ServeReserved's return") {
				t.Fatal("ServeReserved reported a stopping server")
			}
			recvT(t, f.closed, "Closed")
			if srv.Full() || srv.Len() != 0 {
				t.Fatalf("Full %v Len %d after the stream ended", srv.Full(), srv.Len())
			}
		})
	}
}
