package wstest

import "golang.org/x/net/http2"

// SendGoAway sends the client's GOAWAY with lastStreamID and code (for
// tests of a client that leaves in the middle of its streams).
func (c *H2Conn) SendGoAway(lastStreamID uint32, code http2.ErrCode) error {
	return c.write(func() error { return c.fr.WriteGoAway(lastStreamID, code, nil) })
}
