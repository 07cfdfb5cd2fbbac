package websocket

import "os"

var osErrDeadlineExceeded = os.ErrDeadlineExceeded

// The predefined close frames of Ballerina's close_frame_return_types.bal,
// as *CloseError values. Returned from a Service callback, each starts the
// close handshake with its code and reason (any other &CloseError{Code,
// Reason} with a code in 1000-4999 is Ballerina's CustomCloseFrame).
// errors.Is(err, GoingAway) reports whether err is a close with code 1001,
// whatever its reason. Do not modify them.
var (
	NormalClosure       = &CloseError{Code: 1000}
	GoingAway           = &CloseError{Code: 1001}
	ProtocolError       = &CloseError{Code: 1002, Reason: "Connection closed due to protocol error"}
	UnsupportedData     = &CloseError{Code: 1003, Reason: "Endpoint received unsupported frame"}
	InvalidPayload      = &CloseError{Code: 1007, Reason: "Payload does not match the expected format or encoding"}
	PolicyViolation     = &CloseError{Code: 1008, Reason: "Received message violates its policy"}
	MessageTooBig       = &CloseError{Code: 1009, Reason: "The received message exceeds the allowed size limit"}
	InternalServerError = &CloseError{Code: 1011, Reason: "Internal server error occurred"}
)

// validLocalCloseCode reports whether a local Close may send code:
// Ballerina's valid set 1000-1003, 1007-1011 and 3000-4999.
func validLocalCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011, code >= 3000 && code <= 4999:
		return true
	}
	return false
}
