package wsproto

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// websocketGUID is the fixed GUID of RFC 6455 §1.3.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey returns the Sec-WebSocket-Accept value for a client's
// Sec-WebSocket-Key: base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2).
func AcceptKey(clientKey string) string {
	h := sha1.New()
	h.Write([]byte(clientKey))
	h.Write([]byte(websocketGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(h.Sum(sum[:0]))
}

// NewClientKey returns a fresh Sec-WebSocket-Key: 16 random bytes from
// crypto/rand, base64-encoded (RFC 6455 §4.1).
func NewClientKey() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (Go 1.24+)
	return base64.StdEncoding.EncodeToString(b[:])
}

// validKey reports whether key is base64 for exactly 16 bytes.
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(key))
	return err == nil && n == 16
}

// HeaderContainsToken reports whether any of the comma-separated values of
// header name in h contains token, compared case-insensitively (as
// "Connection: keep-alive, Upgrade" contains "upgrade").
func HeaderContainsToken(h http.Header, name, token string) bool {
	for _, v := range h[http.CanonicalHeaderKey(name)] {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.Trim(elem, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// IsUpgradeRequest reports whether r asks for a WebSocket upgrade at all
// (Connection contains "upgrade" and Upgrade contains "websocket"), so that
// a server can hand other requests to a plain HTTP handler. It does not
// validate the request; see CheckRequest.
func IsUpgradeRequest(r *http.Request) bool {
	return HeaderContainsToken(r.Header, "Connection", "upgrade") &&
		HeaderContainsToken(r.Header, "Upgrade", "websocket")
}

func badRequest(msg string) *HandshakeError {
	return &HandshakeError{Status: http.StatusBadRequest, Message: msg}
}

// CheckRequest validates a client's opening handshake (RFC 6455 §4.2.1) and
// returns nil or a *HandshakeError whose Status the server answers with:
//   - 405 if the method is not GET;
//   - 400 if the request is older than HTTP/1.1, has no Host, lacks
//     "Connection: upgrade" or "Upgrade: websocket" (tokens matched
//     case-insensitively inside comma lists), has not exactly one
//     Sec-WebSocket-Key that is base64 for 16 bytes, or offers an invalid
//     subprotocol token;
//   - 426 (answer with Sec-WebSocket-Version: 13, see
//     HandshakeError.Respond) if Sec-WebSocket-Version is missing or not 13.
func CheckRequest(r *http.Request) error {
	if IsExtendedConnect(r) || r.Method == http.MethodConnect && r.ProtoMajor >= 2 {
		return checkConnect(r)
	}
	if r.Method != http.MethodGet {
		return &HandshakeError{Status: http.StatusMethodNotAllowed, Message: "method " + r.Method + " is not GET"}
	}
	if !r.ProtoAtLeast(1, 1) {
		return badRequest("protocol " + r.Proto + " is older than HTTP/1.1")
	}
	if r.Host == "" {
		return badRequest("missing Host")
	}
	if !HeaderContainsToken(r.Header, "Connection", "upgrade") {
		return badRequest("Connection header does not contain upgrade")
	}
	if !HeaderContainsToken(r.Header, "Upgrade", "websocket") {
		return badRequest("Upgrade header does not contain websocket")
	}
	if v := r.Header.Values("Sec-Websocket-Version"); len(v) != 1 || strings.Trim(v[0], " \t") != "13" {
		return &HandshakeError{Status: http.StatusUpgradeRequired, Message: "unsupported Sec-WebSocket-Version " + strconv.Quote(strings.Join(v, ", ")) + " (13 is supported)"}
	}
	keys := r.Header.Values("Sec-Websocket-Key")
	if len(keys) != 1 {
		return badRequest("need exactly one Sec-WebSocket-Key, got " + strconv.Itoa(len(keys)))
	}
	if !validKey(strings.Trim(keys[0], " \t")) {
		return badRequest("Sec-WebSocket-Key is not base64 for 16 bytes")
	}
	if _, ok := parseTokenList(r.Header.Values("Sec-Websocket-Protocol")); !ok {
		return badRequest("invalid Sec-WebSocket-Protocol")
	}
	return nil
}

// IsExtendedConnect reports whether r is an HTTP/2 (or later) CONNECT
// with a :protocol pseudo-header (RFC 8441 §4), as golang.org/x/net/http2
// delivers it: r.Method "CONNECT", r.ProtoMajor 2, the pseudo-header in
// r.Header[":protocol"].
func IsExtendedConnect(r *http.Request) bool {
	return r.Method == http.MethodConnect && r.ProtoMajor >= 2 && r.Header.Get(":protocol") != ""
}

// checkConnect validates an RFC 8441 §4–5 extended CONNECT: :protocol
// websocket, Sec-WebSocket-Version 13 (else 400 with
// Sec-WebSocket-Version: 13), no Sec-WebSocket-Key needed. A CONNECT
// without :protocol (a proxy request) gets 400, another :protocol 501.
func checkConnect(r *http.Request) error {
	switch p := r.Header.Get(":protocol"); {
	case p == "":
		return badRequest("CONNECT without :protocol (RFC 8441 needs :protocol websocket)")
	case !strings.EqualFold(p, "websocket"):
		return &HandshakeError{Status: http.StatusNotImplemented, Message: "unsupported :protocol " + strconv.Quote(p) + " (websocket is supported)"}
	}
	if r.Host == "" {
		return badRequest("missing :authority")
	}
	if v := r.Header.Values("Sec-Websocket-Version"); len(v) != 1 || strings.Trim(v[0], " \t") != "13" {
		return &HandshakeError{Status: http.StatusBadRequest, Version: true, Message: "unsupported Sec-WebSocket-Version " + strconv.Quote(strings.Join(v, ", ")) + " (13 is supported)"}
	}
	if _, ok := parseTokenList(r.Header.Values("Sec-Websocket-Protocol")); !ok {
		return badRequest("invalid Sec-WebSocket-Protocol")
	}
	return nil
}

// RequestKey returns the Sec-WebSocket-Key of a request that passed
// CheckRequest, trimmed.
func RequestKey(r *http.Request) string {
	return strings.Trim(r.Header.Get("Sec-Websocket-Key"), " \t")
}

// ParseTokenList splits comma-separated header values into their tokens, in
// order, trimming whitespace and skipping empty elements. Elements that are
// not valid tokens are skipped.
func ParseTokenList(values []string) []string {
	var out []string
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			if elem = strings.Trim(elem, " \t"); isToken(elem) {
				out = append(out, elem)
			}
		}
	}
	return out
}

// parseTokenList is ParseTokenList that also reports whether every
// non-empty element was a token.
func parseTokenList(values []string) ([]string, bool) {
	var out []string
	ok := true
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			elem = strings.Trim(elem, " \t")
			switch {
			case elem == "":
			case isToken(elem):
				out = append(out, elem)
			default:
				ok = false
			}
		}
	}
	return out, ok
}

