package wsproto

import (
	"net/http"
	"strconv"
	"strings"
)

// Extension is one element of a Sec-WebSocket-Extensions header (RFC 6455
// §9.1): an extension name and its parameters, in order.
type Extension struct {
	Name   string
	Params []ExtensionParam
}

// ExtensionParam is an extension parameter. Value is "" for a parameter
// without a value; a quoted value is unquoted (and, RFC 6455 §9.1 requires,
// a token, so never empty).
type ExtensionParam struct {
	Name  string
	Value string
}

// String formats e as it appears in a header, quoting nothing (all names and
// values are tokens).
func (e Extension) String() string {
	var b strings.Builder
	b.WriteString(e.Name)
	for _, p := range e.Params {
		b.WriteString("; ")
		b.WriteString(p.Name)
		if p.Value != "" {
			b.WriteByte('=')
			b.WriteString(p.Value)
		}
	}
	return b.String()
}

// ParseExtensions parses every Sec-WebSocket-Extensions header of h into
// the list of extensions (for a client's request, the offers, most preferred
// first). Header lines and comma-separated elements are concatenated in
// order. A malformed element (bad token, unbalanced quote, a quoted value
// that is not a token, junk after a parameter) is dropped; the rest of the
// list is still parsed.
func ParseExtensions(h http.Header) []Extension {
	exts, _ := parseExtensions(h.Values("Sec-Websocket-Extensions"))
	return exts
}

// parseExtensions parses header values; malformed reports whether any
// element was dropped.
func parseExtensions(values []string) (exts []Extension, malformed bool) {
	for _, v := range values {
		for v != "" {
			var e Extension
			var st elemStatus
			v, e, st = parseExtension(v)
			switch st {
			case elemOK:
				exts = append(exts, e)
			case elemBad:
				malformed = true
			}
		}
	}
	return exts, malformed
}

type elemStatus uint8

const (
	elemEmpty elemStatus = iota // only separators and whitespace
	elemOK
	elemBad
)

// parseExtension parses one list element from s and returns the rest after
// its comma ("" at the end). Empty elements (", ,") are allowed by the
// #rule and skipped.
func parseExtension(s string) (rest string, e Extension, st elemStatus) {
	s = skipOWS(s)
	for len(s) > 0 && s[0] == ',' {
		s = skipOWS(s[1:])
	}
	if s == "" {
		return "", Extension{}, elemEmpty
	}
	bad := func(s string) (string, Extension, elemStatus) {
		return skipElement(s), Extension{}, elemBad
	}
	e.Name, s = cutToken(s)
	if e.Name == "" {
		return bad(s)
	}
	for {
		s = skipOWS(s)
		if s == "" {
			return "", e, elemOK
		}
		switch s[0] {
		case ',':
			return s[1:], e, elemOK
		case ';':
		default:
			return bad(s)
		}
		s = skipOWS(s[1:])
		var p ExtensionParam
		p.Name, s = cutToken(s)
		if p.Name == "" {
			return bad(s)
		}
		s = skipOWS(s)
		if len(s) > 0 && s[0] == '=' {
			s = skipOWS(s[1:])
			if len(s) > 0 && s[0] == '"' {
				var good bool
				p.Value, s, good = cutQuoted(s)
				if !good || !isToken(p.Value) {
					return bad(s)
				}
			} else {
				p.Value, s = cutToken(s)
				if p.Value == "" {
					return bad(s)
				}
			}
		}
		e.Params = append(e.Params, p)
	}
}

// skipElement skips to just after the next comma outside a quoted string.
func skipElement(s string) (rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == ',':
			return s[i+1:]
		}
	}
	return ""
}

// cutQuoted parses a quoted-string at the start of s (s[0] == '"') and
// returns its unescaped content and the rest.
func cutQuoted(s string) (value, rest string, ok bool) {
	var b []byte
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return string(b), s[i+1:], true
		case '\\':
			i++
			if i == len(s) {
				return "", "", false
			}
			b = append(b, s[i])
		default:
			b = append(b, c)
		}
	}
	return "", s, false
}

func skipOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

