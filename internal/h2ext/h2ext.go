// Package h2ext turns on RFC 8441's extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL)
// in golang.org/x/net/http2, the HTTP/2 implementation netkit's WebSocket faces serve and
// dial with; and, for clients, opens an extended CONNECT stream as a net.Conn with
// deadlines ([Connect], [ClientStream]), for the websocket client and the load generator.
//
// Go 1.26 has no per-server switch for it (golang/go#53208): both net/http's bundled HTTP/2
// and golang.org/x/net/http2 read GODEBUG=http2xconnect=1 once, when they initialise, into a
// package variable. This package sets golang.org/x/net/http2's variable in its init, through
// go:linkname, so:
//
//   - every http.Server that does not use golang.org/x/net/http2 (the default: net/http's
//     bundled copy) is unchanged: it advertises nothing and refuses :protocol;
//   - every golang.org/x/net/http2 server in a process that links netkit's websocket package
//     advertises the setting: netkit's own Listener, a server given to
//     websocket.ConfigureHTTP2, and any server the program configured with
//     http2.ConfigureServer itself (docs/http2.md warns about the last).
//
// The variable is written once, in init, before any server can read it, so no reader races
// with the write. Once Go ships a per-server switch, this package goes and the servers set
// the field instead (docs/architecture.md, "HTTP/2").
package h2ext

import (
	_ "unsafe" // go:linkname

	_ "golang.org/x/net/http2" // the package whose variable is set
)

//go:linkname disableExtendedConnectProtocol golang.org/x/net/http2.disableExtendedConnectProtocol
var disableExtendedConnectProtocol bool

func init() { disableExtendedConnectProtocol = false }

// Enabled reports whether golang.org/x/net/http2 advertises and accepts extended CONNECT in
// this process. It is true once this package is linked in.
func Enabled() bool { return !disableExtendedConnectProtocol }