// Subprotocols returns the subprotocols a request offers in its
// Sec-WebSocket-Protocol headers, in the client's order.
func Subprotocols(r *http.Request) []string {
	return ParseTokenList(r.Header.Values("Sec-Websocket-Protocol"))
}

// SelectSubprotocol returns the first of the server's supported
// subprotocols (in the server's order of preference) that the client
// offered, or "" when they share none. Names are compared exactly: RFC 6455
// subprotocol names are case-sensitive.
func SelectSubprotocol(offered, supported []string) string {
	for _, s := range supported {
		for _, o := range offered {
			if s == o {
				return s
			}
		}
	}
	return ""
}

// AppendResponse appends the server's 101 Switching Protocols response for
// a request with Sec-WebSocket-Key key to dst, for writing straight to a
// hijacked connection: the status line, Upgrade, Connection,
// Sec-WebSocket-Accept, Sec-WebSocket-Protocol when subprotocol is not "",
// Sec-WebSocket-Extensions when extensions is not "", then the fields of
// extra (which must not repeat those), and the blank line. Header values
// containing CR or LF are dropped, so that extra cannot split the
// response.
func AppendResponse(dst []byte, key, subprotocol, extensions string, extra http.Header) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, AcceptKey(key)...)
	dst = append(dst, "\r\n"...)
	if subprotocol != "" {
		dst = appendField(dst, "Sec-WebSocket-Protocol", subprotocol)
	}
	if extensions != "" {
		dst = appendField(dst, "Sec-WebSocket-Extensions", extensions)
	}
	for name, values := range extra {
		for _, v := range values {
			dst = appendField(dst, name, v)
		}
	}
	return append(dst, "\r\n"...)
}

