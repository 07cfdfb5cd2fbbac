package main

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestDemo(t *testing.T) {
	l, err := listen("127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.ImmediateStop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := demo(ctx, "ws://127.0.0.1:"+strconv.Itoa(l.Port())+"/chat", &out); err != nil {
		t.Fatal(err)
	}
	want := `alice <- {"event":"subscribed","topic":"news"}
bob <- {"event":"published","topic":"news","count":1}
alice <- {"event":"message","topic":"news","text":"hello"}
alice <- {"event":"heartbeat","seq":1}
bob <- {"event":"error","text":"data binding failed: json: cannot unmarshal string into Go struct field Heartbeat.seq of type int"}
bob <- {"event":"error","text":"unknown event"}
`
	if got := out.String(); got != want {
		t.Fatalf("output:\n%s\nwant:\n%s", got, want)
	}
}
