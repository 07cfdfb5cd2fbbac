//go:build !race

package wsproto

import (
	"bytes"
	"compress/flate"
	"errors"
	"runtime"
	"testing"
)

// bomb returns the permessage-deflate payload of n zero bytes.
func bomb(t testing.TB, n int) []byte {
	t.Helper()
	var zb bytes.Buffer
	w, _ := flate.NewWriter(&zb, flate.BestCompression)
	zero := make([]byte, 1<<20)
	for left := n; left > 0; left -= len(zero) {
		w.Write(zero[:min(left, len(zero))])
	}
	w.Flush()
	return bytes.TrimSuffix(zb.Bytes(), deflateTail[:])
}

// A deflate bomb stopped at the message limit costs the limit plus a small
// constant of memory, not the doubling growth of a buffer (before: about
// twice the limit allocated, and as garbage). Measured as bytes allocated
// (deterministic), not as wall-clock or RSS.
func TestDeflateBombAllocatesWithinTheLimit(t *testing.T) {
	const max = 16 << 20
	msg := bomb(t, 64<<20)
	d := NewDecompressorTakeover(false)
	var r MessageReader
	r.Init(ReaderConfig{Role: RoleServer, MaxMessageSize: max}, d)
	decode := func() error {
		var buf buffer
		err := d.decompress(&buf, msg, max, true)
		buf.release()
		return err
	}
	decode() // warm the pools
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := decode()
	runtime.ReadMemStats(&after)
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != CloseMessageTooBig {
		t.Fatalf("bomb: %v, want 1009", err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("a 64 MiB bomb against a 16 MiB limit allocated %d KiB (pools warm)", alloc>>10)
	// Cold pools would allocate the limit once in chunks; warm ones much
	// less. The bound is the limit plus a constant either way.
	if alloc > max+1<<20 {
		t.Fatalf("a bomb allocated %d bytes against a %d-byte limit", alloc, max)
	}
	// A valid message at the limit still inflates, into one exact buffer.
	ok := bomb(t, max-1)
	var buf buffer
	if err := d.decompress(&buf, ok, max, true); err != nil || len(buf.b) != max-1 {
		t.Fatalf("message at the limit: %d %v", len(buf.b), err)
	}
	buf.release()
}
