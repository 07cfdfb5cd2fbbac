//go:build unix

package engine

import "syscall"

// defaultMaxConnections is the open-file limit minus 64 (for listeners,
// logs and outbound connections), or no cap if the limit is unknown.
func defaultMaxConnections() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<31 {
		return -1
	}
	if n := int(rl.Cur) - 64; n > 0 {
		return n
	}
	return 1
}
