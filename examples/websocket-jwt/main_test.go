package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strconv"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestRun(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	l, err := listen(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	defer l.ImmediateStop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, "ws://127.0.0.1:"+strconv.Itoa(l.Port())+"/chat", key, &out); err != nil {
		t.Fatal(err)
	}
	want := "with a token: hello alice, your scopes: chat read\nwithout a token: 401\n"
	if got := out.String(); got != want {
		t.Fatalf("output %q, want %q", got, want)
	}
	// A token signed by another key is refused too.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := run(ctx, "ws://127.0.0.1:"+strconv.Itoa(l.Port())+"/chat", other, &out); err == nil {
		t.Fatal("a token signed by another key was accepted")
	}
}
