//go:build !unix && !windows

package udp

// isTrunc is false where the system does not report cut datagrams; the
// generic loop's one-byte-larger buffer detects them instead.
func isTrunc(int) bool { return false }

func isTruncErr(error) bool { return false }
