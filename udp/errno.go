//go:build !plan9

package udp

import "syscall"

// icmpErrors are the errors a received ICMP message leaves on a socket (a
// connected socket's peer unreachable, for example); errConnRefused is the
// one Ballerina calls "Port unreachable".
var (
	errConnRefused error = syscall.ECONNREFUSED
	icmpErrors           = []error{syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ECONNRESET}
)
