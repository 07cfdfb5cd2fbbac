// Command netkit runs TCP, UDP and WebSocket services from the command line:
// the seed samples' servers (netkit serve), listeners, clients and a load
// generator. Run "netkit help" for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/netkit-go/netkit/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx)
	stop()
	os.Exit(code)
}
