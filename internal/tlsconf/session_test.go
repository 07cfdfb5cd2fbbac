package tlsconf

import (
	"crypto/tls"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/netkit-go/netkit/netkittest"
)

func TestSessionResumption(t *testing.T) {
	c := netkittest.NewCertificates(t)
	srv := serverCfg(t, pemListener(c), nil)
	for _, version := range []string{"TLSv1.2", "TLSv1.3"} {
		t.Run(version, func(t *testing.T) {
			proto := &ProtocolConfig{Versions: []string{version}}
			s := &ClientSecureSocket{Cert: c.CACert, Protocol: proto}
			dial := func(s *ClientSecureSocket) bool {
				t.Helper()
				// A fresh *tls.Config each time, as a redial does.
				_, st := mustConnect(t, srv, clientCfg(t, s, nil, "localhost"))
				return st.DidResume
			}
			if dial(s) {
				t.Fatal("first connection resumed")
			}
			if !dial(s) {
				t.Fatal("second connection with the same ClientSecureSocket did not resume")
			}
			// Another ClientSecureSocket has its own cache.
			if dial(&ClientSecureSocket{Cert: c.CACert, Protocol: proto}) {
				t.Fatal("a different ClientSecureSocket resumed")
			}
			// DisableSessionCache turns resumption off.
			off := &ClientSecureSocket{Cert: c.CACert, Protocol: proto, DisableSessionCache: true}
			if dial(off) || dial(off) {
				t.Fatal("resumed with DisableSessionCache")
			}
			if clientCfg(t, off, nil, "localhost").ClientSessionCache != nil {
				t.Fatal("ClientSessionCache set with DisableSessionCache")
			}
		})
	}
}

func TestSessionCacheFromBase(t *testing.T) {
	cache := tls.NewLRUClientSessionCache(1)
	cfg := clientCfg(t, &ClientSecureSocket{}, &tls.Config{ClientSessionCache: cache}, "localhost")
	if cfg.ClientSessionCache != cache {
		t.Fatal("base ClientSessionCache replaced")
	}
}

func TestServerSessionTimeout(t *testing.T) {
	c := netkittest.NewCertificates(t)
	var skew atomic.Int64 // server clock offset
	base := &tls.Config{Time: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }}
	s := pemListener(c)
	s.SessionTimeout = time.Minute
	srv := serverCfg(t, s, base)

	for _, version := range []string{"TLSv1.2", "TLSv1.3"} {
		t.Run(version, func(t *testing.T) {
			skew.Store(0)
			cs := &ClientSecureSocket{Cert: c.CACert, Protocol: &ProtocolConfig{Versions: []string{version}}}
			dial := func() bool {
				t.Helper()
				_, st := mustConnect(t, srv, clientCfg(t, cs, nil, "localhost"))
				return st.DidResume
			}
			if dial() {
				t.Fatal("first connection resumed")
			}
			if !dial() {
				t.Fatal("fresh ticket not accepted")
			}
			skew.Store(int64(2 * time.Minute)) // every ticket issued so far is now too old
			if dial() {
				t.Fatal("expired ticket accepted")
			}
			if !dial() { // the full handshake issued a new ticket
				t.Fatal("new ticket not accepted")
			}
		})
	}

	// A negative timeout disables tickets.
	s.SessionTimeout = -1
	srv = serverCfg(t, s, nil)
	if !srv.SessionTicketsDisabled {
		t.Fatal("SessionTicketsDisabled not set")
	}
	cs := &ClientSecureSocket{Cert: c.CACert}
	for range 2 {
		if _, st := mustConnect(t, srv, clientCfg(t, cs, nil, "localhost")); st.DidResume {
			t.Fatal("resumed with session tickets disabled")
		}
	}
}

// TestSessionCacheReleased checks that the cache of a ClientSecureSocket is
// dropped once the ClientSecureSocket is garbage collected.
func TestSessionCacheReleased(t *testing.T) {
	released := make(chan struct{})
	var key weak.Pointer[ClientSecureSocket]
	f := func(k weak.Pointer[ClientSecureSocket]) {
		if k == key {
			close(released)
		}
	}
	func() {
		s := &ClientSecureSocket{ServerName: "localhost"}
		key = weak.Make(s)
		cfg := clientCfg(t, s, nil, "")
		if cfg.ClientSessionCache == nil || clientCfg(t, s, nil, "").ClientSessionCache != cfg.ClientSessionCache {
			t.Fatal("the cache is not shared per ClientSecureSocket")
		}
		if !hasSessionCache(key) {
			t.Fatal("no cache entry")
		}
	}()
	cacheReleased.Store(&f)
	defer cacheReleased.Store(nil)

	deadline := time.After(testTimeout)
	for i := 0; ; i++ {
		runtime.GC()
		select {
		case <-released:
			if hasSessionCache(key) {
				t.Fatal("entry still present after release")
			}
			return
		case <-deadline:
			t.Fatalf("cache not released after %d collections", i+1)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func hasSessionCache(key weak.Pointer[ClientSecureSocket]) bool {
	sessionCaches.Lock()
	defer sessionCaches.Unlock()
	_, ok := sessionCaches.m[key]
	return ok
}
