package wsproto

import (
	"encoding/binary"
	"math"
)

// DefaultMaxMessageSize is the default limit on a reassembled (and
// decompressed) message, 16 MiB: the websocket package's MaxMessageSize default.
const DefaultMaxMessageSize = 16 << 20

// Role is the side of the connection a parser runs on; it decides which way
// masking must go (RFC 6455 §5.1).
type Role uint8

const (
	// RoleServer expects every frame from the peer (a client) to be masked.
	RoleServer Role = iota
	// RoleClient expects no frame from the peer (a server) to be masked.
	RoleClient
)

// String returns "server" or "client".
func (r Role) String() string {
	if r == RoleClient {
		return "client"
	}
	return "server"
}

// ReaderConfig configures a FrameReader or MessageReader. The zero value is a
// server-side reader with the default limits and no extension.
type ReaderConfig struct {
	// Role is the side the reader runs on. Default RoleServer: frames must
	// be masked. RoleClient: frames must not be masked.
	Role Role
	// MaxFrameSize bounds the payload of one data frame, checked from its
	// header before any payload is read. Default (0): MaxMessageSize
	// (with its allowance for compressed messages). Negative: no limit.
	// Over the limit: *ProtocolError 1009.
	MaxFrameSize int64
	// MaxMessageSize bounds a message: the sum of its frames' payloads,
	// checked from each frame header before reading the payload, and, for
	// a compressed message, its decompressed size (checked by the
	// Decompressor as it inflates). For compressed messages the payload sum
	// may exceed it by deflate's worst-case overhead for incompressible
	// data (MaxMessageSize/4096 + 1 KiB). Default (0):
	// DefaultMaxMessageSize (16 MiB). Negative: no limit. Over the limit:
	// *ProtocolError 1009.
	MaxMessageSize int64
	// Compression reports that permessage-deflate (RFC 7692) was negotiated,
	// so the first frame of a data message may carry RSV1 ("compressed").
	// Default false: RSV1 is a protocol error like RSV2 and RSV3.
	Compression bool
}

func (c ReaderConfig) limits() (frame, msg, msgZ int64) {
	msg = c.MaxMessageSize
	switch {
	case msg == 0:
		msg = DefaultMaxMessageSize
	case msg < 0:
		msg = math.MaxInt64
	}
	frame = c.MaxFrameSize
	switch {
	case frame == 0:
		frame = msg
	case frame < 0:
		frame = math.MaxInt64
	}
	msgZ = msg
	if msg < math.MaxInt64/2 {
		msgZ = msg + msg/4096 + 1024
	}
	return frame, msg, msgZ
}

// EventKind says what a FrameReader.Parse call produced.
type EventKind uint8

const (
	// EventNone: nothing complete yet; all the input was consumed (kept
	// inside the reader when it was part of a header or control frame).
	EventNone EventKind = iota
	// EventHeader: the header of a data frame (text, binary or
	// continuation), available from FrameReader.Header. Event.End is set
	// when its payload is empty.
	EventHeader
	// EventPayload: a chunk of a data frame's payload, already unmasked in
	// place; Event.Payload aliases the input. Event.End is set on the last
	// chunk of the frame.
	EventPayload
	// EventControl: a whole control frame (close, ping or pong), payload
	// unmasked, at most 125 bytes. Event.Payload aliases the input or, when
	// the frame arrived in pieces, the reader's own buffer; it is valid
	// until the next call to Parse.
	EventControl
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventHeader:
		return "header"
	case EventPayload:
		return "payload"
	case EventControl:
		return "control"
	}
	return "none"
}

// Event is what one FrameReader.Parse call produced. The header of the
// frame it belongs to is FrameReader.Header. (Event is kept small enough to
// be returned in registers: the header would double the cost of parsing a
// small frame.)
type Event struct {
	Kind EventKind
	// End is set when the frame is complete after this event: on the last
	// payload chunk, on the header of a data frame with an empty payload,
	// and always on EventControl.
	End bool
	// Payload is the payload chunk (EventPayload) or the whole control
	// payload (EventControl). It is already unmasked.
	Payload []byte
}

const (
	stHeader uint8 = iota
	stPayload
	stControl
)

