package wsproto

import (
	"encoding/binary"
	"errors"
	"testing"
)

func sf(op Opcode, fin bool, payload string) frame { // server-to-client: unmasked
	return frame{Header{Fin: fin, Opcode: op}, []byte(payload)}
}

func TestFrameRules(t *testing.T) {
	big := string(make([]byte, 126))
	rsv := func(f frame, r1, r2, r3 bool) frame {
		f.h.Rsv1, f.h.Rsv2, f.h.Rsv3 = r1, r2, r3
		return f
	}
	// 64-bit length with the top bit set, masked.
	len64MSB := []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}
	// Non-minimal length encodings are accepted (RFC 6455 only binds the sender).
	nonMinimal := []byte{0x82, 0xfe, 0x00, 0x03, 0, 0, 0, 0, 'a', 'b', 'c'}
	compressed := ReaderConfig{Compression: true}
	for _, tc := range []struct {
		name string
		cfg  ReaderConfig
		in   []byte
		code int // 0: valid
	}{
		{"text", ReaderConfig{}, encode(cf(OpText, true, "hi")), 0},
		{"binary empty", ReaderConfig{}, encode(cf(OpBinary, true, "")), 0},
		{"fragments", ReaderConfig{}, encode(cf(OpText, false, "a"), cf(OpContinuation, false, "b"), cf(OpContinuation, true, "c")), 0},
		{"ping 125", ReaderConfig{}, encode(cf(OpPing, true, big[:125])), 0},
		{"close empty", ReaderConfig{}, encode(cf(OpClose, true, "")), 0},
		{"non-minimal length", ReaderConfig{}, nonMinimal, 0},

		{"3.1 rsv1 without extension", ReaderConfig{}, encode(rsv(cf(OpText, true, "x"), true, false, false)), 1002},
		{"3.2 rsv2", ReaderConfig{}, encode(rsv(cf(OpText, true, "x"), false, true, false)), 1002},
		{"3.3 rsv3", ReaderConfig{}, encode(rsv(cf(OpText, true, "x"), false, false, true)), 1002},
		{"rsv2 with compression", compressed, encode(rsv(cf(OpText, true, "x"), false, true, false)), 1002},
		{"rsv1 with compression", compressed, encode(rsv(cf(OpText, true, "x"), true, false, false)), 0},
		{"rsv1 on continuation", compressed, encode(rsv(cf(OpText, false, "x"), true, false, false), rsv(cf(OpContinuation, true, "x"), true, false, false)), 1002},
		{"rsv1 on ping", compressed, encode(rsv(cf(OpPing, true, "x"), true, false, false)), 1002},
		{"3.4 rsv after valid frame", ReaderConfig{}, encode(cf(OpText, true, "ok"), rsv(cf(OpText, true, "x"), true, true, false)), 1002},

		{"4.1.1 opcode 3", ReaderConfig{}, encode(cf(3, true, "")), 1002},
		{"4.1.5 opcode 7", ReaderConfig{}, encode(cf(7, true, "x")), 1002},
		{"4.2.1 opcode 11", ReaderConfig{}, encode(cf(11, true, "")), 1002},
		{"4.2.5 opcode 15", ReaderConfig{}, encode(cf(15, true, "x")), 1002},

		{"ping not fin", ReaderConfig{}, encode(cf(OpPing, false, "x")), 1002},
		{"close not fin", ReaderConfig{}, encode(cf(OpClose, false, "")), 1002},
		{"2.5 ping 126", ReaderConfig{}, encode(cf(OpPing, true, big)), 1002},
		{"pong 126", ReaderConfig{}, encode(cf(OpPong, true, big)), 1002},
		{"7.3.6 close 126", ReaderConfig{}, encode(cf(OpClose, true, big)), 1002},

		{"5.1 continuation alone", ReaderConfig{}, encode(cf(OpContinuation, true, "x")), 1002},
		{"5.9 continuation after complete message", ReaderConfig{}, encode(cf(OpText, true, "a"), cf(OpContinuation, true, "b")), 1002},
		{"text inside fragmented text", ReaderConfig{}, encode(cf(OpText, false, "a"), cf(OpText, true, "b")), 1002},
		{"binary inside fragmented text", ReaderConfig{}, encode(cf(OpText, false, "a"), cf(OpPing, true, ""), cf(OpBinary, true, "b")), 1002},

		{"unmasked from client", ReaderConfig{Role: RoleServer}, encode(sf(OpText, true, "x")), 1002},
		{"masked from server", ReaderConfig{Role: RoleClient}, encode(cf(OpText, true, "x")), 1002},
		{"unmasked ping from client", ReaderConfig{Role: RoleServer}, encode(sf(OpPing, true, "")), 1002},
		{"server frames", ReaderConfig{Role: RoleClient}, encode(sf(OpText, false, "a"), sf(OpPing, true, "p"), sf(OpContinuation, true, "b")), 0},

		{"64-bit length MSB", ReaderConfig{}, len64MSB, 1002},

		{"frame at limit", ReaderConfig{MaxFrameSize: 10}, encode(cf(OpBinary, true, "0123456789")), 0},
		{"frame over limit", ReaderConfig{MaxFrameSize: 10}, encode(cf(OpBinary, true, "0123456789a")), 1009},
		{"message over limit", ReaderConfig{MaxMessageSize: 10}, encode(cf(OpText, false, "01234"), cf(OpContinuation, false, "56789"), cf(OpContinuation, true, "a")), 1009},
		{"message at limit", ReaderConfig{MaxMessageSize: 10}, encode(cf(OpText, false, "01234"), cf(OpContinuation, true, "56789")), 0},
		{"frame limit defaults to message limit", ReaderConfig{MaxMessageSize: 4}, encode(cf(OpBinary, true, "01234")), 1009},
		{"limits reset per message", ReaderConfig{MaxMessageSize: 4}, encode(cf(OpBinary, true, "0123"), cf(OpBinary, true, "0123")), 0},
		{"control frames exempt from frame limit", ReaderConfig{MaxFrameSize: 1}, encode(cf(OpPing, true, "0123456789")), 0},
		{"no limits", ReaderConfig{MaxFrameSize: -1, MaxMessageSize: -1}, encode(cf(OpBinary, true, "0123456789")), 0},
		{"compressed message gets deflate slack", ReaderConfig{MaxMessageSize: 10, Compression: true}, encode(rsv(cf(OpBinary, true, "0123456789abc"), true, false, false)), 0},
	} {
		for name, sp := range splits() {
			_, err := parseFrames(t, tc.cfg, tc.in, sp)
			if got := closeCode(err); got != tc.code || (tc.code == 0 && err != nil) {
				t.Errorf("%s (%s): err %v (code %d), want code %d", tc.name, name, err, got, tc.code)
			}
		}
	}
}

