package wsproto

import (
	"encoding/binary"
	"strconv"
)

// Opcode is the 4-bit frame type of RFC 6455 §5.2.
type Opcode uint8

// Opcodes defined by RFC 6455 §11.8. 0x3-0x7 and 0xB-0xF are reserved.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether o is a control opcode (close, ping, pong or a
// reserved 0xB-0xF).
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// IsData reports whether o starts or continues a data message (continuation,
// text, binary, or a reserved 0x3-0x7).
func (o Opcode) IsData() bool { return o&0x8 == 0 }

// Known reports whether o is one of the six opcodes RFC 6455 defines.
func (o Opcode) Known() bool {
	switch o {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return true
	}
	return false
}

// String returns the opcode's name, such as "text", or "opcode 0x3".
func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "opcode 0x" + strconv.FormatUint(uint64(o), 16)
}

// Frame layout limits.
const (
	// MaxHeaderSize is the longest frame header: 2 bytes, an 8-byte extended
	// length and a 4-byte masking key.
	MaxHeaderSize = 14
	// MaxControlPayload is the largest payload of a control frame.
	MaxControlPayload = 125
)

// First-byte and second-byte bits.
const (
	bitFin   = 0x80
	bitRsv1  = 0x40
	bitRsv2  = 0x20
	bitRsv3  = 0x10
	maskOp   = 0x0f
	bitMask  = 0x80
	maskLen7 = 0x7f
	len16    = 126
	len64    = 127
	maxLen7  = 125
	maxLen16 = 0xffff
)

// Header is a decoded frame header (RFC 6455 §5.2). Rsv1 is permessage-
// deflate's "compressed" bit (RFC 7692 §6). Key is meaningful only when
// Masked is set.
type Header struct {
	Fin    bool
	Rsv1   bool
	Rsv2   bool
	Rsv3   bool
	Opcode Opcode
	Masked bool
	Key    [4]byte
	Length int64
}

// HeaderSize returns the encoded size of a header for a payload of length
// bytes, with or without a masking key.
func HeaderSize(length int64, masked bool) int {
	n := 2
	switch {
	case length > maxLen16:
		n += 8
	case length > maxLen7:
		n += 2
	}
	if masked {
		n += 4
	}
	return n
}

// PutHeader encodes h into the front of b, which must have room for
// HeaderSize(h.Length, h.Masked) bytes (MaxHeaderSize always suffices), and
// returns the number of bytes written. The length is encoded in the minimal
// form RFC 6455 §5.2 requires. PutHeader panics if h.Length is negative.
func PutHeader(b []byte, h Header) int {
	if h.Length < 0 {
		panic("wsproto: negative frame length")
	}
	b0 := byte(h.Opcode) & maskOp
	if h.Fin {
		b0 |= bitFin
	}
	if h.Rsv1 {
		b0 |= bitRsv1
	}
	if h.Rsv2 {
		b0 |= bitRsv2
	}
	if h.Rsv3 {
		b0 |= bitRsv3
	}
	var b1 byte
	if h.Masked {
		b1 = bitMask
	}
	var n int
	switch {
	case h.Length <= maxLen7:
		_ = b[1]
		b[0], b[1] = b0, b1|byte(h.Length)
		n = 2
	case h.Length <= maxLen16:
		_ = b[3]
		b[0], b[1] = b0, b1|len16
		binary.BigEndian.PutUint16(b[2:], uint16(h.Length))
		n = 4
	default:
		_ = b[9]
		b[0], b[1] = b0, b1|len64
		binary.BigEndian.PutUint64(b[2:], uint64(h.Length))
		n = 10
	}
	if h.Masked {
		copy(b[n:n+4], h.Key[:])
		n += 4
	}
	return n
}

// AppendHeader appends the encoding of h to dst.
func AppendHeader(dst []byte, h Header) []byte {
	var b [MaxHeaderSize]byte
	n := PutHeader(b[:], h)
	return append(dst, b[:n]...)
}

// AppendFrame appends a whole frame to dst: the header h with its Length set
// to len(payload), then payload, masked with h.Key when h.Masked is set.
// payload itself is not modified.
func AppendFrame(dst []byte, h Header, payload []byte) []byte {
	h.Length = int64(len(payload))
	dst = AppendHeader(dst, h)
	start := len(dst)
	dst = append(dst, payload...)
	if h.Masked {
		Mask(h.Key, 0, dst[start:])
	}
	return dst
}
