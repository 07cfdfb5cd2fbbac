package wsproto

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// Defaults of [RequestParser].
const (
	// DefaultFastMaxHeaderBytes bounds the request line and header fields
	// the fast path collects; a longer request goes to net/http, whose own
	// limit then applies.
	DefaultFastMaxHeaderBytes = 8 << 10
	// DefaultFastMaxFields bounds the header fields of the fast path.
	DefaultFastMaxFields = 64
)

// ParseStatus is the state of a [RequestParser] after [RequestParser.Feed].
type ParseStatus int

const (
	// NeedMore: the request is not complete yet; feed more bytes.
	NeedMore ParseStatus = iota
	// FastPath: a complete plain GET upgrade request was parsed; build it
	// with [RequestParser.Request].
	FastPath
	// NotFastPath: the request is something the fast path does not take
	// (another method or version, a body, folded or odd header lines,
	// limits exceeded, not an upgrade, malformed). Hand every byte to
	// net/http: [RequestParser.Buffered], then the rest of the input.
	NotFastPath
)

// RequestParser is the handshake fast path: it parses a plain HTTP/1.1
// "GET" WebSocket upgrade request pushed to it in pieces and builds the
// *http.Request net/http would have built, or declines (NotFastPath) for
// anything unusual, so that net/http answers it. It does no I/O. Its zero
// value uses the defaults; a parser serves one request (see
// [RequestParser.Reset]).
//
// It accepts only: "GET", an origin-form target ("/...", its path with
// valid percent-escapes only), "HTTP/1.1",
// CRLF line ends, at most MaxFields fields of valid names and values
// without obs-fold, exactly one valid Host, no Content-Length,
// Transfer-Encoding or Expect, no "Connection: close", and "Upgrade:
// websocket" with "Connection: upgrade". Whatever it accepts, net/http's
// ReadRequest parses to the same method, URL, Host and header (the fuzz
// target checks this), except that Host is removed from the header as
// net/http's server does.
type RequestParser struct {
	// MaxHeaderBytes bounds the request head; <= 0 means
	// DefaultFastMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxFields bounds the header fields; <= 0 means DefaultFastMaxFields.
	MaxFields int

	buf    []byte // the head so far, when it came in more than one piece
	head   []byte // the complete head (aliasing the input or buf)
	status ParseStatus
}

// Reset prepares p for another request, keeping its buffer.
func (p *RequestParser) Reset() {
	p.buf, p.head, p.status = p.buf[:0], nil, NeedMore
}

// Buffered returns the bytes Feed kept (copied) so far: with NotFastPath,
// net/http must read them first, then the input from Feed's consumed
// count on.
func (p *RequestParser) Buffered() []byte { return p.buf }

var getPrefix = []byte("GET /")

// Feed pushes b. It returns how many bytes of b it took and the status.
// With FastPath, b[consumed:] is what the client sent after its request
// (the first WebSocket frames); call Request before b is reused, as the
// head may alias it (Request copies it). With NotFastPath, consumed bytes of b are in
// Buffered. After FastPath or NotFastPath, Feed takes nothing more.
func (p *RequestParser) Feed(b []byte) (consumed int, status ParseStatus) {
	if p.status != NeedMore {
		return 0, p.status
	}
	limit := p.MaxHeaderBytes
	if limit <= 0 {
		limit = DefaultFastMaxHeaderBytes
	}
	if len(p.buf) == 0 {
		// The usual case: the whole head in one piece, no copy.
		if end, st := scanHead(b, 0, limit); st != NeedMore {
			if st == FastPath {
				p.head = b[:end]
				if p.status = p.check(); p.status == NotFastPath {
					p.buf = append(p.buf, p.head...)
				}
				return end, p.status
			}
			p.status = NotFastPath
			p.buf = append(p.buf, b[:min(len(b), limit)]...)
			return min(len(b), limit), NotFastPath
		}
	}
	start := len(p.buf)
	take := b[:min(len(b), limit-start)]
	p.buf = append(p.buf, take...)
	end, st := scanHead(p.buf, max(start-3, 0), limit)
	switch st {
	case NeedMore:
		if len(p.buf) >= limit {
			p.status = NotFastPath
		}
		return len(take), p.status
	case NotFastPath:
		p.status = NotFastPath
		return len(take), NotFastPath
	}
	p.head = p.buf[:end]
	p.buf = p.buf[:end]
	p.status = p.check()
	return end - start, p.status
}

