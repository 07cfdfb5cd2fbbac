package engine

// HoldsContext reports whether c keeps a context (for tests of dropContext).
func HoldsContext(c *Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctx != nil
}
