package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/netkittest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// testTimeout bounds every wait of a test connection.
const testTimeout = 5 * time.Second

// result is what one side of a test connection saw.
type result struct {
	state tls.ConnectionState
	err   error
}

// connect runs one TLS connection over 127.0.0.1 (or network/addr given by
// listenAddr) between a server using srv and a client using cli, both through
// Handshake. After the handshake the server writes "hi" and closes; the
// client reads it (which also processes TLS 1.3 session tickets). It returns
// what both sides saw; every goroutine has ended when it returns.
func connect(t *testing.T, srv, cli *tls.Config) (server, client result) {
	t.Helper()
	return connectOn(t, "127.0.0.1:0", srv, cli)
}

func connectOn(t *testing.T, listenAddr string, srv, cli *tls.Config) (server, client result) {
	t.Helper()
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	done := make(chan result, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer nc.Close()
		c := tls.Server(nc, srv)
		if err := Handshake(ctx, c, testTimeout); err != nil {
			done <- result{state: c.ConnectionState(), err: err}
			return
		}
		nc.SetDeadline(time.Now().Add(testTimeout))
		_, err = c.Write([]byte("hi"))
		if err == nil {
			err = c.Close()
		}
		done <- result{state: c.ConnectionState(), err: err}
	}()

	client = func() result {
		d := net.Dialer{Timeout: testTimeout}
		nc, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			return result{err: err}
		}
		defer nc.Close()
		c := tls.Client(nc, cli)
		if err := Handshake(ctx, c, testTimeout); err != nil {
			return result{state: c.ConnectionState(), err: err}
		}
		nc.SetDeadline(time.Now().Add(testTimeout))
		got, err := io.ReadAll(c)
		if err == nil && string(got) != "hi" {
			err = fmt.Errorf("read %q, want %q", got, "hi")
		}
		return result{state: c.ConnectionState(), err: err}
	}()
	server = <-done
	return server, client
}

// mustConnect fails the test unless both sides succeed.
func mustConnect(t *testing.T, srv, cli *tls.Config) (server, client tls.ConnectionState) {
	t.Helper()
	s, c := connect(t, srv, cli)
	if s.err != nil || c.err != nil {
		t.Fatalf("connection failed: server: %v; client: %v", s.err, c.err)
	}
	return s.state, c.state
}

// mustFail fails the test unless the connection fails on both sides.
func mustFail(t *testing.T, srv, cli *tls.Config) (server, client error) {
	t.Helper()
	s, c := connect(t, srv, cli)
	if s.err == nil || c.err == nil {
		t.Fatalf("connection succeeded: server: %v; client: %v", s.err, c.err)
	}
	t.Logf("failed as expected: server: %v; client: %v", s.err, c.err)
	return s.err, c.err
}

func serverCfg(t *testing.T, s *ListenerSecureSocket, base *tls.Config) *tls.Config {
	t.Helper()
	cfg, err := ServerConfig(s, base)
	if err != nil {
		t.Fatalf("ServerConfig: %v", err)
	}
	return cfg
}

func clientCfg(t *testing.T, s *ClientSecureSocket, base *tls.Config, serverName string) *tls.Config {
	t.Helper()
	cfg, err := ClientConfig(s, base, serverName)
	if err != nil {
		t.Fatalf("ClientConfig: %v", err)
	}
	return cfg
}

func pemListener(c *netkittest.Certificates) *ListenerSecureSocket {
	return &ListenerSecureSocket{CertKey: &CertKey{CertFile: c.ServerCert, KeyFile: c.ServerKey}}
}

func configError(t *testing.T, err error) *ConfigError {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *ConfigError", err, err)
	}
	return ce
}