func appendField(dst []byte, name, value string) []byte {
	if strings.ContainsAny(name, "\r\n: ") || strings.ContainsAny(value, "\r\n") || name == "" {
		return dst
	}
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// ClientHandshake is what a client sends in its opening handshake and needs
// to check the response against.
type ClientHandshake struct {
	// Key is the Sec-WebSocket-Key; NewClientHandshake fills it.
	Key string
	// Subprotocols are offered in Sec-WebSocket-Protocol, most preferred
	// first; none when empty.
	Subprotocols []string
	// Deflate, when not nil, offers permessage-deflate with this policy.
	Deflate *DeflateConfig
}

// SetRequestHeaders sets the handshake headers on h (a request's headers):
// Upgrade, Connection, Sec-WebSocket-Version, Sec-WebSocket-Key, and, when
// offered, Sec-WebSocket-Protocol and Sec-WebSocket-Extensions.
func (c *ClientHandshake) SetRequestHeaders(h http.Header) {
	if c.Key == "" {
		c.Key = NewClientKey()
	}
	h.Set("Upgrade", "websocket")
	h.Set("Connection", "Upgrade")
	h.Set("Sec-WebSocket-Version", "13")
	h.Set("Sec-WebSocket-Key", c.Key)
	if len(c.Subprotocols) > 0 {
		h.Set("Sec-WebSocket-Protocol", strings.Join(c.Subprotocols, ", "))
	}
	if c.Deflate != nil {
		h.Set("Sec-WebSocket-Extensions", ClientDeflateOffer(*c.Deflate))
	}
}

// HandshakeResult is what the server agreed to.
type HandshakeResult struct {
	// Subprotocol is the server's choice, "" for none.
	Subprotocol string
	// Deflate reports that permessage-deflate was negotiated, with
	// DeflateParams.
	Deflate       bool
	DeflateParams DeflateParams
}

// CheckResponse validates the server's response to the handshake c
// described (RFC 6455 §4.1): status 101, "Upgrade: websocket",
// "Connection: upgrade", Sec-WebSocket-Accept matching c.Key, a
// subprotocol that was offered (at most one), and extensions that were
// offered (see NegotiateClient). Failures are *HandshakeError values
// carrying the response's status code.
func CheckResponse(resp *http.Response, c *ClientHandshake) (HandshakeResult, error) {
	fail := func(msg string) (HandshakeResult, error) {
		return HandshakeResult{}, &HandshakeError{Status: resp.StatusCode, Message: msg}
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fail("server answered " + strconv.Itoa(resp.StatusCode) + " instead of 101")
	}
	if !HeaderContainsToken(resp.Header, "Upgrade", "websocket") {
		return fail("response Upgrade header does not contain websocket")
	}
	if !HeaderContainsToken(resp.Header, "Connection", "upgrade") {
		return fail("response Connection header does not contain upgrade")
	}
	if accept := resp.Header.Values("Sec-Websocket-Accept"); len(accept) != 1 || strings.Trim(accept[0], " \t") != AcceptKey(c.Key) {
		return fail("wrong Sec-WebSocket-Accept")
	}
	return negotiated(resp, c)
}

// negotiated checks the subprotocol and extensions of a successful
// response, for HTTP/1.1 (CheckResponse) and HTTP/2 (CheckH2Response)
// alike.
func negotiated(resp *http.Response, c *ClientHandshake) (HandshakeResult, error) {
	fail := func(msg string) (HandshakeResult, error) {
		return HandshakeResult{}, &HandshakeError{Status: resp.StatusCode, Message: msg}
	}
	var res HandshakeResult
	switch protos := resp.Header.Values("Sec-Websocket-Protocol"); len(protos) {
	case 0:
	case 1:
		p := strings.Trim(protos[0], " \t")
		if p == "" {
			break
		}
		offered := false
		for _, o := range c.Subprotocols {
			offered = offered || o == p
		}
		if !offered {
			return fail("server chose a subprotocol that was not offered: " + strconv.Quote(p))
		}
		res.Subprotocol = p
	default:
		return fail("server sent more than one Sec-WebSocket-Protocol")
	}
	if c.Deflate == nil {
		if exts, malformed := parseExtensions(resp.Header.Values("Sec-Websocket-Extensions")); len(exts) > 0 || malformed {
			return fail("server accepted extensions that were not offered")
		}
		return res, nil
	}
	params, ok, err := NegotiateClient(resp.Header, *c.Deflate)
	if err != nil {
		err.(*HandshakeError).Status = resp.StatusCode
		return HandshakeResult{}, err
	}
	res.Deflate, res.DeflateParams = ok, params
	return res, nil
}
