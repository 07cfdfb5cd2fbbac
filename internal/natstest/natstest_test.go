package natstest_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/internal/natstest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestStartRestartCluster(t *testing.T) {
	a := natstest.Start(t, natstest.Options{Name: "a", Cluster: "c"})
	b := natstest.Start(t, natstest.Options{Name: "b", Cluster: "c", Routes: []string{a.RouteURL()}})
	port := a.Port()
	a = a.Restart(t)
	if a.Port() != port {
		t.Fatalf("restarted on port %d, not %d", a.Port(), port)
	}
	nc, err := nats.Connect(b.URL(), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}
