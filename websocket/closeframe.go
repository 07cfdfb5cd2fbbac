package websocket

import (
	"os"
	"strconv"
)

var osErrDeadlineExceeded = os.ErrDeadlineExceeded

// CloseFrame, returned from a Service callback (it implements error), starts
// the close handshake with Code and Reason and waits for the echo up to the
// ServiceConfig's ConnectionClosureTimeout. It is Ballerina's CloseFrame
// record: the predefined values below are its predefined close frames, any
// other code in 1000-4999 a CustomCloseFrame. An invalid code is logged and
// the TCP connection is closed.
type CloseFrame struct {
	Code   int
	Reason string
}

// Error describes the close frame.
func (f CloseFrame) Error() string {
	return "websocket: close frame " + strconv.Itoa(f.Code) + " " + f.Reason
}

// The predefined close frames of Ballerina's close_frame_return_types.bal.
var (
	NormalClosure       = CloseFrame{Code: 1000}
	GoingAway           = CloseFrame{Code: 1001}
	ProtocolError       = CloseFrame{Code: 1002, Reason: "Connection closed due to protocol error"}
	UnsupportedData     = CloseFrame{Code: 1003, Reason: "Endpoint received unsupported frame"}
	InvalidPayload      = CloseFrame{Code: 1007, Reason: "Payload does not match the expected format or encoding"}
	PolicyViolation     = CloseFrame{Code: 1008, Reason: "Received message violates its policy"}
	MessageTooBig       = CloseFrame{Code: 1009, Reason: "The received message exceeds the allowed size limit"}
	InternalServerError = CloseFrame{Code: 1011, Reason: "Internal server error occurred"}
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
