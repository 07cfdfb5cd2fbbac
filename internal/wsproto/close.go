package wsproto

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// Close codes of RFC 6455 §7.4.1 and the IANA "WebSocket Close Code Number"
// registry.
const (
	CloseNormalClosure           = 1000
	CloseGoingAway               = 1001
	CloseProtocolError           = 1002
	CloseUnsupportedData         = 1003
	CloseReserved                = 1004 // reserved, never on the wire
	CloseNoStatusReceived        = 1005 // an empty close frame; never on the wire
	CloseAbnormalClosure         = 1006 // the TCP connection dropped; never on the wire
	CloseInvalidFramePayloadData = 1007
	ClosePolicyViolation         = 1008
	CloseMessageTooBig           = 1009
	CloseMandatoryExtension      = 1010
	CloseInternalServerError     = 1011
	CloseServiceRestart          = 1012 // IANA registry
	CloseTryAgainLater           = 1013 // IANA registry
	CloseBadGateway              = 1014 // IANA registry
	CloseTLSHandshake            = 1015 // the TLS handshake failed; never on the wire
)

// MaxCloseReason is the longest close reason that fits in a control frame:
// 125 bytes of payload minus the 2-byte code.
const MaxCloseReason = 123

// ValidCloseCode reports whether code may appear in a close frame on the
// wire: 1000-1003, 1007-1014 and 3000-4999. Codes below 1000, the reserved
// 1004, 1005 (no status), 1006 (abnormal closure), 1015 (TLS failure), the
// unassigned 1016-2999 and anything above 4999 are invalid; receiving one is
// a protocol error (1002).
//
// 1012-1014 (service restart, try again later, bad gateway) are registered
// with IANA after RFC 6455 and are accepted, as Node's ws, gorilla and coder
// do.
func ValidCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// CloseCodeText returns a short English name for a close code, such as
// "normal closure", "registered" for other codes in 3000-3999, "private" for
// 4000-4999 and "unknown" otherwise.
func CloseCodeText(code int) string {
	switch code {
	case CloseNormalClosure:
		return "normal closure"
	case CloseGoingAway:
		return "going away"
	case CloseProtocolError:
		return "protocol error"
	case CloseUnsupportedData:
		return "unsupported data"
	case CloseReserved:
		return "reserved"
	case CloseNoStatusReceived:
		return "no status received"
	case CloseAbnormalClosure:
		return "abnormal closure"
	case CloseInvalidFramePayloadData:
		return "invalid frame payload data"
	case ClosePolicyViolation:
		return "policy violation"
	case CloseMessageTooBig:
		return "message too big"
	case CloseMandatoryExtension:
		return "mandatory extension"
	case CloseInternalServerError:
		return "internal server error"
	case CloseServiceRestart:
		return "service restart"
	case CloseTryAgainLater:
		return "try again later"
	case CloseBadGateway:
		return "bad gateway"
	case CloseTLSHandshake:
		return "TLS handshake"
	}
	switch {
	case code >= 3000 && code <= 3999:
		return "registered"
	case code >= 4000 && code <= 4999:
		return "private"
	}
	return "unknown (" + strconv.Itoa(code) + ")"
}

// CheckClosePayload validates the payload of a received close frame without
// allocating and returns its code: 1005 (CloseNoStatusReceived) for an empty
// payload; otherwise the first two bytes, big-endian, with the reason in
// p[2:]. A 1-byte payload or a code for which ValidCloseCode is false is a
// *ProtocolError with code 1002, a reason that is not UTF-8 one with 1007.
func CheckClosePayload(p []byte) (code int, err error) {
	switch len(p) {
	case 0:
		return CloseNoStatusReceived, nil
	case 1:
		return 0, errCloseLen1
	}
	code = int(binary.BigEndian.Uint16(p))
	if !ValidCloseCode(code) {
		return 0, errCloseCode
	}
	if !ValidUTF8(p[2:]) {
		return 0, errCloseReason
	}
	return code, nil
}

// ParseClosePayload is CheckClosePayload that also returns the reason as a
// string.
func ParseClosePayload(p []byte) (code int, reason string, err error) {
	code, err = CheckClosePayload(p)
	if err != nil || len(p) < 2 {
		return code, "", err
	}
	return code, string(p[2:]), nil
}

// AppendClosePayload appends the payload of a close frame to dst: the code,
// big-endian, followed by reason cut to MaxCloseReason bytes at a UTF-8
// boundary. For code 1005 (CloseNoStatusReceived) or 0 it appends nothing (an
// empty close frame) and ignores the reason. The code itself is not checked;
// see ValidCloseCode.
func AppendClosePayload(dst []byte, code int, reason string) []byte {
	if code == 0 || code == CloseNoStatusReceived {
		return dst
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, TruncateReason(reason)...)
}

// TruncateReason returns the longest prefix of reason that is at most
// MaxCloseReason bytes and does not split a UTF-8 sequence.
func TruncateReason(reason string) string {
	if len(reason) <= MaxCloseReason {
		return reason
	}
	i := MaxCloseReason
	// Back up over continuation bytes to the start of the sequence that
	// straddles the limit, at most 3 bytes.
	for j := 0; j < utf8.UTFMax-1 && i > 0 && !utf8.RuneStart(reason[i]); j++ {
		i--
	}
	return reason[:i]
}
