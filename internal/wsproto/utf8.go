package wsproto

import "unicode/utf8"

// UTF-8 tables, in the style of unicode/utf8, used to check the prefix of a
// character cut off at the end of a chunk: first[b] describes a
// leading byte b: xx invalid, as ASCII, otherwise the low 3 bits are the
// sequence length and the high nibble indexes acceptRanges, the valid range
// of the second byte.
const (
	xx = 0xF1 // invalid
	as = 0xF0 // ASCII
	s1 = 0x02 // 2 bytes, second 80-BF
	s2 = 0x13 // E0: 3 bytes, second A0-BF
	s3 = 0x03 // 3 bytes, second 80-BF
	s4 = 0x23 // ED: 3 bytes, second 80-9F (no surrogates)
	s5 = 0x34 // F0: 4 bytes, second 90-BF
	s6 = 0x04 // F1-F3: 4 bytes, second 80-BF
	s7 = 0x44 // F4: 4 bytes, second 80-8F (nothing above U+10FFFF)
)

var first = [256]uint8{
	//   1   2   3   4   5   6   7   8   9   A   B   C   D   E   F
	as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, // 0x00-0x0F
	as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, // 0x10-0x1F
	as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, // 0x20-0x2F
	as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, // 0x30-0x3F
	as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, // 0x40-0x4F
	as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, // 0x50-0x5F
	as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, // 0x60-0x6F
	as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, as, // 0x70-0x7F
	xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, // 0x80-0x8F
	xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, // 0x90-0x9F
	xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, // 0xA0-0xAF
	xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, // 0xB0-0xBF
	xx, xx, s1, s1, s1, s1, s1, s1, s1, s1, s1, s1, s1, s1, s1, s1, // 0xC0-0xCF
	s1, s1, s1, s1, s1, s1, s1, s1, s1, s1, s1, s1, s1, s1, s1, s1, // 0xD0-0xDF
	s2, s3, s3, s3, s3, s3, s3, s3, s3, s3, s3, s3, s3, s4, s3, s3, // 0xE0-0xEF
	s5, s6, s6, s6, s7, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, // 0xF0-0xFF
}

type acceptRange struct{ lo, hi uint8 }

var acceptRanges = [5]acceptRange{
	{0x80, 0xBF},
	{0xA0, 0xBF},
	{0x80, 0x9F},
	{0x90, 0xBF},
	{0x80, 0x8F},
}

// ValidUTF8 reports whether p is entirely valid UTF-8. It is utf8.Valid:
// since Go 1.26 the standard library skips ASCII 32 bytes per step and
// resumes that fast path after every multi-byte character, and it measured
// faster than the word-at-a-time validator this package had (see
// BenchmarkUTF8), so ValidUTF8 is kept only as the package's one name for
// the check.
func ValidUTF8(p []byte) bool { return utf8.Valid(p) }

// incompleteTail returns the index where a multi-byte sequence that is cut
// off by the end of p starts, or len(p) when p does not end inside one. It
// looks only at the last 3 bytes and does not validate anything.
func incompleteTail(p []byte) int {
	for back := 1; back <= 3 && back <= len(p); back++ {
		c := p[len(p)-back]
		if c < 0x80 {
			return len(p) // ASCII: nothing cut off
		}
		if c >= 0xC0 { // a leading byte (or an invalid one)
			if x := first[c]; x != xx && int(x&7) > back {
				return len(p) - back
			}
			return len(p)
		}
		// a continuation byte: keep looking back
	}
	return len(p)
}

// validPrefix reports whether p, shorter than its sequence, is a valid start
// of one; p[0] is a leading byte.
func validPrefix(p []byte) bool {
	ar := acceptRanges[first[p[0]]>>4]
	if len(p) > 1 && (p[1] < ar.lo || ar.hi < p[1]) {
		return false
	}
	if len(p) > 2 && (p[2] < 0x80 || 0xBF < p[2]) {
		return false
	}
	return true
}

// UTF8Validator validates UTF-8 text that arrives in chunks, such as the
// fragments of a text message, and handles characters split across chunks.
// A prefix that can never become valid (such as 0xED 0xA0, a surrogate) is
// reported by the Write that completes it, so a text message can fail fast.
// The zero value is ready to use.
type UTF8Validator struct {
	need   uint8 // continuation bytes still expected
	lo, hi uint8 // the range of the next one
	bad    bool
}

// Write validates the next chunk. It returns false once the text is invalid,
// and keeps returning false until Reset.
func (v *UTF8Validator) Write(p []byte) bool {
	if v.bad {
		return false
	}
	i := 0
	for v.need > 0 && i < len(p) {
		c := p[i]
		if c < v.lo || v.hi < c {
			v.bad = true
			return false
		}
		v.lo, v.hi = 0x80, 0xBF
		v.need--
		i++
	}
	if i == len(p) {
		return true
	}
	p = p[i:]
	n := incompleteTail(p)
	if !utf8.Valid(p[:n]) || (n < len(p) && !validPrefix(p[n:])) {
		v.bad = true
		return false
	}
	if rest := p[n:]; len(rest) > 0 {
		// A valid but incomplete sequence: remember what must follow.
		x := first[rest[0]]
		ar := acceptRanges[x>>4]
		v.need = x&7 - uint8(len(rest))
		if len(rest) == 1 {
			v.lo, v.hi = ar.lo, ar.hi
		} else {
			v.lo, v.hi = 0x80, 0xBF
		}
	}
	return true
}

// Done reports whether everything written so far is valid and complete (no
// character is cut off at the end).
func (v *UTF8Validator) Done() bool { return !v.bad && v.need == 0 }

// Valid reports whether everything written so far is valid, possibly ending
// in the prefix of a character.
func (v *UTF8Validator) Valid() bool { return !v.bad }

// Reset makes v ready for a new text.
func (v *UTF8Validator) Reset() { *v = UTF8Validator{} }
