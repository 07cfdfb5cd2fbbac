//go:build nonetkitws

package main

import "errors"

// netkitWS is absent in builds with the nonetkitws tag, which bench/run
// uses when netkit's websocket package does not compile.
func netkitWS(o options) (string, func(), error) {
	return "", nil, errors.New("skipped: netkit websocket not available")
}

func netkitHubWS(o options) (string, func(), error) {
	return "", nil, errors.New("skipped: netkit websocket not available")
}
