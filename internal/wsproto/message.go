package wsproto

import "github.com/netkit-go/netkit/internal/bufpool"

// Message is a complete message or control frame from MessageReader.Parse.
type Message struct {
	// Op is OpText, OpBinary, OpClose, OpPing or OpPong, or
	// OpContinuation (0) when Parse completed nothing.
	Op Opcode
	// Data is the message payload (unmasked, decompressed, and for text
	// valid UTF-8) or the control frame's payload. It is borrowed: it
	// aliases the input of Parse or the reader's buffer, and is valid until
	// the next call to Parse, Release or Reset. It may be nil when empty.
	Data []byte
	// CloseCode is the close frame's code for OpClose (1005 when its
	// payload is empty); the reason is Data[2:].
	CloseCode int
	// Compressed reports that the message arrived compressed.
	Compressed bool
}

// MessageReader reassembles messages on top of a FrameReader: it joins
// fragments, inflates compressed messages, checks that text is UTF-8 (as
// fragments arrive, so invalid text fails before the message ends) and
// checks close payloads. Control frames are returned as soon as they are
// complete, also between the fragments of a message.
//
// Zero copy: a message that arrives as one uncompressed frame wholly inside
// the input of one Parse call is returned as a slice of that input. Other
// messages are assembled in a buffer borrowed from internal/bufpool (a
// bufpool.Large beyond its largest class, 256 KiB; from 64 KiB up outside
// the Go heap on Linux, with room for a whole frame reserved when its
// header arrives); Release hands it back, so a connection layer that calls
// Release after each message holds no buffer while idle, and the memory of
// a large message returns without waiting for a garbage collection. A fragmented compressed message is collected compressed (in
// the Decompressor) and inflated when its final frame arrives.
//
// The zero value is a server-side reader with default limits and no
// compression. A MessageReader is not safe for concurrent use.
type MessageReader struct {
	fr         FrameReader
	dec        *Decompressor
	buf        buffer
	op         Opcode // message in progress, or 0
	compressed bool
	fin        bool  // the current data frame is final
	frameLen   int64 // its payload length
	assembled  bool  // part of the message is in buf (or dec)
	reserve    bool  // the current frame's room in buf is not reserved yet
	utf8       UTF8Validator
	err        error
}

// Init resets r and sets its configuration. dec, when not nil, inflates
// compressed messages and enables RSV1 (cfg.Compression is set from it); it
// is Reset for the new stream.
func (r *MessageReader) Init(cfg ReaderConfig, dec *Decompressor) {
	r.op = 0
	r.Release()
	if r.dec != nil {
		r.dec.in.release()
	}
	if dec != nil {
		dec.Reset()
	}
	cfg.Compression = dec != nil
	*r = MessageReader{dec: dec}
	r.fr.Init(cfg)
}

// Reset makes r ready for a new stream with the same configuration and
// releases its buffers (and the Decompressor's context-takeover window).
func (r *MessageReader) Reset() { r.Init(r.fr.cfg, r.dec) }

// Frames returns the underlying FrameReader, for its state queries.
func (r *MessageReader) Frames() *FrameReader { return &r.fr }

// Idle reports whether r holds no partial frame and no partial message.
func (r *MessageReader) Idle() bool { return r.op == 0 && r.fr.AtFrameBoundary() }

// Release gives the assembly buffer back to the pool unless a message is in
// progress. Call it once the data of a returned message is no longer used;
// Message.Data must not be used afterwards.
func (r *MessageReader) Release() {
	if r.op == 0 {
		r.buf.release()
	}
}

// Parse consumes a prefix of p and returns how many bytes it used and, when
// it completed one, a message or control frame (m.Op != 0). It returns as
// soon as something is complete, so the caller loops:
//
//	for len(p) > 0 {
//		n, m, err := r.Parse(p)
//		if err != nil { ... close with err's code ... }
//		p = p[n:]
//		if m.Op != 0 { ... dispatch m ... }
//	}
//
// Parse unmasks in place, so it writes to p. Errors are *ProtocolError
// values with the close code to send (1002, 1007, 1009); after one, r is
// stuck and returns it again until Reset.
func (r *MessageReader) Parse(p []byte) (n int, m Message, err error) {
	if r.err != nil {
		return 0, Message{}, r.err
	}
	if r.op == 0 && len(r.buf.b) > 0 {
		r.buf.b = r.buf.b[:0] // the previous message is done with
	}
	for n < len(p) {
		k, ev, err := r.fr.Parse(p[n:])
		n += k
		if err != nil {
			return n, Message{}, r.fail(err)
		}
		switch ev.Kind {
		case EventControl:
			m = Message{Op: r.fr.h.Opcode, Data: ev.Payload}
			if m.Op == OpClose {
				if m.CloseCode, err = CheckClosePayload(ev.Payload); err != nil {
					return n, Message{}, r.fail(err)
				}
			}
			return n, m, nil
		case EventHeader:
			h := &r.fr.h
			if h.Opcode != OpContinuation {
				r.op, r.compressed, r.assembled = h.Opcode, h.Rsv1, false
				r.utf8.Reset()
			}
			r.fin, r.frameLen, r.reserve = h.Fin, h.Length, true
			if ev.End && r.fin {
				m, err = r.finish(nil)
				return n, m, err
			}
		case EventPayload:
			chunk := ev.Payload
			if ev.End && r.fin && !r.assembled && int64(len(chunk)) == r.frameLen {
				// The whole message in one piece: no copy.
				m, err = r.finish(chunk)
				return n, m, err
			}
			r.assembled = true
			if r.reserve && !r.compressed && bufpool.MappedPages {
				// Room for the whole frame at once (its length is within
				// the message limit, checked with the header): no growth
				// copies. Mapped pages cost nothing until written, so a
				// peer announcing a large frame gains nothing by it.
				r.buf.reserve(int(r.frameLen))
			}
			r.reserve = false
			if r.compressed {
				r.dec.Write(chunk)
			} else {
				r.buf.append(chunk)
				if r.op == OpText && !r.utf8.Write(chunk) {
					return n, Message{}, r.fail(errInvalidUTF8)
				}
			}
			if ev.End && r.fin {
				m, err = r.finish(nil)
				return n, m, err
			}
		}
	}
	return n, Message{}, nil
}

// finish completes the current message; whole, when not nil, is its entire
// payload in one piece.
func (r *MessageReader) finish(whole []byte) (m Message, err error) {
	m = Message{Op: r.op, Compressed: r.compressed}
	r.op = 0
	switch {
	case r.compressed:
		if whole != nil || !r.assembled {
			err = r.dec.decompress(&r.buf, whole, r.fr.maxMsg, true)
		} else {
			err = r.dec.decompress(&r.buf, r.dec.in.b, r.fr.maxMsg, true)
			r.dec.in.release()
		}
		if err != nil {
			return Message{}, r.fail(err)
		}
		m.Data = r.buf.b
		if m.Op == OpText && !ValidUTF8(m.Data) {
			return Message{}, r.fail(errInvalidUTF8)
		}
	case whole != nil || !r.assembled:
		m.Data = whole
		if m.Op == OpText && !ValidUTF8(whole) {
			return Message{}, r.fail(errInvalidUTF8)
		}
	default:
		m.Data = r.buf.b
		if m.Op == OpText && !r.utf8.Done() {
			return Message{}, r.fail(errInvalidUTF8)
		}
	}
	return m, nil
}

func (r *MessageReader) fail(err error) error {
	r.err = err
	r.op = 0
	if r.dec != nil {
		r.dec.in.release()
	}
	return err
}
