package websocket

import (
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

// This file holds the callbacks that take a type of the user's (data
// binding: OnMessage and the custom dispatch methods) or return a value
// (see returns.go). They are found by reflection, once per Service type,
// and called through reflect; a Service without them keeps the plain
// interface calls of service.go.

var (
	connType  = reflect.TypeFor[*Conn]()
	errType   = reflect.TypeFor[error]()
	bytesType = reflect.TypeFor[[]byte]()
)

// typedHooks are a Service type's callbacks that bind a payload to a
// user's type or return a value to send.
type typedHooks struct {
	message *typedMethod            // OnMessage(c, T)
	text    *typedMethod            // OnTextMessage(c, []byte) (R, error)
	binary  *typedMethod            // OnBinaryMessage(c, []byte) (R, error)
	ping    *typedMethod            // OnPing(c, []byte) ([]byte, error)
	custom  map[string]*typedMethod // On<X>(c, T), by method name
}

// typedMethod is one such callback.
type typedMethod struct {
	name  string
	fn    reflect.Value // the method's func, receiver first
	in    reflect.Type  // T, the payload parameter
	out   reflect.Type  // R, or nil when the method returns only an error
	onErr reflect.Value // On<X>Error's func (receiver first), or invalid
}

// fixedCallbacks are the names whose shapes service.go's interfaces give.
var fixedCallbacks = map[string]bool{
	"OnOpen": true, "OnTextMessage": true, "OnBinaryMessage": true, "OnPing": true,
	"OnPong": true, "OnIdleTimeout": true, "OnClose": true, "OnError": true,
}

// typedShape is the hooks.Shape of a Service: it accepts the typed
// callbacks (ft is the method type without the receiver).
func typedShape(name string, ft reflect.Type) (known bool, problem string) {
	takesConn := ft.NumIn() == 2 && ft.In(0) == connType && !ft.IsVariadic()
	switch name {
	case "OnOpen", "OnPong", "OnIdleTimeout", "OnClose", "OnError":
		return false, ""
	case "OnTextMessage", "OnBinaryMessage":
		if takesConn && ft.In(1) == bytesType && ft.NumOut() == 2 {
			return true, resultProblem(ft)
		}
		return false, ""
	case "OnPing":
		if takesConn && ft.In(1) == bytesType && ft.NumOut() == 2 && ft.Out(0) == bytesType && ft.Out(1) == errType {
			return true, ""
		}
		return false, ""
	}
	if strings.HasSuffix(name, "Error") && takesConn && ft.In(1) == errType {
		if ft.NumOut() != 0 {
			return true, "an error hook returns nothing: want func(*websocket.Conn, error)"
		}
		return true, "" // paired with its method in typedProblems
	}
	if !takesConn {
		if name == "OnMessage" {
			return true, "want func(*websocket.Conn, T) error or func(*websocket.Conn, T) (R, error)"
		}
		return false, ""
	}
	if p := bindProblem(ft.In(1)); p != "" {
		return true, p
	}
	return true, resultProblem(ft)
}

// resultProblem checks a typed callback's results: error, or (R, error).
func resultProblem(ft reflect.Type) string {
	switch {
	case ft.NumOut() == 1 && ft.Out(0) == errType:
		return ""
	case ft.NumOut() == 2 && ft.Out(1) == errType:
		switch ft.Out(0).Kind() {
		case reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
			return "cannot send a " + ft.Out(0).String()
		case reflect.Chan:
			if ft.Out(0).ChanDir()&reflect.RecvDir == 0 {
				return "cannot receive from a " + ft.Out(0).String()
			}
		case reflect.Func:
			if _, ok := seqElem(ft.Out(0)); !ok {
				return "a func result must be an iter.Seq[T] or iter.Seq2[T, error], not " + ft.Out(0).String()
			}
		}
		return ""
	}
	return "want results error or (R, error)"
}

// bindProblem reports a payload type that no message can bind to.
func bindProblem(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Func, reflect.Chan, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return "cannot bind a message to " + t.String()
	}
	return ""
}

// typedProblems are the checks across methods of one type.
func typedProblems(t reflect.Type) []string {
	var problems []string
	has := func(name string) bool { _, ok := t.MethodByName(name); return ok }
	if has("OnMessage") && (has("OnTextMessage") || has("OnBinaryMessage")) {
		problems = append(problems, "OnMessage cannot coexist with OnTextMessage or OnBinaryMessage")
	}
	for i := 0; i < t.NumMethod(); i++ {
		name := t.Method(i).Name
		base, ok := strings.CutSuffix(name, "Error")
		if !ok || name == "OnError" || !strings.HasPrefix(name, "On") || !isErrorHook(t.Method(i).Type) {
			continue
		}
		if m, ok := t.MethodByName(base); !ok || fixedCallbacks[base] || m.Type.NumIn() != 3 {
			problems = append(problems, name+" has no typed method "+base+" whose binding errors it would receive")
		}
	}
	return problems
}

// isErrorHook reports whether mt (a method type, receiver first) is
// func(*Conn, error).
func isErrorHook(mt reflect.Type) bool {
	return mt.NumIn() == 3 && mt.In(1) == connType && mt.In(2) == errType && mt.NumOut() == 0
}

// typedCache maps a Service's reflect.Type to its *typedHooks (nil when it
// has none).
var typedCache sync.Map

