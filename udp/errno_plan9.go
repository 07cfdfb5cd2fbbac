//go:build plan9

package udp

import "errors"

// Plan 9 has no errno values; these never match.
var (
	errConnRefused = errors.New("udp: connection refused")
	icmpErrors     []error
)
