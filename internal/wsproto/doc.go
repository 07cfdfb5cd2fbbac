// Package wsproto is netkit's WebSocket protocol core: RFC 6455 framing,
// masking, UTF-8 validation, close codes and the opening handshake, and RFC
// 7692 permessage-deflate. It does no I/O. The websocket package (server
// and clients) drives it with bytes it read from sockets into pooled
// buffers, and writes what it encodes.
//
// # Reading
//
// The parsers are push-style: they are fed whatever bytes arrived, split
// anywhere, and never read from an io.Reader, so a goroutine-per-connection
// loop and an event loop can both drive them.
//
//   - [FrameReader] turns bytes into events: a data frame header, a payload
//     chunk (unmasked in place, aliasing the input: zero copy), or a whole
//     control frame (at most 125 bytes, also between fragments). It
//     enforces RFC 6455 §5 and the size limits, from the header, before any
//     payload arrives or anything is allocated.
//   - [MessageReader] builds on it: it reassembles fragments, inflates
//     compressed messages with a [Decompressor], checks text incrementally
//     with a [UTF8Validator] (invalid text fails on the fragment that breaks
//     it) and checks close payloads. A message that arrives whole in one
//     read is returned as a slice of the input, without a copy.
//
// Every protocol violation is a [*ProtocolError] carrying the close code to
// send: 1002 for framing errors, 1007 for invalid UTF-8 or bad compressed
// data, 1009 for size limits. After an error the readers stay failed.
//
// A connection layer's read loop, in outline:
//
//	var mr wsproto.MessageReader
//	mr.Init(wsproto.ReaderConfig{Role: wsproto.RoleServer, MaxMessageSize: limit}, dec) // dec nil without compression
//	for {
//		p := readIntoPooledBuffer()
//		for len(p) > 0 {
//			n, m, err := mr.Parse(p)
//			if err != nil {
//				var pe *wsproto.ProtocolError
//				errors.As(err, &pe)
//				sendClose(pe.Code, pe.Reason) // then drop the connection
//				return
//			}
//			p = p[n:]
//			switch m.Op {
//			case wsproto.OpText, wsproto.OpBinary:
//				deliver(m.Op, m.Data) // borrowed until the next Parse
//			case wsproto.OpPing:
//				sendPong(m.Data)
//			case wsproto.OpClose:
//				echoClose(m.CloseCode, m.Data) // m.Data[2:] is the reason
//			}
//			mr.Release() // no buffer held between messages
//		}
//		recyclePooledBuffer()
//	}
//
// # Writing
//
// [AppendHeader] / [PutHeader] encode a frame header (at most
// [MaxHeaderSize] bytes) so that header and payload go out in one write;
// [AppendFrame] appends a whole frame, masking a copy of the payload for
// clients (keys from [NewMaskKey]). [Mask] masks eight bytes at a time and
// continues across chunks. [AppendClosePayload] builds close payloads,
// cutting the reason to 123 bytes on a UTF-8 boundary. A [Compressor]
// compresses a message for permessage-deflate, or declines when it is under
// the threshold; the first frame of a compressed message carries Rsv1.
//
// # Handshake
//
// [CheckRequest] validates a client's upgrade request and returns a
// [*HandshakeError] with the HTTP status to answer (400, 405, 426);
// [AcceptKey] computes Sec-WebSocket-Accept and [AppendResponse] the 101
// response for a hijacked connection. [SelectSubprotocol] picks a
// subprotocol; [ParseExtensions] and [NegotiateServer] negotiate
// permessage-deflate. On the client side, [ClientHandshake] sets the
// request headers and [CheckResponse] validates the answer.
//
// [RequestParser] is the handshake fast path (the websocket Listener reads
// every ws:// upgrade request with it, on both engine backends): pushed the
// bytes of a plain HTTP/1.1 GET upgrade request, it builds the
// *http.Request net/http would have built, or answers NotFastPath for
// anything unusual (and hands back what it buffered), so that net/http
// serves it. Its head is bounded by MaxHeaderBytes (default
// DefaultFastMaxHeaderBytes, 8 KiB; the Listener sets its MaxHeaderSize)
// and DefaultFastMaxFields (64) fields; beyond them it declines.
//
// # Compression
//
// Compression (RFC 7692): a server accepts permessage-deflate when it is
// offered and enabled, answers server_no_context_takeover unless
// configured for context takeover, honours client_no_context_takeover, and
// answers a client's server_max_window_bits below 15 by compressing with
// flate.HuffmanOnly, which needs no window. Without context takeover,
// flate writers and readers are pooled and held only while one message is
// processed. compress/flate pulls its input, so a fragmented compressed
// message is collected (compressed, and within the size limit) and inflated
// when its last fragment arrives; the output is capped at MaxMessageSize.
//
// # Allocation
//
// In steady state, parsing and unmasking frames, reassembling fragments into
// pooled buffers, validating UTF-8, encoding headers and masking allocate
// nothing; the AllocsPerRun tests hold this. Messages over bufpool.MaxSize
// (256 KiB) that need assembling use ordinary allocations.
package wsproto
