package bufpool

import "golang.org/x/sys/unix"

// sysLarge says large buffers are mappings outside the Go heap.
const sysLarge = true

// sysMap maps size bytes of anonymous memory, or returns nil.
func sysMap(size int) []byte {
	m, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil
	}
	return m
}

// sysRelease hands m's pages back to the kernel; m stays mapped and reads
// zeros until written again.
func sysRelease(m []byte) { unix.Madvise(m, unix.MADV_DONTNEED) }
