package engine

import "net"

// Reserve holds one of MaxConnections' places for a stream that the caller
// will run with [Server.ServeReserved], and reports false (holding
// nothing) when the server is full or stopping. A carrier that answers a
// stream's request before running it (an HTTP/2 CONNECT's 200) reserves
// before answering, so that requests arriving at once cannot all pass a
// [Server.Full] check before the first of them is counted. A reservation
// counts as a connection for Full and for the accept loop's pause until
// ServeReserved takes it over or [Server.Unreserve] gives it back.
func (s *Server) Reserve() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping || s.cfg.MaxConnections > 0 && len(s.conns)+s.reserved >= s.cfg.MaxConnections {
		return false
	}
	s.reserved++
	return true
}

// Unreserve gives back a place held by [Server.Reserve] for a stream that
// will not be run.
func (s *Server) Unreserve() {
	s.mu.Lock()
	if s.reserved > 0 {
		s.reserved--
	}
	s.cond.Broadcast() // a paused accept loop may go on
	s.mu.Unlock()
}

// ServeReserved is [Server.ServeStream] for a stream whose place was held
// by [Server.Reserve]: the connection takes the place over; if the server
// is stopping, the place is given back and ServeReserved reports false.
func (s *Server) ServeReserved(nc net.Conn, face StreamFace, cfg *ConnConfig) bool {
	return s.serveStream(nc, face, cfg, true)
}
