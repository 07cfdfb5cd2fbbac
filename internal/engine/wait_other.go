//go:build !unix

package engine

func (c *Conn) waitReadable(uintptr) bool { return true }

const canWaitWithoutBuffer = false
