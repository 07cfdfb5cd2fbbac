package leakcheck

import (
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

func TestDetectsLeak(t *testing.T) {
	stop := make(chan struct{})
	go func() { <-stop }()
	got := Wait(50 * time.Millisecond)
	close(stop)
	if !strings.Contains(got, "TestDetectsLeak") {
		t.Fatalf("leak not reported; got %q", got)
	}
	if got := Wait(2 * time.Second); got != "" {
		t.Fatalf("goroutine still reported after exit: %s", got)
	}
}
