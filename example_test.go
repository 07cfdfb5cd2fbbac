package netkit_test

import (
	"fmt"

	"github.com/netkit-go/netkit"
	"github.com/netkit-go/netkit/tcp"
)

// A listener whose load is connection churn picks the goroutine backend;
// the same field exists in socket and websocket.
func ExampleEngine() {
	l, err := tcp.NewListener(0, &tcp.ListenerConfig{LocalHost: "127.0.0.1", Engine: netkit.EngineGoroutine})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := l.Attach(tcp.EchoService); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("engine:", netkit.EngineGoroutine)
	// Output: engine: goroutine
}
