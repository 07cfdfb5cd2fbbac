package engine

import "runtime"

// curGoid returns the calling goroutine's id, parsed from its stack header
// ("goroutine 123 [running]:"). It is used only on rare paths (a loop's
// start, Close and stop calls) to tell whether they run inside a callback.
func curGoid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	b := buf[:n]
	const prefix = "goroutine "
	if len(b) < len(prefix) {
		return 0
	}
	b = b[len(prefix):]
	var id uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			break
		}
		id = id*10 + uint64(ch-'0')
	}
	return id
}
