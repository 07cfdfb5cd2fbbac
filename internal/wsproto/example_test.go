package wsproto_test

import (
	"errors"
	"fmt"

	"github.com/netkit-go/netkit/internal/wsproto"
)

// A server-side read loop: bytes arrive in arbitrary pieces (here, a
// fragmented text message with a ping in the middle, then a close frame,
// cut into 5-byte reads) and come out as messages.
func ExampleMessageReader() {
	key := [4]byte{1, 2, 3, 4}
	var stream []byte
	stream = wsproto.AppendFrame(stream, wsproto.Header{Opcode: wsproto.OpText, Masked: true, Key: key}, []byte("Hello, "))
	stream = wsproto.AppendFrame(stream, wsproto.Header{Fin: true, Opcode: wsproto.OpPing, Masked: true, Key: key}, []byte("are you there?"))
	stream = wsproto.AppendFrame(stream, wsproto.Header{Fin: true, Opcode: wsproto.OpContinuation, Masked: true, Key: key}, []byte("wörld"))
	stream = wsproto.AppendFrame(stream, wsproto.Header{Fin: true, Opcode: wsproto.OpClose, Masked: true, Key: key},
		wsproto.AppendClosePayload(nil, wsproto.CloseNormalClosure, "bye"))

	var mr wsproto.MessageReader
	mr.Init(wsproto.ReaderConfig{Role: wsproto.RoleServer, MaxMessageSize: 1 << 20}, nil)
	for len(stream) > 0 {
		read := stream[:min(5, len(stream))] // what one socket read returned
		stream = stream[len(read):]
		for len(read) > 0 {
			n, m, err := mr.Parse(read)
			if err != nil {
				var pe *wsproto.ProtocolError
				errors.As(err, &pe)
				fmt.Println("close with", pe.Code)
				return
			}
			read = read[n:]
			switch m.Op {
			case wsproto.OpText:
				fmt.Printf("text %q\n", m.Data)
			case wsproto.OpPing:
				fmt.Printf("ping %q: answer with a pong\n", m.Data)
			case wsproto.OpClose:
				fmt.Printf("close %d %q\n", m.CloseCode, m.Data[2:])
			}
			mr.Release()
		}
	}
	// Output:
	// ping "are you there?": answer with a pong
	// text "Hello, wörld"
	// close 1000 "bye"
}

// Invalid input is a *ProtocolError carrying the close code to send.
func ExampleFrameReader_error() {
	var fr wsproto.FrameReader
	fr.Init(wsproto.ReaderConfig{Role: wsproto.RoleServer, MaxFrameSize: 1024})
	header := wsproto.AppendHeader(nil, wsproto.Header{Fin: true, Opcode: wsproto.OpBinary, Masked: true, Length: 1 << 20})
	_, _, err := fr.Parse(header) // only the header has arrived
	var pe *wsproto.ProtocolError
	if errors.As(err, &pe) {
		fmt.Println(pe.Code, pe.Reason)
	}
	// Output:
	// 1009 frame too big
}

func ExampleAcceptKey() {
	fmt.Println(wsproto.AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="))
	// Output:
	// s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
}
