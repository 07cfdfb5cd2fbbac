package websocket

import (
	"context"
	"errors"
	"sync"

	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/internal/wsproto"
)

// PreparedMessage is a message encoded once and sent to many connections
// (broadcast): the frame is built once, and its compressed form once for
// all connections that negotiated compression with the default settings.
// Connections that need their own encoding (context takeover, a
// FragmentSize, client masking) encode it themselves. Safe for concurrent
// use.
type PreparedMessage struct {
	op    wsproto.Opcode
	data  []byte
	frame []byte

	zOnce  sync.Once
	zframe []byte // nil when compression does not pay
}

// NewPreparedMessage encodes a message of type typ with payload data
// (copied).
func NewPreparedMessage(typ MessageType, data []byte) (*PreparedMessage, error) {
	var op wsproto.Opcode
	switch typ {
	case TextMessage:
		op = wsproto.OpText
		if !wsproto.ValidUTF8(data) {
			return nil, errInvalidUTF8Text
		}
	case BinaryMessage:
		op = wsproto.OpBinary
	default:
		return nil, errors.New("websocket: invalid message type " + typ.String())
	}
	pm := &PreparedMessage{op: op, data: append([]byte(nil), data...)}
	pm.frame = wsproto.AppendFrame(nil, wsproto.Header{Fin: true, Opcode: op, Length: int64(len(data))}, data)
	return pm, nil
}

func (pm *PreparedMessage) compressed() []byte {
	pm.zOnce.Do(func() {
		comp := wsproto.NewCompressorLevel(0, 0, false)
		if z, ok := comp.Compress(nil, pm.data); ok {
			pm.zframe = wsproto.AppendFrame(nil, wsproto.Header{Fin: true, Rsv1: true, Opcode: pm.op, Length: int64(len(z))}, z)
		}
	})
	return pm.zframe
}

// WritePreparedMessage sends pm like Write: it waits for the write lock
// (bounded by ctx, WriteTimeout and MaxPendingWrites).
func (c *Conn) WritePreparedMessage(ctx context.Context, pm *PreparedMessage) error {
	if c.sent.Load() {
		return c.sentErr(pm.op)
	}
	if err := c.ec.LockWrite(ctx); err != nil {
		return err
	}
	defer c.ec.UnlockWrite()
	return c.writePreparedHeld(ctx, pm)
}

// TrySend sends pm without waiting for other writers: if any write is in
// progress on the connection it returns ErrSendQueueFull at once, so a
// broadcaster is never held up by one slow peer. The write itself is
// bounded by ctx and WriteTimeout; give ctx a short deadline when
// broadcasting (the benchmark's broadcaster uses 100 ms: a subscriber whose
// socket cannot take a message within it is dropped, and the others wait
// at most that long for it, once). If the deadline passes before any byte left, the error
// matches os.ErrDeadlineExceeded and the connection is unaffected; after
// some bytes, the connection is closed (a slow consumer is dropped).
func (c *Conn) TrySend(ctx context.Context, pm *PreparedMessage) error {
	if c.sent.Load() {
		return c.sentErr(pm.op)
	}
	if !c.ec.TryLockWrite() {
		c.cfg.obs.Dropped(obs.DropQueueFull)
		return ErrSendQueueFull
	}
	defer c.ec.UnlockWrite()
	return c.writePreparedHeld(ctx, pm)
}

func (c *Conn) writePreparedHeld(ctx context.Context, pm *PreparedMessage) error {
	if c.sent.Load() {
		return c.sentErr(pm.op)
	}
	frame := pm.frame
	switch {
	case c.role != wsproto.RoleServer || (c.cfg.fragment > 0 && len(pm.data) > c.cfg.fragment):
		return c.writeMessageHeld(ctx, pm.op, pm.data)
	case c.comp != nil:
		if !c.compOK {
			return c.writeMessageHeld(ctx, pm.op, pm.data)
		}
		if len(pm.data) >= wsproto.DefaultCompressionThreshold {
			if z := pm.compressed(); z != nil {
				frame = z
				c.cfg.obs.Compressed(len(pm.frame), len(z))
			}
		}
	}
	_, err := c.ec.WriteHeld(ctx, frame)
	if c.cfg.idle > 0 {
		c.lastData.Store(mono())
	}
	if err == nil {
		c.cfg.obs.Sent(msgType(pm.op), len(pm.data))
	}
	return err
}
