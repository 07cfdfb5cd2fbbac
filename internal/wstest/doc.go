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
package wstest
