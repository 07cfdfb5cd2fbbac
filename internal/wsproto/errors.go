package wsproto

import (
	"net/http"
	"strconv"
)

// ProtocolError is a violation of RFC 6455 or RFC 7692 by the peer. Code is
// the close code the connection layer sends before it drops the connection
// (1002 protocol error, 1007 invalid payload data, 1009 message too big) and
// Reason a short text for the close frame (at most 123 bytes).
//
// Every parser in this package reports peer misbehaviour as a *ProtocolError;
// use errors.As to get at the code.
type ProtocolError struct {
	Code   int
	Reason string
}

// Error returns the reason with the close code.
func (e *ProtocolError) Error() string {
	return "websocket: " + e.Reason + " (close " + strconv.Itoa(e.Code) + ")"
}

// Protocol errors the parsers return. They are values so that the steady
// state path never allocates, and so that tests can compare them with
// errors.Is.
var (
	errReservedBits      = &ProtocolError{CloseProtocolError, "reserved bits set"}
	errRSV1              = &ProtocolError{CloseProtocolError, "compressed bit set without permessage-deflate, on a continuation or on a control frame"}
	errBadOpcode         = &ProtocolError{CloseProtocolError, "unknown opcode"}
	errControlFragmented = &ProtocolError{CloseProtocolError, "fragmented control frame"}
	errControlTooLong    = &ProtocolError{CloseProtocolError, "control frame payload over 125 bytes"}
	errUnexpectedCont    = &ProtocolError{CloseProtocolError, "continuation frame without a message to continue"}
	errExpectedCont      = &ProtocolError{CloseProtocolError, "new data frame inside a fragmented message"}
	errUnmasked          = &ProtocolError{CloseProtocolError, "unmasked frame from client"}
	errMasked            = &ProtocolError{CloseProtocolError, "masked frame from server"}
	errLength64          = &ProtocolError{CloseProtocolError, "64-bit payload length with the most significant bit set"}
	errFrameTooBig       = &ProtocolError{CloseMessageTooBig, "frame too big"}
	errMessageTooBig     = &ProtocolError{CloseMessageTooBig, "message too big"}
	errInvalidUTF8       = &ProtocolError{CloseInvalidFramePayloadData, "invalid UTF-8 in text message"}
	errCloseLen1         = &ProtocolError{CloseProtocolError, "close frame payload of 1 byte"}
	errCloseCode         = &ProtocolError{CloseProtocolError, "invalid close code"}
	errCloseReason       = &ProtocolError{CloseInvalidFramePayloadData, "invalid UTF-8 in close reason"}
	errBadDeflate        = &ProtocolError{CloseInvalidFramePayloadData, "invalid compressed data"}
	errDecompressTooBig  = &ProtocolError{CloseMessageTooBig, "decompressed message too big"}
)

// HandshakeError is a failed opening handshake (RFC 6455 §4). On the server
// side Status is the HTTP status to answer with (400, 405, 426); on the
// client side it is the status the server answered with (0 when the response
// could not be judged by its status).
type HandshakeError struct {
	Status  int
	Message string
	// Version asks Respond to add Sec-WebSocket-Version: 13 (an RFC 8441
	// CONNECT with another version gets 400 with it, not 426).
	Version bool
}

// Error returns the message.
func (e *HandshakeError) Error() string { return "websocket: handshake: " + e.Message }

// Respond writes the error as a plain-text HTTP response to w, adding the
// headers RFC 6455 and RFC 9110 ask for: Sec-WebSocket-Version: 13 with 426
// and Allow: GET with 405.
func (e *HandshakeError) Respond(w http.ResponseWriter) {
	switch e.Status {
	case http.StatusUpgradeRequired:
		w.Header().Set("Sec-WebSocket-Version", "13")
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodGet)
	}
	if e.Version {
		w.Header().Set("Sec-WebSocket-Version", "13")
	}
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	http.Error(w, e.Message, status)
}
