package wsproto

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidCloseCode(t *testing.T) {
	valid := map[int]bool{}
	for _, c := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		valid[c] = true
	}
	for code := -1; code < 6000; code++ {
		want := valid[code] || (code >= 3000 && code <= 4999)
		if got := ValidCloseCode(code); got != want {
			t.Errorf("ValidCloseCode(%d) = %v", code, got)
		}
	}
	// Autobahn 7.9.x.
	for _, c := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		if ValidCloseCode(c) {
			t.Errorf("ValidCloseCode(%d) = true", c)
		}
	}
	if CloseCodeText(1000) != "normal closure" || CloseCodeText(4001) != "private" || CloseCodeText(3001) != "registered" || CloseCodeText(99) != "unknown (99)" {
		t.Errorf("CloseCodeText")
	}
	for c := 1000; c <= 1015; c++ {
		if strings.HasPrefix(CloseCodeText(c), "unknown") {
			t.Errorf("CloseCodeText(%d) unknown", c)
		}
	}
}

func TestParseClosePayload(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string
		code   int
		reason string
		err    int
	}{
		{"empty", "", 1005, "", 0},
		{"code only", "\x03\xe8", 1000, "", 0},
		{"with reason", "\x03\xe9going away", 1001, "going away", 0},
		{"utf8 reason", "\x0b\xb8κόσμε", 3000, "κόσμε", 0},
		{"1 byte", "\x03", 0, "", 1002},
		{"code 0", "\x00\x00", 0, "", 1002},
		{"code 999", "\x03\xe7", 0, "", 1002},
		{"code 1004", "\x03\xec", 0, "", 1002},
		{"code 1005", "\x03\xed", 0, "", 1002},
		{"code 1006", "\x03\xee", 0, "", 1002},
		{"code 1015", "\x03\xf7", 0, "", 1002},
		{"code 1016", "\x03\xf8", 0, "", 1002},
		{"code 2999", "\x0b\xb7", 0, "", 1002},
		{"code 5000", "\x13\x88", 0, "", 1002},
		{"code 65535", "\xff\xff", 0, "", 1002},
		{"7.5.1 invalid utf8 reason", "\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", 0, "", 1007},
	} {
		code, reason, err := ParseClosePayload([]byte(tc.in))
		if code != tc.code || reason != tc.reason || closeCode(err) != tc.err {
			t.Errorf("%s: got %d %q %v", tc.name, code, reason, err)
		}
	}
}

func TestAppendClosePayload(t *testing.T) {
	if got := AppendClosePayload(nil, 1000, "bye"); string(got) != "\x03\xe8bye" {
		t.Errorf("1000: %q", got)
	}
	if got := AppendClosePayload([]byte("x"), 1005, "ignored"); string(got) != "x" {
		t.Errorf("1005: %q", got)
	}
	if got := AppendClosePayload(nil, 0, ""); len(got) != 0 {
		t.Errorf("0: %q", got)
	}
	long := strings.Repeat("a", 200)
	if got := AppendClosePayload(nil, 1001, long); len(got) != 125 {
		t.Errorf("ascii truncation: %d bytes", len(got))
	}
	// 122 ASCII bytes then a 3-byte character: it does not fit whole.
	for pad := 118; pad <= 124; pad++ {
		r := strings.Repeat("a", pad) + "€€€"
		got := AppendClosePayload(nil, 1001, r)
		if len(got) > 125 || !utf8.Valid(got[2:]) || !strings.HasPrefix(r, string(got[2:])) {
			t.Errorf("pad %d: %d bytes, valid %v", pad, len(got), utf8.Valid(got[2:]))
		}
		if len(r) > MaxCloseReason && len(got[2:]) < MaxCloseReason-3 {
			t.Errorf("pad %d: cut too much (%d)", pad, len(got[2:]))
		}
		if code, _, err := ParseClosePayload(got); err != nil || code != 1001 {
			t.Errorf("pad %d: does not parse: %v", pad, err)
		}
	}
	if TruncateReason("short") != "short" {
		t.Error("TruncateReason changed a short reason")
	}
}
