package wsproto

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// utf8Cases are valid and invalid texts, including Autobahn case 6 material.
var utf8Cases = []string{
	"",
	"hello",
	"κόσμε",
	"Hello-µ@ßöäüàá-UTF-8!!",
	strings.Repeat("a", 100) + "é" + strings.Repeat("b", 33),
	"\x00\x7f",
	"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
	"\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbd",
	// invalid
	"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\xaf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf",
	"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xfe",
	"\xed\xa0\x80", "\xed\xbf\xbf", "\xed\xa0\x80\xed\xb0\x80",
	"\xc2", "\xe0\xa0", "\xf0\x90\x80", "a\xc2", "\xc2a", "\xe1\x80a",
	"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
	"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64",
	strings.Repeat("abcdefgh", 4) + "\x80" + strings.Repeat("z", 20),
	strings.Repeat("é", 20) + "\xe0" + strings.Repeat("z", 20),
}

func TestValidUTF8(t *testing.T) {
	for _, s := range utf8Cases {
		if got, want := ValidUTF8([]byte(s)), utf8.ValidString(s); got != want {
			t.Errorf("ValidUTF8(%q) = %v, want %v", s, got, want)
		}
	}
	// Every 1-, 2- and 3-byte sequence, and a 4-byte sweep.
	var b [4]byte
	for i := 0; i < 1<<24; i += 7 {
		b[0], b[1], b[2] = byte(i>>16), byte(i>>8), byte(i)
		if ValidUTF8(b[:3]) != utf8.Valid(b[:3]) {
			t.Fatalf("ValidUTF8(%x) wrong", b[:3])
		}
	}
	for c0 := 0xe0; c0 <= 0xff; c0++ {
		for c1 := 0x70; c1 <= 0xc0; c1++ {
			for c2 := 0x70; c2 <= 0xc0; c2 += 3 {
				b = [4]byte{byte(c0), byte(c1), byte(c2), 0x80}
				if ValidUTF8(b[:]) != utf8.Valid(b[:]) {
					t.Fatalf("ValidUTF8(%x) wrong", b)
				}
			}
		}
	}
}

// Every split point (and byte-by-byte) gives the same answer as utf8.Valid.
func TestUTF8ValidatorSplits(t *testing.T) {
	for _, s := range utf8Cases {
		want := utf8.ValidString(s)
		p := []byte(s)
		for i := 0; i <= len(p); i++ {
			for j := i; j <= len(p); j++ {
				var v UTF8Validator
				ok := v.Write(p[:i]) && v.Write(p[i:j]) && v.Write(p[j:])
				if got := ok && v.Done(); got != want {
					t.Fatalf("%q split at %d,%d: %v, want %v", s, i, j, got, want)
				}
			}
		}
		var v UTF8Validator
		ok := true
		for i := range p {
			ok = v.Write(p[i:i+1]) && ok
		}
		if got := ok && v.Done(); got != want {
			t.Fatalf("%q bytewise: %v, want %v", s, got, want)
		}
	}
}

// Invalid prefixes fail on the chunk that makes them invalid (Autobahn
// 6.4.x "fail fast"), and a cut-off character is only an error at Done.
func TestUTF8ValidatorFailFast(t *testing.T) {
	for _, tc := range []struct {
		chunks []string
		failAt int // index of the chunk that must fail, -1: none
		done   bool
	}{
		// 6.4.1: second fragment holds 0xF4 0x90 0x80 0x80 (above U+10FFFF).
		{[]string{"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", "\xf4\x90\x80\x80", "\x65\x64\x69\x74\x65\x64"}, 1, false},
		// 6.4.2: 0xF4 ends the first fragment; 0x90 in the second is invalid.
		{[]string{"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4", "\x90\x80\x80\x65\x64\x69\x74\x65\x64"}, 1, false},
		{[]string{"\xed", "\xa0"}, 1, false},
		{[]string{"\xe0", "\x9f"}, 1, false},
		{[]string{"\xf0", "\x8f"}, 1, false},
		{[]string{"\xf0\x90", "\x80", "\x7f"}, 2, false},
		{[]string{"\xf0\x90", "\x80"}, -1, false}, // incomplete at the end
		{[]string{"\xf0\x90", "\x80", "\x80"}, -1, true},
		{[]string{"abc\xc3", "\xa9"}, -1, true},
	} {
		var v UTF8Validator
		failed := -1
		for i, c := range tc.chunks {
			if !v.Write([]byte(c)) && failed < 0 {
				failed = i
			}
		}
		if failed != tc.failAt || v.Done() != tc.done || v.Valid() != (tc.failAt < 0) {
			t.Errorf("%q: failed at %d (want %d), Done %v (want %v)", tc.chunks, failed, tc.failAt, v.Done(), tc.done)
		}
		v.Reset()
		if !v.Done() || !v.Write([]byte("ok")) {
			t.Errorf("Reset did not clear")
		}
	}
}
