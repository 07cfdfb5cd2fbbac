package websocket

import (
	"testing"
)

// A ServiceFuncs passed by value (as the README and the CLI do) dispatches
// like a *ServiceFuncs; it used to resolve to no hooks at all.
func TestServiceFuncsByValueHasHooks(t *testing.T) {
	called := false
	h, err := resolveHooks(ServiceFuncs{OnTextMessage: func(*Conn, []byte) error { called = true; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if h.text == nil {
		t.Fatal("OnTextMessage of a ServiceFuncs value was not resolved")
	}
	h.text.OnTextMessage(nil, nil)
	if !called {
		t.Fatal("hook did not call the function")
	}
}
