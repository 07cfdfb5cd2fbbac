// Package wstest is a minimal raw WebSocket server on internal/wsproto for
// testing load generators.
//
// The server is written on wsproto's pure helpers, independent of the
// websocket package, so that a load generator's counts are checked against
// a server whose behaviour is plain: it echoes each data message (or
// broadcasts it to every other connection), answers pings, replies to a
// close frame and hangs up. It can negotiate permessage-deflate, serve
// wss:// with a given certificate, bound the opening handshake and drop a
// connection whose write stalls.
//
// [DialH2] is a raw HTTP/2 client (golang.org/x/net/http2's Framer) for
// tests of WebSockets over HTTP/2 (RFC 8441): [H2Conn.Connect] opens an
// extended CONNECT, [H2Conn.Open] sends any HEADERS (bad input), and each
// [H2Stream] is a net.Conn over one stream whose window is reopened only
// as it is read, so a test can stall one stream without stalling the
// connection.
package wstest
