package websocket

import (
	"bytes"
	"net"
	"testing"

	"golang.org/x/net/http2"
)

// recConn records what is written to it.
type recConn struct {
	net.Conn
	buf bytes.Buffer
}

func (r *recConn) Write(p []byte) (int, error) { return r.buf.Write(p) }

// The frames of an HTTP/2 server's output, in every split into two writes:
// the counted INTERNAL_ERROR reset goes out as CANCEL, the uncounted one
// and every other frame unchanged, and the input is never modified.
func TestCancelConnRewritesCountedResets(t *testing.T) {
	var in bytes.Buffer
	fr := http2.NewFramer(&in, nil)
	fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
	fr.WriteData(1, false, []byte{0, 0, 0, 4, 3, 0, 0, 0, 0, 2}) // a payload that looks like a reset
	fr.WriteRSTStream(3, http2.ErrCodeInternal)                  // counted: becomes CANCEL
	fr.WriteSettingsAck()
	fr.WriteRSTStream(5, http2.ErrCodeInternal) // not counted: unchanged
	fr.WriteRSTStream(7, http2.ErrCodeFlowControl)
	fr.WriteData(9, true, nil)
	orig := append([]byte(nil), in.Bytes()...)
	for split := 0; split <= len(orig); split++ {
		p := append([]byte(nil), orig...)
		rc := &recConn{}
		c := &cancelConn{Conn: rc}
		c.pending.Add(1)
		c.Write(p[:split])
		c.Write(p[split:])
		if !bytes.Equal(p, orig) {
			t.Fatalf("split %d: the input was modified", split)
		}
		rd := http2.NewFramer(nil, &rc.buf)
		var resets []http2.ErrCode
		var frames int
		for {
			f, err := rd.ReadFrame()
			if err != nil {
				break
			}
			frames++
			if r, ok := f.(*http2.RSTStreamFrame); ok {
				resets = append(resets, r.ErrCode)
			}
			if d, ok := f.(*http2.DataFrame); ok && d.StreamID == 1 && !bytes.Equal(d.Data(), []byte{0, 0, 0, 4, 3, 0, 0, 0, 0, 2}) {
				t.Fatalf("split %d: DATA changed: %x", split, d.Data())
			}
		}
		want := []http2.ErrCode{http2.ErrCodeCancel, http2.ErrCodeInternal, http2.ErrCodeFlowControl}
		if frames != 7 || len(resets) != 3 || resets[0] != want[0] || resets[1] != want[1] || resets[2] != want[2] {
			t.Fatalf("split %d: %d frames, resets %v, want %v", split, frames, resets, want)
		}
		if c.pending.Load() != 0 {
			t.Fatalf("split %d: pending %d", split, c.pending.Load())
		}
	}
}

// FuzzCancelConnScan: any byte stream, in any split into two writes,
// comes out unchanged when no drop is counted, and with at most the
// counted number of bytes changed, each from INTERNAL_ERROR's low byte to
// CANCEL's, when some are; the input is never modified.
func FuzzCancelConnScan(f *testing.F) {
	var in bytes.Buffer
	fr := http2.NewFramer(&in, nil)
	fr.WriteSettings()
	fr.WriteRSTStream(1, http2.ErrCodeInternal)
	fr.WriteData(3, true, []byte("x"))
	f.Add(in.Bytes(), uint(4), uint8(1))
	f.Add([]byte{0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 2}, uint(0), uint8(2))
	f.Fuzz(func(t *testing.T, p []byte, split uint, drops uint8) {
		orig := append([]byte(nil), p...)
		rc := &recConn{}
		c := &cancelConn{Conn: rc}
		c.pending.Add(int32(drops % 4))
		k := int(split % uint(len(p)+1))
		c.Write(p[:k])
		c.Write(p[k:])
		if !bytes.Equal(p, orig) {
			t.Fatal("the input was modified")
		}
		out := rc.buf.Bytes()
		if len(out) != len(p) {
			t.Fatalf("wrote %d bytes of %d", len(out), len(p))
		}
		changed := 0
		for i := range out {
			if out[i] != p[i] {
				if p[i] != h2CodeInternal || out[i] != h2CodeCancel {
					t.Fatalf("byte %d: %#x became %#x", i, p[i], out[i])
				}
				changed++
			}
		}
		if changed > int(drops%4) || int(c.pending.Load()) != int(drops%4)-changed {
			t.Fatalf("%d bytes changed for %d drops, %d pending", changed, drops%4, c.pending.Load())
		}
	})
}
