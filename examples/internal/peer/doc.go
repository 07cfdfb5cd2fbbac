// Package peer starts what the example programs' tests talk to on
// loopback: echo servers for the client samples, and a server sample's run
// function on a free port.
package peer
