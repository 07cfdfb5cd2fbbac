package wsproto

import (
	"net/http"
	"strconv"
	"strings"
)

// SetH2RequestHeaders sets the headers of an RFC 8441 extended CONNECT
// (§5) on h: Sec-WebSocket-Version and, when offered,
// Sec-WebSocket-Protocol and Sec-WebSocket-Extensions. HTTP/2 has no
// Upgrade, Connection or Sec-WebSocket-Key: the :protocol pseudo-header
// (set by the caller's transport) takes their place.
func (c *ClientHandshake) SetH2RequestHeaders(h http.Header) {
	h.Del("Upgrade")
	h.Del("Connection")
	h.Del("Sec-WebSocket-Key")
	h.Set("Sec-WebSocket-Version", "13")
	if len(c.Subprotocols) > 0 {
		h.Set("Sec-WebSocket-Protocol", strings.Join(c.Subprotocols, ", "))
	}
	if c.Deflate != nil {
		h.Set("Sec-WebSocket-Extensions", ClientDeflateOffer(*c.Deflate))
	}
}

// CheckH2Response validates the server's answer to an RFC 8441 extended
// CONNECT: status 200 (there is no Sec-WebSocket-Accept), then the
// subprotocol and extensions as [CheckResponse] does.
func CheckH2Response(resp *http.Response, c *ClientHandshake) (HandshakeResult, error) {
	if resp.StatusCode != http.StatusOK {
		return HandshakeResult{}, &HandshakeError{Status: resp.StatusCode, Message: "server answered " + strconv.Itoa(resp.StatusCode) + " instead of 200"}
	}
	return negotiated(resp, c)
}