// Limits are checked from the header: a declared 1 GiB frame fails as soon
// as its header is in, with no payload sent and nothing allocated.
func TestLimitFromHeader(t *testing.T) {
	hdr := AppendHeader(nil, Header{Fin: true, Opcode: OpBinary, Masked: true, Length: 1 << 30})
	for _, cfg := range []ReaderConfig{{}, {MaxFrameSize: 1 << 20, MaxMessageSize: -1}} {
		var r FrameReader
		r.Init(cfg)
		_, _, err := r.Parse(hdr)
		if closeCode(err) != 1009 {
			t.Fatalf("%+v: err %v", cfg, err)
		}
		// Sticky.
		if _, _, err2 := r.Parse([]byte{1}); !errors.Is(err2, err) || r.Err() != err {
			t.Fatalf("error not sticky: %v", err2)
		}
	}
	// 64-bit lengths near the top of int64 do not overflow the message sum.
	var r FrameReader
	r.Init(ReaderConfig{MaxFrameSize: -1, MaxMessageSize: -1})
	first := AppendHeader(nil, Header{Opcode: OpBinary, Masked: true, Length: 1<<63 - 10})
	if _, ev, err := r.Parse(first); err != nil || ev.Kind != EventHeader {
		t.Fatalf("huge first frame: %v", err)
	}
}

// Bad first bytes fail before the rest of the header arrives.
func TestFailFastOnFirstBytes(t *testing.T) {
	var r FrameReader
	if _, _, err := r.Parse([]byte{0x83}); err != nil {
		t.Fatalf("one byte: %v", err)
	}
	if _, _, err := r.Parse([]byte{0x80}); closeCode(err) != 1002 {
		t.Fatalf("opcode 3: %v", err)
	}
}

func TestFrameReaderResetAndEmpty(t *testing.T) {
	var r FrameReader
	if n, ev, err := r.Parse(nil); n != 0 || ev.Kind != EventNone || err != nil {
		t.Fatalf("empty input: %d %v %v", n, ev.Kind, err)
	}
	r.Parse(encode(cf(3, true, "")))
	if r.Err() == nil {
		t.Fatal("no error")
	}
	r.Reset()
	if r.Err() != nil || r.Config().Role != RoleServer {
		t.Fatal("Reset kept the error")
	}
	stream := encode(cf(OpText, true, "ok"))
	if got, err := parseFrames(t, ReaderConfig{}, stream, whole); err != nil || string(got[0].payload) != "ok" {
		t.Fatalf("after reset: %v", err)
	}
	_ = binary.BigEndian
}

func TestProtocolErrorText(t *testing.T) {
	err := error(errFrameTooBig)
	if err.Error() != "websocket: frame too big (close 1009)" {
		t.Errorf("Error() = %q", err.Error())
	}
	for _, e := range []*ProtocolError{errReservedBits, errRSV1, errBadOpcode, errControlFragmented, errControlTooLong,
		errUnexpectedCont, errExpectedCont, errUnmasked, errMasked, errLength64, errFrameTooBig, errMessageTooBig,
		errInvalidUTF8, errCloseLen1, errCloseCode, errCloseReason, errBadDeflate, errDecompressTooBig} {
		if len(e.Reason) > MaxCloseReason || !ValidCloseCode(e.Code) {
			t.Errorf("%v: reason too long or code invalid", e)
		}
	}
}
