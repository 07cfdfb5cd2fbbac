package websocket

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzBindAndDispatch: any payload binds or fails with a
// *PayloadBindingError (never a panic), a bound string is the payload, the
// dispatch value is found only in a JSON object, and its method name is
// "On" and ASCII letters and digits.
func FuzzBindAndDispatch(f *testing.F) {
	for _, s := range []string{`{"event":"subscribe","topic":"a"}`, `{"event":1}`, `[1,2]`, `"x"`, `not json`, "\xff", `{"event":"un subscribe"}`, ``} {
		f.Add([]byte(s))
	}
	type msg struct {
		Event string         `json:"event"`
		N     int            `json:"n"`
		M     map[string]any `json:"m"`
	}
	types := []reflect.Type{reflect.TypeFor[msg](), reflect.TypeFor[*msg](), reflect.TypeFor[string](), reflect.TypeFor[[]byte](),
		reflect.TypeFor[json.RawMessage](), reflect.TypeFor[[]int](), reflect.TypeFor[any](), reflect.TypeFor[float64]()}
	f.Fuzz(func(t *testing.T, p []byte) {
		for _, typ := range types {
			v := reflect.New(typ).Elem()
			err := bindValue(v, p, true)
			if err != nil {
				if _, ok := err.(*PayloadBindingError); !ok {
					t.Fatalf("%s: %T %v", typ, err, err)
				}
				if r := bindingReason(err); len(r) > 123 {
					t.Fatalf("close reason of %d bytes", len(r))
				}
				continue
			}
			if typ.Kind() == reflect.String && v.String() != string(p) {
				t.Fatalf("string bound to %q", v.String())
			}
		}
		v, ok := dispatchValue(p, "event")
		if ok && !json.Valid(p) {
			t.Fatalf("dispatch value %q from invalid JSON", v)
		}
		name := DispatchMethodName(v)
		if !strings.HasPrefix(name, "On") || !utf8.ValidString(name) || strings.ContainsFunc(name[2:], func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) {
			t.Fatalf("method name %q", name)
		}
	})
}