// typedFor returns t's typed callbacks, or nil. t passed serviceHooks'
// check.
func typedFor(t reflect.Type) *typedHooks {
	if v, ok := typedCache.Load(t); ok {
		return v.(*typedHooks)
	}
	var th typedHooks
	found := false
	for i := 0; i < t.NumMethod(); i++ {
		m := t.Method(i)
		if !strings.HasPrefix(m.Name, "On") || m.Type.NumIn() != 3 || m.Type.In(1) != connType {
			continue
		}
		in := m.Type.In(2)
		if isErrorHook(m.Type) && strings.HasSuffix(m.Name, "Error") {
			continue // an error hook
		}
		tm := &typedMethod{name: m.Name, fn: m.Func, in: in}
		if m.Type.NumOut() == 2 {
			tm.out = m.Type.Out(0)
		}
		if eh, ok := t.MethodByName(m.Name + "Error"); ok && isErrorHook(eh.Type) {
			tm.onErr = eh.Func
		}
		switch m.Name {
		case "OnMessage":
			th.message = tm
		case "OnTextMessage", "OnBinaryMessage", "OnPing":
			if tm.out == nil {
				continue // the plain interface callback
			}
			switch m.Name {
			case "OnTextMessage":
				th.text = tm
			case "OnBinaryMessage":
				th.binary = tm
			default:
				th.ping = tm
			}
		default:
			if fixedCallbacks[m.Name] {
				continue
			}
			if th.custom == nil {
				th.custom = make(map[string]*typedMethod)
			}
			th.custom[m.Name] = tm
		}
		found = true
	}
	var p *typedHooks
	if found {
		p = &th
	}
	v, _ := typedCache.LoadOrStore(t, p)
	return v.(*typedHooks)
}

// checkDispatch reports custom methods that cannot be reached with the
// configuration: without DispatcherKey a custom method would never run
// (and is most likely a misspelled callback); a DispatcherValues entry must
// name one.
func (th *typedHooks) checkDispatch(t reflect.Type, cfg *connConfig) error {
	if th == nil || (len(th.custom) == 0 && len(cfg.dispatchTo) == 0) {
		return nil
	}
	if cfg.dispatchKey == "" {
		for name := range th.custom {
			return errors.New("websocket: Service " + t.String() + ": " + name +
				" is not a callback; as a custom dispatch method it needs ServiceConfig.DispatcherKey")
		}
		return nil
	}
	for v, name := range cfg.dispatchTo {
		if th.custom[name] == nil {
			return errors.New("websocket: Service " + t.String() + ": DispatcherValues[" + v + "] names " +
				name + ", which is not a custom dispatch method On<X>(*websocket.Conn, T)")
		}
	}
	return nil
}

// customFor returns the custom method for text message p, or nil: the
// value v of its top-level DispatcherKey field, mapped by DispatcherValues
// or else to "On" + camel(v).
func (th *typedHooks) customFor(cfg *connConfig, p []byte) *typedMethod {
	v, ok := dispatchValue(p, cfg.dispatchKey)
	if !ok {
		return nil
	}
	if name, ok := cfg.dispatchTo[v]; ok {
		return th.custom[name]
	}
	return th.custom[DispatchMethodName(v)]
}

// dispatchValue returns the string value of p's top-level field key, when
// p is a JSON object that has one.
func dispatchValue(p []byte, key string) (string, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(p, &obj) != nil {
		return "", false
	}
	raw, ok := obj[key]
	if !ok {
		return "", false
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return "", false
	}
	return v, true
}

// DispatchMethodName returns the method a custom dispatch value goes to
// when ServiceConfig.DispatcherValues does not map it: "On" followed by
// the value's words, each with its first letter upper-cased, where words
// are split on every character that is not an ASCII letter or digit
// (Ballerina's rule: "un subscribe" → OnUnSubscribe, "heartbeat" →
// OnHeartbeat, "ping_pong" → OnPingPong).
func DispatchMethodName(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteString("On")
	start := true
	for i := 0; i < len(v); i++ {
		ch := v[i]
		word := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9'
		if !word {
			start = true
			continue
		}
		if start && ch >= 'a' && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		b.WriteByte(ch)
		start = false
	}
	return b.String()
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// bindValue decodes message p (binary or text) into dst, an addressable
// value (Ballerina's data binding): a string kind receives the text as it
// is (a binary message must be valid UTF-8), a []byte kind the payload as
// it is (borrowed unless copyBytes), a json.Unmarshaler and anything else
// the JSON decoding. A failure is a *PayloadBindingError.
func bindValue(dst reflect.Value, p []byte, copyBytes bool) error {
	t := dst.Type()
	if !reflect.PointerTo(t).Implements(jsonUnmarshalerType) {
		switch {
		case t.Kind() == reflect.String && !reflect.PointerTo(t).Implements(textUnmarshalerType):
			if !utf8.Valid(p) {
				return &PayloadBindingError{Err: errors.New("the message is not valid UTF-8")}
			}
			dst.SetString(string(p))
			return nil
		case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
			if copyBytes || p == nil {
				p = append([]byte{}, p...)
			}
			dst.SetBytes(p)
			return nil
		}
	}
	if err := json.Unmarshal(p, dst.Addr().Interface()); err != nil {
		return &PayloadBindingError{Err: err}
	}
	return nil
}

// bindingReason is the reason of the close 1003 that ends a connection
// whose message did not bind and that has no error hook (Ballerina's
// "data binding failed: <msg>", msg cut to 80 bytes and "..." when longer
// than 100).
func bindingReason(err error) string {
	return "data binding failed: " + cutReason(err)
}

// cutReason returns err's text, cut to its first 80 bytes (at a UTF-8
// boundary) and "..." when longer than 100 bytes, so that a close reason
// built from it fits in a control frame.
func cutReason(err error) string {
	var be *PayloadBindingError
	msg := err.Error()
	if errors.As(err, &be) {
		msg = be.Err.Error()
	}
	if len(msg) <= 100 {
		return msg
	}
	n := 80
	for n > 0 && !utf8.RuneStart(msg[n]) {
		n--
	}
	return msg[:n] + "..."
}
