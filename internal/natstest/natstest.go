// Package natstest runs NATS servers in-process for tests
// (github.com/nats-io/nats-server/v2), on 127.0.0.1 and free ports, so that
// `go test` needs no nats-server installed. Only tests import it: the
// library never depends on the server module.
package natstest

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds a server's start.
const readyTimeout = 10 * time.Second

// Server is one embedded NATS server.
type Server struct {
	*server.Server
	opts *server.Options
}

// Options describes a server to start. The zero value is a standalone
// server on a free port.
type Options struct {
	Name string
	// Port is the client port; 0 picks a free one.
	Port int
	// Cluster names a cluster to join: the server listens for routes on
	// ClusterPort (0: a free port) and connects to Routes.
	Cluster     string
	ClusterPort int
	Routes      []string // nats-route://127.0.0.1:PORT
}

// Start starts a server and stops it when the test ends.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	so := &server.Options{ServerName: o.Name, Host: "127.0.0.1", Port: o.Port, NoLog: true, NoSigs: true}
	if so.Port == 0 {
		so.Port = -1
	}
	if o.Cluster != "" {
		so.Cluster = server.ClusterOpts{Name: o.Cluster, Host: "127.0.0.1", Port: o.ClusterPort}
		if so.Cluster.Port == 0 {
			so.Cluster.Port = -1
		}
		for _, r := range o.Routes {
			so.Routes = append(so.Routes, server.RoutesFromStr(r)...)
		}
	}
	s, err := server.NewServer(so)
	if err != nil {
		tb.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(readyTimeout) {
		s.Shutdown()
		tb.Fatal("natstest: the NATS server did not start")
	}
	srv := &Server{Server: s, opts: so}
	tb.Cleanup(srv.Stop)
	return srv
}

// Stop shuts the server down and waits for it.
func (s *Server) Stop() {
	s.Shutdown()
	s.WaitForShutdown()
}

// Port returns the client port.
func (s *Server) Port() int { return s.Addr().(*net.TCPAddr).Port }

// URL returns the client URL.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.Port()) }

// RouteURL returns the URL other servers route to.
func (s *Server) RouteURL() string {
	return "nats-route://" + s.ClusterAddr().String()
}

// Restart stops the server and starts a new one with the same ports.
func (s *Server) Restart(tb testing.TB) *Server {
	tb.Helper()
	o := Options{Name: s.opts.ServerName, Port: s.Port()}
	if s.opts.Cluster.Name != "" {
		o.Cluster, o.ClusterPort = s.opts.Cluster.Name, s.ClusterAddr().Port
		for _, r := range s.opts.Routes {
			o.Routes = append(o.Routes, r.String())
		}
	}
	s.Stop()
	return Start(tb, o)
}
