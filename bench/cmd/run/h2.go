package main

import (
	"strings"
	"time"
)

// WebSocket over HTTP/2 (RFC 8441) rows of W1 and W3 (issue 18): netkit
// only (no peer library speaks it), served by the netkit TLS Listener
// (peerserve -tls: ALPN offers h2 and http/1.1, extended CONNECT
// advertised), each case in three shapes over the same TLS setup:
//
//   - "wss h1": 100 sockets, each its own TLS connection, HTTP/1.1 Upgrade
//     (the load generator's ALPN offers http/1.1 only);
//   - "h2 1 conn": 100 sockets as streams of one HTTP/2 connection
//     (netkit bench --h2 --h2-conns 1);
//   - "h2 100 conns": 100 sockets, each its own TLS connection over HTTP/2
//     (--h2 --h2-conns 100).

// h2Impls are the implementations of the h2 cases.
var h2Impls = []string{"netkit"}

// h2Note explains the h2 rows.
const h2Note = " HTTP/2 rows (\"h2 ...\", netkit only, as no peer speaks RFC 8441): the netkit TLS Listener (ALPN h2 and http/1.1, " +
	"SETTINGS_ENABLE_CONNECT_PROTOCOL advertised); \"wss h1\" is the same server over HTTP/1.1 wss:// (one TLS connection per socket), " +
	"\"h2 1 conn\" 100 sockets as streams of one HTTP/2 connection (netkit bench --h2 --h2-conns 1), " +
	"\"h2 100 conns\" 100 sockets each on its own TLS connection over HTTP/2 (--h2-conns 100); W3 also holds 1000 sockets " +
	"(\"h2 5 conns\": streams of 5 connections, 200 each, under the Listener's 250-stream limit)."

// h2Shapes are the three shapes' names and load flags.
var h2Shapes = []struct {
	name string
	load []string
}{
	{"wss h1", nil},
	{"h2 1 conn", []string{"--h2", "--h2-conns", "1"}},
	{"h2 100 conns", []string{"--h2", "--h2-conns", "100"}},
}

// h2W1Cases are W1's h2 rows: 100 sockets, 1 KiB binary echo.
func h2W1Cases() []Case {
	var cs []Case
	for _, s := range h2Shapes {
		cs = append(cs, Case{Name: "100c 1KiB bin " + s.name, TLS: true, Impls: h2Impls,
			Load: append([]string{"-c", "100", "-s", "1024"}, s.load...)})
	}
	return cs
}

// h2W3Cases are W3's h2 rows: 100 idle sockets held for hold, in the
// three shapes; and 1000 (where 100 sockets' RSS is too close to the
// noise), over HTTP/1.1, as streams of 5 connections (200 each: one
// connection takes at most 250, DefaultMaxConcurrentStreams) and each on
// its own HTTP/2 connection.
func h2W3Cases(hold string) []Case {
	var cs []Case
	for _, s := range h2Shapes {
		cs = append(cs, Case{Name: "100 idle " + s.name, TLS: true, Impls: h2Impls,
			Load: append([]string{"--mode", "idle", "-c", "100", "--hold", hold}, s.load...)})
	}
	for _, s := range []struct {
		name string
		load []string
	}{{"wss h1", nil}, {"h2 5 conns", []string{"--h2", "--h2-conns", "5"}}, {"h2 1000 conns", []string{"--h2", "--h2-conns", "1000"}}} {
		cs = append(cs, Case{Name: "1000 idle " + s.name, TLS: true, Impls: h2Impls, Bound: 6 * time.Second,
			Load: append([]string{"--mode", "idle", "-c", "1000", "--hold", hold}, s.load...)})
	}
	return cs
}

// q2 picks the quick or the full value.
func q2(quick bool, quickV, fullV string) string {
	if quick {
		return quickV
	}
	return fullV
}

// wantedCases returns the cases the -cases filter keeps.
func wantedCases(filter string, cs []Case) []Case {
	var out []Case
	for _, c := range cs {
		if caseWanted(filter, c.Name) {
			out = append(out, c)
		}
	}
	return out
}

// caseWanted reports whether the -cases filter (comma-separated
// substrings, "" for all) keeps the case named name.
func caseWanted(filter, name string) bool {
	if filter == "" {
		return true
	}
	for _, f := range strings.Split(filter, ",") {
		if f != "" && strings.Contains(name, f) {
			return true
		}
	}
	return false
}
