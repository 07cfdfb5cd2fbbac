//go:build !linux

package bufpool

// sysLarge says large buffers are mappings outside the Go heap: not here,
// they are heap allocations.
const sysLarge = false

func sysMap(int) []byte { return nil }

func sysRelease([]byte) {}