// scanHead looks for the blank line ending the head in b, from index
// from. It returns the head's length with FastPath, NotFastPath for a
// bare LF, a head longer than max or a start other than "GET /", and
// NeedMore otherwise.
func scanHead(b []byte, from, limit int) (int, ParseStatus) {
	if n := min(len(b), len(getPrefix)); !bytes.Equal(b[:n], getPrefix[:n]) {
		return 0, NotFastPath
	}
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i == 0 || b[i-1] != '\r' {
			return 0, NotFastPath
		}
		if i >= 3 && b[i-2] == '\n' {
			if i+1 > limit {
				return 0, NotFastPath
			}
			return i + 1, FastPath
		}
	}
	if len(b) >= limit {
		return 0, NotFastPath
	}
	return 0, NeedMore
}

// check validates the complete head without allocating.
func (p *RequestParser) check() ParseStatus {
	var t, h []byte
	if !walk(p.head, p.maxFields(), &t, &h, nil) {
		return NotFastPath
	}
	return FastPath
}

// Request builds the *http.Request of a request Feed reported as
// FastPath, as net/http's server would hand it to a handler: Method GET,
// URL, Proto HTTP/1.1, Header (canonical keys, without Host), Host,
// RequestURI, Body http.NoBody. The caller sets RemoteAddr, TLS and the
// context (Request.WithContext). It returns nil before FastPath.
func (p *RequestParser) Request() *http.Request {
	if p.status != FastPath {
		return nil
	}
	s := string(p.head) // one copy; every field is a substring of it
	n := countFields(p.head)
	h := make(http.Header, n)
	vals := make([]string, 0, n)
	target, host, ok := p.parseString(s, func(name, value string) {
		key := canonicalKey(name)
		if key == "Host" {
			return
		}
		if old, ok := h[key]; ok {
			h[key] = append(old, value)
			return
		}
		vals = append(vals, value)
		h[key] = vals[len(vals)-1 : len(vals) : len(vals)]
	})
	if !ok {
		return nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil
	}
	if hp := h["Pragma"]; len(hp) > 0 && hp[0] == "no-cache" { // as net/http's fixPragmaCacheControl
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	return &http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
		Host:       host,
		RequestURI: target,
	}
}

func countFields(head []byte) int { return bytes.Count(head, []byte{'\n'}) - 2 }

// parseString walks the head and reports its fields as substrings of s,
// a string copy of the head.
func (p *RequestParser) parseString(s string, field func(name, value string)) (target, host string, ok bool) {
	head := p.head
	var t, h []byte
	ok = walk(head, p.maxFields(), &t, &h, func(name, value []byte) {
		field(sub(s, head, name), sub(s, head, value))
	})
	return sub(s, head, t), sub(s, head, h), ok
}

// sub returns the substring of s (a copy of head) at the position of part,
// a subslice of head.
func sub(s string, head, part []byte) string {
	if len(part) == 0 {
		return ""
	}
	off := cap(head) - cap(part)
	return s[off : off+len(part)]
}

func (p *RequestParser) maxFields() int {
	if p.MaxFields <= 0 {
		return DefaultFastMaxFields
	}
	return p.MaxFields
}

var (
	httpVersion = []byte(" HTTP/1.1")
	comma       = []byte(",")
)

// cutLine splits off the first line of a head that scanHead accepted:
// every LF in it follows a CR.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	return b[:i-1], b[i+1:]
}

