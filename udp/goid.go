package udp

import "runtime"

// goid returns the calling goroutine's id, parsed from its stack header
// ("goroutine 42 [running]:"). It is used only when a listener stops, to
// tell whether Stop was called from one of the listener's own goroutines.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return 0
	}
	var id uint64
	for _, c := range b[len(prefix):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