// FrameReader is an incremental, push-style frame parser (RFC 6455 §5). The
// connection layer feeds it whatever bytes it has read, split anywhere, and
// gets back one event per call; it never reads from an io.Reader and never
// copies payload: data payload is unmasked in place and returned as a slice
// of the input. Only header bytes split across calls (at most 14) and control
// frames split across calls (at most 125 bytes) are copied into the reader
// itself, so a FrameReader allocates nothing.
//
// It enforces framing rules: reserved bits without a negotiated extension,
// unknown opcodes, fragmented or oversized control frames, continuation
// without a message, a new message inside a fragmented one, masking in the
// wrong direction and 64-bit lengths with the top bit set are protocol errors
// (1002); a frame over MaxFrameSize or a message over MaxMessageSize is 1009,
// detected from the header before its payload arrives. Control frames
// between the fragments of a message are reported as they come. Text
// payload is not checked here (see MessageReader and UTF8Validator).
//
// The zero value is a server-side reader with default limits; Init sets
// another configuration. A FrameReader is not safe for concurrent use.
type FrameReader struct {
	cfg                    ReaderConfig
	ready                  bool
	state                  uint8
	hn                     uint8 // header bytes buffered in hdr
	keyPos                 uint8
	cn                     uint8 // control payload bytes buffered in ctl
	inMessage              bool  // a fragmented data message is in progress
	compressed             bool  // ... and its first frame had RSV1
	maxFrame, maxMsg, msgZ int64
	msgLen                 int64 // payload bytes of the current message so far
	remaining              int64 // payload bytes of the current frame still to come
	h                      Header
	err                    error
	hdr                    [MaxHeaderSize]byte
	ctl                    [MaxControlPayload]byte
}

// Init resets r and sets its configuration.
func (r *FrameReader) Init(cfg ReaderConfig) {
	*r = FrameReader{cfg: cfg}
	r.init()
}

func (r *FrameReader) init() {
	r.maxFrame, r.maxMsg, r.msgZ = r.cfg.limits()
	r.ready = true
}

// Header returns the header of the frame the last event belonged to (for
// EventHeader, EventPayload and EventControl). Control frames arrive only
// between frames, so during a data frame's payload it is that frame's
// header.
func (r *FrameReader) Header() Header { return r.h }

// Config returns the reader's configuration.
func (r *FrameReader) Config() ReaderConfig { return r.cfg }

// Reset makes r ready for a new stream with the same configuration.
func (r *FrameReader) Reset() { r.Init(r.cfg) }

// Err returns the error that stopped the reader, or nil.
func (r *FrameReader) Err() error { return r.err }

// InMessage reports whether a fragmented data message has started and its
// final frame has not yet arrived.
func (r *FrameReader) InMessage() bool { return r.inMessage }

// AtFrameBoundary reports whether r holds no partial frame: the last byte
// consumed ended a frame (or nothing was consumed yet).
func (r *FrameReader) AtFrameBoundary() bool { return r.state == stHeader && r.hn == 0 }

// Parse consumes a prefix of p and returns how many bytes it used and the
// event that produced. When len(p) > 0 and err == nil it always consumes at
// least one byte, so a caller loops until p is used up:
//
//	for len(p) > 0 {
//		n, ev, err := r.Parse(p)
//		if err != nil { ... close with err's code ... }
//		p = p[n:]
//		... handle ev ...
//	}
//
// Parse unmasks payload in place, so it writes to p. After an error (always a
// *ProtocolError) the reader is stuck and returns the same error until Reset.
func (r *FrameReader) Parse(p []byte) (n int, ev Event, err error) {
	if r.err != nil {
		return 0, Event{}, r.err
	}
	if len(p) == 0 {
		return 0, Event{}, nil
	}
	if !r.ready {
		r.init()
	}
	switch r.state {
	case stPayload:
		chunk := p
		if int64(len(chunk)) > r.remaining {
			chunk = chunk[:r.remaining]
		}
		if r.h.Masked {
			r.keyPos = uint8(Mask(r.h.Key, int(r.keyPos), chunk))
		}
		r.remaining -= int64(len(chunk))
		end := r.remaining == 0
		if end {
			r.state = stHeader
		}
		return len(chunk), Event{Kind: EventPayload, End: end, Payload: chunk}, nil
	case stControl:
		k := copy(r.ctl[r.cn:r.h.Length], p)
		if r.h.Masked {
			r.keyPos = uint8(Mask(r.h.Key, int(r.keyPos), r.ctl[r.cn:int(r.cn)+k]))
		}
		r.cn += uint8(k)
		if int64(r.cn) < r.h.Length {
			return k, Event{}, nil
		}
		r.state = stHeader
		return k, Event{Kind: EventControl, End: true, Payload: r.ctl[:r.cn]}, nil
	}
	return r.parseHeader(p)
}

func (r *FrameReader) fail(err error) (int, Event, error) {
	r.err = err
	return 0, Event{}, err
}

// headerSize returns the header length implied by the second header byte.
func headerSize(b1 byte) int {
	n := 2
	switch b1 & maskLen7 {
	case len16:
		n += 2
	case len64:
		n += 8
	}
	if b1&bitMask != 0 {
		n += 4
	}
	return n
}

