//go:build !unix

package engine

func (c *Conn) waitReadable(uintptr) bool { return true }

// readRaw and writeRaw are never called where canWaitWithoutBuffer is false
// (rc stays nil).
func (c *Conn) readRaw(uintptr) bool  { return true }
func (c *Conn) writeRaw(uintptr) bool { return true }

const canWaitWithoutBuffer = false