func cutToken(s string) (tok, rest string) {
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// isTokenChar reports whether c may appear in an RFC 9110 token.
func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// ValidToken reports whether s is a non-empty RFC 9110 token, as
// subprotocol names and extension names and parameters must be.
func ValidToken(s string) bool { return isToken(s) }

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// Permessage-deflate (RFC 7692).

// DefaultCompressionThreshold is the message size below which a Compressor
// sends messages uncompressed by default: deflate rarely wins on less, and
// it costs CPU on both sides.
const DefaultCompressionThreshold = 128

// DeflateConfig is this endpoint's permessage-deflate policy. The zero value
// is the default: no context takeover on this side, the peer may keep its
// context, flate.BestSpeed, messages under 128 bytes uncompressed.
type DeflateConfig struct {
	// ContextTakeover keeps this side's compression context (LZ77 window)
	// from one message to the next: better compression of similar
	// messages, at the price of a compressor (about 1 MiB at level 1) held
	// per connection for its lifetime. Default false: a server answers
	// server_no_context_takeover, a client offers
	// client_no_context_takeover, and pooled compressors serve one message
	// at a time.
	ContextTakeover bool
	// PeerNoContextTakeover asks the peer not to keep its compression
	// context either (a server adds client_no_context_takeover to its
	// response, a client adds server_no_context_takeover to its offer), so
	// no 32 KiB inflate window is held per connection between messages.
	// Default false: the peer may use context takeover unless it says it
	// will not, in which case its wish is honoured either way.
	PeerNoContextTakeover bool
	// Level is the compress/flate level for outbound messages, from
	// flate.HuffmanOnly (-2) to flate.BestCompression (9). Default (0, and
	// any invalid value): flate.BestSpeed. When the peer limits this side's
	// window below 15 bits, flate.HuffmanOnly is used whatever Level says.
	Level int
	// Threshold is the payload size below which messages are sent
	// uncompressed. Default (0): DefaultCompressionThreshold. Negative:
	// compress every message.
	Threshold int
	// PeerMaxWindowBits (8-15) asks the peer to compress with a window of
	// at most 2^PeerMaxWindowBits bytes: a server answers
	// client_max_window_bits with it (the smaller of it and the client's
	// own value) and declines offers without client_max_window_bits, which
	// could not honour it; a client offers server_max_window_bits with it
	// and fails a handshake whose answer does not honour it. 0: no limit.
	PeerMaxWindowBits int
}

// DeflateParams is the outcome of a permessage-deflate negotiation: the
// parameters in the server's response (RFC 7692 §7.1). A window size of 0
// means the parameter was absent (15 bits, 32 KiB).
type DeflateParams struct {
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	ServerMaxWindowBits     int
	ClientMaxWindowBits     int
}

// String formats p as a Sec-WebSocket-Extensions value, such as
// "permessage-deflate; server_no_context_takeover".
func (p DeflateParams) String() string {
	s := "permessage-deflate"
	if p.ServerNoContextTakeover {
		s += "; server_no_context_takeover"
	}
	if p.ClientNoContextTakeover {
		s += "; client_no_context_takeover"
	}
	if p.ServerMaxWindowBits != 0 {
		s += "; server_max_window_bits=" + strconv.Itoa(p.ServerMaxWindowBits)
	}
	if p.ClientMaxWindowBits != 0 {
		s += "; client_max_window_bits=" + strconv.Itoa(p.ClientMaxWindowBits)
	}
	return s
}

const extDeflate = "permessage-deflate"

// parseWindowBits parses a max_window_bits value: 8 to 15, no leading zero
// or sign (RFC 7692 §7.1.2: 1*DIGIT without leading zeros, in 8-15).
func parseWindowBits(v string) (int, bool) {
	switch len(v) {
	case 1:
		if v[0] == '8' || v[0] == '9' {
			return int(v[0] - '0'), true
		}
	case 2:
		if v[0] == '1' && v[1] >= '0' && v[1] <= '5' {
			return 10 + int(v[1]-'0'), true
		}
	}
	return 0, false
}

// deflateOffer is a parsed client offer.
type deflateOffer struct {
	DeflateParams
	clientMaxWindowBitsOffered bool // client_max_window_bits, with or without value
}

// parseDeflateParams validates the parameters of a permessage-deflate
// element. In an offer (response == false) client_max_window_bits may come
// without a value; in a response every window size needs one. Unknown or
// repeated parameters and bad values make the element invalid.
func parseDeflateParams(params []ExtensionParam, response bool) (deflateOffer, bool) {
	var o deflateOffer
	var seen [4]bool
	for _, p := range params {
		var idx int
		switch strings.ToLower(p.Name) {
		case "server_no_context_takeover":
			idx = 0
			if p.Value != "" {
				return o, false
			}
			o.ServerNoContextTakeover = true
		case "client_no_context_takeover":
			idx = 1
			if p.Value != "" {
				return o, false
			}
			o.ClientNoContextTakeover = true
		case "server_max_window_bits":
			idx = 2
			bits, ok := parseWindowBits(p.Value)
			if !ok {
				return o, false
			}
			o.ServerMaxWindowBits = bits
		case "client_max_window_bits":
			idx = 3
			o.clientMaxWindowBitsOffered = true
			if p.Value == "" && !response {
				break
			}
			bits, ok := parseWindowBits(p.Value)
			if !ok {
				return o, false
			}
			o.ClientMaxWindowBits = bits
		default:
			return o, false
		}
		if seen[idx] {
			return o, false
		}
		seen[idx] = true
	}
	return o, true
}

// NegotiateServer picks the first acceptable permessage-deflate offer among
// offers (from ParseExtensions of the request) and returns the negotiated
// parameters and the Sec-WebSocket-Extensions value for the response; ok is
// false when nothing was offered or every offer was invalid (unknown or
// repeated parameters, window sizes outside 8-15), and the connection then
// runs uncompressed.
//
// The response carries server_no_context_takeover unless cfg asks for
// context takeover and the client did not forbid it; client_no_context_
// takeover when the client offered it (its wish is honoured) or
// cfg.PeerNoContextTakeover; and server_max_window_bits when the client
// limited the server's window (the Compressor then emits flate.HuffmanOnly
// output, which needs no window at all). client_max_window_bits is never
// sent unless cfg.PeerMaxWindowBits asks for it: the Decompressor handles
// any window.
func NegotiateServer(offers []Extension, cfg DeflateConfig) (params DeflateParams, response string, ok bool) {
	for _, e := range offers {
		if !strings.EqualFold(e.Name, extDeflate) {
			continue
		}
		o, valid := parseDeflateParams(e.Params, false)
		if !valid {
			continue
		}
		params = DeflateParams{
			ServerNoContextTakeover: o.ServerNoContextTakeover || !cfg.ContextTakeover,
			ClientNoContextTakeover: o.ClientNoContextTakeover || cfg.PeerNoContextTakeover,
			ServerMaxWindowBits:     o.ServerMaxWindowBits,
		}
		if cap := cfg.PeerMaxWindowBits; cap != 0 {
			if !o.clientMaxWindowBitsOffered {
				continue // the client cannot limit its window
			}
			params.ClientMaxWindowBits = cap
			if o.ClientMaxWindowBits != 0 && o.ClientMaxWindowBits < cap {
				params.ClientMaxWindowBits = o.ClientMaxWindowBits
			}
		}
		return params, params.String(), true
	}
	return DeflateParams{}, "", false
}

// ClientDeflateOffer returns the Sec-WebSocket-Extensions value a client
// sends to offer permessage-deflate under cfg: always
// client_max_window_bits (any window the server picks is fine), plus
// client_no_context_takeover unless cfg.ContextTakeover, plus
// server_no_context_takeover when cfg.PeerNoContextTakeover.
func ClientDeflateOffer(cfg DeflateConfig) string {
	s := extDeflate + "; client_max_window_bits"
	if !cfg.ContextTakeover {
		s += "; client_no_context_takeover"
	}
	if cfg.PeerNoContextTakeover {
		s += "; server_no_context_takeover"
	}
	if cfg.PeerMaxWindowBits != 0 {
		s += "; server_max_window_bits=" + strconv.Itoa(cfg.PeerMaxWindowBits)
	}
	return s
}

// NegotiateClient validates a server's Sec-WebSocket-Extensions response to
// an offer made with ClientDeflateOffer(cfg). ok is false (and err nil) when
// the server declined compression. Anything we did not offer is an error
// that fails the handshake (RFC 6455 §4.1): another extension, more than one
// element, a malformed header, unknown or repeated parameters, window sizes
// outside 8-15, or a missing server_no_context_takeover that cfg asked for.
func NegotiateClient(h http.Header, cfg DeflateConfig) (params DeflateParams, ok bool, err error) {
	values := h.Values("Sec-Websocket-Extensions")
	exts, malformed := parseExtensions(values)
	if malformed {
		return DeflateParams{}, false, &HandshakeError{Message: "malformed Sec-WebSocket-Extensions in response"}
	}
	if len(exts) == 0 {
		return DeflateParams{}, false, nil
	}
	if len(exts) > 1 || !strings.EqualFold(exts[0].Name, extDeflate) {
		return DeflateParams{}, false, &HandshakeError{Message: "server accepted extensions that were not offered: " + strings.Join(values, ", ")}
	}
	o, valid := parseDeflateParams(exts[0].Params, true)
	if !valid {
		return DeflateParams{}, false, &HandshakeError{Message: "invalid permessage-deflate response: " + exts[0].String()}
	}
	if cfg.PeerNoContextTakeover && !o.ServerNoContextTakeover {
		return DeflateParams{}, false, &HandshakeError{Message: "server ignored server_no_context_takeover"}
	}
	if cap := cfg.PeerMaxWindowBits; cap != 0 && (o.ServerMaxWindowBits == 0 || o.ServerMaxWindowBits > cap) {
		return DeflateParams{}, false, &HandshakeError{Message: "server ignored server_max_window_bits=" + strconv.Itoa(cap)}
	}
	return o.DeflateParams, true, nil
}
