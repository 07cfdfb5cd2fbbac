package websocket

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"runtime/debug"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/wsproto"
)

// dispatchTyped dispatches a data message of a Service with typed
// callbacks, in Ballerina's order: for text, the custom method of its
// DispatcherKey value, then OnTextMessage, then OnMessage; for binary,
// OnBinaryMessage, then OnMessage; otherwise the message is dropped.
func (s *session) dispatchTyped(kind int, p []byte) error {
	th := s.h.typed
	if kind == kindText {
		if s.conn.cfg.dispatchKey != "" && len(th.custom) > 0 {
			if m := th.customFor(s.conn.cfg, p); m != nil {
				return s.callTyped(m, p)
			}
		}
		if s.h.text != nil {
			return s.result(s.invoke(kindText, p))
		}
		if th.text != nil {
			return s.callTyped(th.text, p)
		}
	} else {
		if s.h.binary != nil {
			return s.result(s.invoke(kindBinary, p))
		}
		if th.binary != nil {
			return s.callTyped(th.binary, p)
		}
	}
	if th.message != nil {
		return s.callTyped(th.message, p)
	}
	return nil
}

// callTyped binds p to m's parameter, calls m and sends what it returns.
// A binding failure goes to m's On<X>Error, else to OnError, else closes
// the connection with 1003.
func (s *session) callTyped(m *typedMethod, p []byte) error {
	c := s.conn
	arg := reflect.New(m.in).Elem()
	if err := bindValue(arg, p, false); err != nil {
		return s.bindFailed(m, err)
	}
	out, perr := s.invokeTyped(m.fn, arg)
	if perr != nil {
		return s.result(nil, perr)
	}
	if err, _ := out[len(out)-1].Interface().(error); err != nil {
		return s.result(err, nil)
	}
	if m.out == nil || s.closing || c.sent.Load() {
		return nil
	}
	return s.send(out[0], m == s.h.typed.ping)
}

// bindFailed handles a *PayloadBindingError of method m.
func (s *session) bindFailed(m *typedMethod, err error) error {
	if m.onErr.IsValid() {
		if _, perr := s.invokeTyped(m.onErr, reflect.ValueOf(&err).Elem()); perr != nil {
			return s.result(nil, perr)
		}
		return nil
	}
	if s.h.err != nil {
		s.reportError(err)
		return nil
	}
	return s.failWith(wsproto.CloseUnsupportedData, bindingReason(err), err)
}

// invokeTyped calls fn(service, conn, arg), recovering a panic as invoke
// does.
func (s *session) invokeTyped(fn reflect.Value, arg reflect.Value) (out []reflect.Value, perr *engine.PanicError) {
	defer s.callbackEnd(s.callbackStart(), &perr)
	return fn.Call([]reflect.Value{reflect.ValueOf(s.h.svc), reflect.ValueOf(s.conn), arg}), nil
}

var (
	closeErrorType    = reflect.TypeFor[CloseError]()
	closeErrorPtrType = reflect.TypeFor[*CloseError]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
)

// send writes a callback's result v (Ballerina's return values): nothing
// for nil or an empty string; a string as text; a []byte as binary (as the
// pong payload when pong); a *CloseError starts the close handshake; a
// receive channel or an iter.Seq / iter.Seq2[T, error] sends each element
// in order; anything else its JSON encoding as text. Writes are the same
// as the callback's own writes (Conn.Write), with their backpressure.
func (s *session) send(v reflect.Value, pong bool) error {
	for v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		if v.IsNil() {
			return nil
		}
	}
	switch v.Kind() {
	case reflect.Chan:
		return s.sendChan(v)
	case reflect.Func:
		if _, ok := seqElem(v.Type()); ok {
			return s.sendSeq(v)
		}
	}
	_, err := s.sendOne(v, pong)
	return err
}