// check validates what the first two header bytes alone can tell, so that a
// bad frame fails as soon as they arrive.
func (r *FrameReader) check(b0, b1 byte) error {
	if b0&(bitRsv2|bitRsv3) != 0 {
		return errReservedBits
	}
	op := Opcode(b0 & maskOp)
	if !op.Known() {
		return errBadOpcode
	}
	if b0&bitRsv1 != 0 {
		if !r.cfg.Compression {
			return errReservedBits
		}
		if op != OpText && op != OpBinary {
			return errRSV1
		}
	}
	if op.IsControl() {
		if b0&bitFin == 0 {
			return errControlFragmented
		}
		if b1&maskLen7 > MaxControlPayload {
			return errControlTooLong
		}
	} else if op == OpContinuation {
		if !r.inMessage {
			return errUnexpectedCont
		}
	} else if r.inMessage {
		return errExpectedCont
	}
	masked := b1&bitMask != 0
	if r.cfg.Role == RoleServer && !masked {
		return errUnmasked
	}
	if r.cfg.Role == RoleClient && masked {
		return errMasked
	}
	return nil
}

func (r *FrameReader) parseHeader(p []byte) (int, Event, error) {
	var b []byte
	n := 0
	if r.hn == 0 && len(p) >= 2 {
		// Fast path: the whole header is in p.
		if err := r.check(p[0], p[1]); err != nil {
			return r.fail(err)
		}
		if size := headerSize(p[1]); len(p) >= size {
			b, n = p[:size], size
		}
	}
	if b == nil {
		for r.hn < 2 && n < len(p) {
			r.hdr[r.hn] = p[n]
			r.hn++
			n++
			if r.hn == 2 {
				if err := r.check(r.hdr[0], r.hdr[1]); err != nil {
					return r.fail(err)
				}
			}
		}
		if r.hn < 2 {
			return n, Event{}, nil
		}
		size := headerSize(r.hdr[1])
		k := copy(r.hdr[r.hn:size], p[n:])
		r.hn += uint8(k)
		n += k
		if int(r.hn) < size {
			return n, Event{}, nil
		}
		b = r.hdr[:size]
		r.hn = 0
	}

	b0, b1 := b[0], b[1]
	h := Header{
		Fin:    b0&bitFin != 0,
		Rsv1:   b0&bitRsv1 != 0,
		Rsv2:   b0&bitRsv2 != 0,
		Rsv3:   b0&bitRsv3 != 0,
		Opcode: Opcode(b0 & maskOp),
		Masked: b1&bitMask != 0,
	}
	i := 2
	switch l := b1 & maskLen7; l {
	case len16:
		h.Length = int64(binary.BigEndian.Uint16(b[2:]))
		i = 4
	case len64:
		u := binary.BigEndian.Uint64(b[2:])
		if u>>63 != 0 {
			return r.fail(errLength64)
		}
		h.Length = int64(u)
		i = 10
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		copy(h.Key[:], b[i:i+4])
	}
	r.h = h
	r.keyPos = 0

	if h.Opcode.IsControl() {
		if rest := p[n:]; int64(len(rest)) >= h.Length {
			// The whole control frame is here: no copy.
			payload := rest[:h.Length]
			if h.Masked {
				Mask(h.Key, 0, payload)
			}
			return n + len(payload), Event{Kind: EventControl, End: true, Payload: payload}, nil
		}
		// Keep the part that is here; Parse collects the rest.
		k := copy(r.ctl[:], p[n:])
		if h.Masked {
			r.keyPos = uint8(Mask(h.Key, 0, r.ctl[:k]))
		}
		r.cn = uint8(k)
		r.state = stControl
		return n + k, Event{}, nil
	}

	// Data frame: limits, then message state.
	zipped := h.Rsv1 || (h.Opcode == OpContinuation && r.compressed)
	maxFrame := r.maxFrame
	if zipped && r.cfg.MaxFrameSize == 0 {
		maxFrame = r.msgZ // the default follows the message limit
	}
	if h.Length > maxFrame {
		return r.fail(errFrameTooBig)
	}
	limit := r.maxMsg
	if zipped {
		limit = r.msgZ
	}
	if h.Opcode == OpContinuation {
		if h.Length > limit-r.msgLen {
			return r.fail(errMessageTooBig)
		}
		r.msgLen += h.Length
	} else {
		if h.Length > limit {
			return r.fail(errMessageTooBig)
		}
		r.msgLen = h.Length
		r.compressed = h.Rsv1
	}
	r.inMessage = !h.Fin
	r.remaining = h.Length
	if h.Length > 0 {
		r.state = stPayload
	}
	return n, Event{Kind: EventHeader, End: h.Length == 0}, nil
}
