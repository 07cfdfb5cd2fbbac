package websocket_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/netkit-go/netkit/netkittest"
)

// requireNodeWS returns the node binary, skipping the test when node or
// its ws module is missing (interop tests skip when any part is).
func requireNodeWS(t *testing.T) string {
	t.Helper()
	node := netkittest.RequireTool(t, "node")
	cmd := exec.Command(node, "-e", "require.resolve('ws')")
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath())
	if err := cmd.Run(); err != nil {
		t.Skip("skipping: the node module ws is not installed (apt install node-ws, or npm install ws and set NODE_PATH)")
	}
	return node
}