// sendOne writes one value that is not a stream. ok false means the
// connection ends (err is the loop's error) or the value was a close.
func (s *session) sendOne(v reflect.Value, pong bool) (ok bool, err error) {
	c := s.conn
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer && v.Type() == closeErrorPtrType {
		if v.IsNil() { // a typed nil *CloseError is no close, as a returned error
			return true, nil
		}
		v = v.Elem()
	}
	if v.Type() == closeErrorType {
		cf := v.Interface().(CloseError)
		return false, s.result(&cf, nil)
	}
	var werr error
	marshaler := v.Type().Implements(jsonMarshalerType)
	switch {
	case v.Kind() == reflect.String && !marshaler:
		if v.Len() == 0 {
			return true, nil
		}
		werr = c.Write(context.Background(), TextMessage, []byte(v.String()))
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 && !marshaler:
		if pong {
			werr = c.writeControl(context.Background(), wsproto.OpPong, v.Bytes())
		} else {
			werr = c.Write(context.Background(), BinaryMessage, v.Bytes())
		}
	default:
		b, err := json.Marshal(v.Interface())
		if err != nil {
			s.reportError(returnErr(err))
			return true, nil
		}
		werr = c.Write(context.Background(), TextMessage, b)
	}
	if werr != nil {
		s.reportError(returnErr(werr))
		if errors.Is(werr, ErrClosed) || c.sent.Load() {
			return false, nil
		}
		if errors.Is(werr, ErrWriteTimedOut) || errors.Is(werr, errInvalidUTF8Text) {
			return true, nil
		}
		return false, s.ioFail(werr)
	}
	return true, nil
}

// ErrReturnValue is passed to OnError (wrapping the cause) when a value a
// callback returned could not be sent: its JSON encoding failed, or the
// write failed.
var ErrReturnValue = errors.New("websocket: sending a returned value")

// returnErr is the ErrReturnValue error for cause.
func returnErr(cause error) error {
	return &kindError{kind: ErrReturnValue, err: cause, msg: ErrReturnValue.Error() + ": " + cause.Error()}
}

// sendChan sends every value received from ch until it is closed, the
// connection ends or a value closes it.
func (s *session) sendChan(ch reflect.Value) error {
	done := reflect.ValueOf(s.conn.Context().Done())
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: ch}, {Dir: reflect.SelectRecv, Chan: done}}
	for {
		i, v, ok := reflect.Select(cases)
		if i == 1 || !ok {
			return nil
		}
		if more, err := s.sendOne(v, false); !more {
			return err
		}
	}
}

// seqElem returns T when ft is func(func(T) bool) (an iter.Seq[T]) or
// func(func(T, error) bool) (an iter.Seq2[T, error]).
func seqElem(ft reflect.Type) (seq2 bool, ok bool) {
	if ft.NumIn() != 1 || ft.NumOut() != 0 {
		return false, false
	}
	y := ft.In(0)
	if y.Kind() != reflect.Func || y.NumOut() != 1 || y.Out(0).Kind() != reflect.Bool {
		return false, false
	}
	switch y.NumIn() {
	case 1:
		return false, true
	case 2:
		return true, y.In(1) == errType
	}
	return false, false
}

// sendSeq sends every element of an iter.Seq, or of an iter.Seq2[T,
// error] whose error ends the connection with 1011 "streaming failed:
// <msg>" (Ballerina's stream error).
func (s *session) sendSeq(seq reflect.Value) error {
	seq2, _ := seqElem(seq.Type())
	var loopErr error
	yield := reflect.MakeFunc(seq.Type().In(0), func(args []reflect.Value) []reflect.Value {
		if seq2 {
			if err, _ := args[1].Interface().(error); err != nil {
				loopErr = s.failWith(wsproto.CloseInternalServerError, "streaming failed: "+cutReason(err), err)
				return []reflect.Value{reflect.ValueOf(false)}
			}
		}
		more, err := s.sendOne(args[0], false)
		if !more {
			loopErr = err
		}
		return []reflect.Value{reflect.ValueOf(more)}
	})
	_, perr := s.invokeSeq(seq, yield)
	if perr != nil {
		return s.result(nil, perr)
	}
	return loopErr
}

// invokeSeq runs seq(yield), recovering a panic.
func (s *session) invokeSeq(seq, yield reflect.Value) (_ struct{}, perr *engine.PanicError) {
	defer func() {
		if r := recover(); r != nil {
			perr = &engine.PanicError{Value: r, Stack: debug.Stack()}
			s.conn.cfg.logger.Error("websocket: panic in a returned sequence", slog.String("conn.id", s.conn.ID()),
				slog.Any("panic", r), slog.String("stack", string(perr.Stack)))
		}
	}()
	seq.Call([]reflect.Value{yield})
	return struct{}{}, nil
}