// trimOWS trims spaces and tabs at both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// walk checks the head line by line, reporting each field to field (may
// be nil), the target and the Host value. It allocates nothing.
func walk(head []byte, maxFields int, target, host *[]byte, field func(name, value []byte)) bool {
	line, rest := cutLine(head)
	if !bytes.HasPrefix(line, getPrefix[:4]) || !bytes.HasSuffix(line, httpVersion) {
		return false
	}
	t := line[4 : len(line)-len(httpVersion)]
	if len(t) == 0 || t[0] != '/' || (len(t) > 1 && t[1] == '/') {
		return false
	}
	for i, c := range t {
		if c <= ' ' || c >= 0x7f {
			return false
		}
		if c == '%' && !validEscape(t, i) && !bytes.Contains(t[:i], []byte{'?'}) {
			return false // url.ParseRequestURI would reject the path
		}
	}
	*target = t
	fields, hosts := 0, 0
	upgrade, connUpgrade := false, false
	for {
		line, rest = cutLine(rest)
		if len(line) == 0 {
			break
		}
		fields++
		if fields > maxFields || line[0] == ' ' || line[0] == '\t' {
			return false // too many, or obs-fold
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return false
		}
		name := line[:colon]
		for _, c := range name {
			if !isTokenByte(c) {
				return false
			}
		}
		value := trimOWS(line[colon+1:])
		for _, c := range value {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return false
			}
		}
		switch {
		case asciiEqualFold(name, "Host"):
			hosts++
			if hosts > 1 || !validHost(value) {
				return false
			}
			*host = value
		case asciiEqualFold(name, "Content-Length"), asciiEqualFold(name, "Transfer-Encoding"),
			asciiEqualFold(name, "Expect"):
			return false
		case asciiEqualFold(name, "Connection"):
			if containsToken(value, "close") {
				return false
			}
			connUpgrade = connUpgrade || containsToken(value, "upgrade")
		case asciiEqualFold(name, "Upgrade"):
			upgrade = upgrade || containsToken(value, "websocket")
		}
		if field != nil {
			field(name, value)
		}
	}
	return hosts == 1 && upgrade && connUpgrade
}

// validEscape reports whether the '%' at b[i] starts a percent-escape (two
// hex digits), as url.ParseRequestURI requires in a path.
func validEscape(b []byte, i int) bool {
	return i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// containsToken reports whether the comma list v holds token
// (case-insensitively), as httpguts.HeaderValuesContainsToken does.
func containsToken(v []byte, token string) bool {
	for len(v) > 0 {
		var elem []byte
		elem, v, _ = bytes.Cut(v, comma)
		if asciiEqualFold(trimOWS(elem), token) {
			return true
		}
	}
	return false
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// isTokenByte reports an RFC 9110 tchar (what net/http accepts in a
// field name).
func isTokenByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c < 0x80 && strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validHost is net/http's lenient Host check (httpguts.ValidHostHeader):
// bytes of uri-host and port only.
func validHost(h []byte) bool {
	for _, c := range h {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c < 0x80 && strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0) {
			return false
		}
	}
	return true
}

// commonKeys interns the canonical names of the fields an upgrade request
// usually has, so that canonicalising them allocates nothing.
var commonKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{"Host", "Upgrade", "Connection", "Origin", "User-Agent",
		"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol",
		"Sec-Websocket-Extensions", "Accept-Encoding", "Accept-Language", "Cache-Control",
		"Pragma", "Cookie", "Authorization", "X-Forwarded-For", "X-Forwarded-Proto", "X-Real-Ip"} {
		m[k] = k
	}
	return m
}()

// canonicalKey is textproto.CanonicalMIMEHeaderKey for a valid field name
// (walk checked it): the first letter and every letter after a hyphen in
// upper case, the others in lower case.
func canonicalKey(name string) string {
	var buf [64]byte
	if len(name) > len(buf) {
		return textproto.CanonicalMIMEHeaderKey(name)
	}
	same, upper := true, true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		same = same && c == name[i]
		buf[i] = c
		upper = c == '-'
	}
	if same {
		return name // a substring of the head's copy
	}
	if k, ok := commonKeys[string(buf[:len(name)])]; ok {
		return k
	}
	return string(buf[:len(name)])
}
