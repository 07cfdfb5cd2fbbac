// Command peerserve runs one echo (or broadcast) server of one
// implementation, so that every implementation is measured in its own
// process (a shared heap and GC would void RSS and CPU figures):
//
//	peerserve -impl netkit|std|gnet|nbio -proto tcp|udp -addr 127.0.0.1:PORT
//	peerserve -impl netkit|gorilla|coder|gobwas|gws|nbio -proto ws -addr 127.0.0.1:PORT [-compress MODE] [-broadcast] [-tls [-tls-cert FILE -tls-key FILE]]
//	peerserve -gencert DIR
//
// Every netkit implementation (netkit, netkit-metrics, netkit-hub) also
// runs as NAME-goroutine and NAME-evloop: the same adapter on the
// goroutine or the event-loop engine backend (NETKIT_ENGINE set); without
// a suffix it runs on the default backend (NETKIT_ENGINE unset). The
// configuration line names the engine.
//
// With -tls a WebSocket server serves wss:// (each library's documented
// TLS setup), with the given certificate or, without one, a self-signed
// ECDSA P-256 certificate generated at start. -gencert writes such a
// certificate to DIR/cert.pem and DIR/key.pem and exits.
//
// It prints its configuration as one JSON line on stdout, serves until
// SIGINT or SIGTERM, and with -cpuprofile writes a CPU profile on exit.
// Every adapter follows its library's documented usage, cited beside it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"go.opentelemetry.io/otel/metric"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
)

// options is what every adapter is given.
type options struct {
	addr      string
	compress  string // "", "no-takeover", "takeover"
	broadcast bool
	tls       *tlsFiles            // nil: plain
	meter     metric.MeterProvider // netkit-metrics: where netkit reports; nil: metrics off
}

// adapter starts a server and returns its configuration (printed) and a
// stop function.
type adapter func(o options) (config string, stop func(), err error)

var adapters = map[string]adapter{
	"tcp/netkit":        netkitTCP,
	"tcp/std":           stdTCP,
	"tcp/gnet":          gnetTCP,
	"tcp/nbio":          nbioTCP,
	"udp/netkit":        netkitUDP,
	"udp/std":           stdUDP,
	"udp/gnet":          gnetUDP,
	"udp/nbio":          nbioUDP,
	"ws/netkit":         netkitWS,
	"ws/netkit-metrics": netkitMetricsWS,
	"ws/netkit-hub":     netkitHubWS,
	"ws/gorilla":        gorillaWS,
	"ws/coder":          coderWS,
	"ws/gobwas":         gobwasWS,
	"ws/gws":            gwsWS,
	"ws/nbio":           nbioWS,
}

func main() {
	impl := flag.String("impl", "netkit", "implementation")
	proto := flag.String("proto", "tcp", "tcp, udp or ws")
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	compress := flag.String("compress", "", "ws: permessage-deflate: \"\" (off), no-takeover or takeover")
	broadcast := flag.Bool("broadcast", false, "ws: send every message to every other connection instead of echoing")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file on exit")
	memprofile := flag.String("memprofile", "", "on SIGUSR1, write a heap profile to this file and the goroutine profile to FILE.goroutines")
	useTLS := flag.Bool("tls", false, "ws: serve wss:// (TLS)")
	certFile := flag.String("tls-cert", "", "with -tls: PEM certificate file (default: a self-signed ECDSA P-256 certificate generated at start)")
	keyFile := flag.String("tls-key", "", "with -tls: PEM key file")
	gencert := flag.String("gencert", "", "write a self-signed ECDSA P-256 certificate and key to DIR/cert.pem and DIR/key.pem, and exit")
	flag.Parse()
	if *gencert != "" {
		c, k, err := genCert(*gencert)
		if err != nil {
			fmt.Fprintln(os.Stderr, "peerserve:", err)
			os.Exit(1)
		}
		fmt.Println(c, k)
		return
	}
	engineNote := ""
	name := *impl
	if strings.HasPrefix(name, "netkit") {
		var err error
		name, engineNote, err = netkitEngine(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "peerserve:", err)
			os.Exit(1)
		}
	}
	a, ok := adapters[*proto+"/"+name]
	if !ok {
		fmt.Fprintf(os.Stderr, "peerserve: no %s adapter for %s\n", *proto, *impl)
		os.Exit(2)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "peerserve:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	opts := options{addr: *addr, compress: *compress, broadcast: *broadcast}
	cleanupTLS := func() {}
	if *useTLS {
		if *proto != "ws" {
			fmt.Fprintln(os.Stderr, "peerserve: -tls is for -proto ws")
			os.Exit(2)
		}
		tf, cleanup, err := loadTLS(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "peerserve: tls:", err)
			os.Exit(1)
		}
		defer cleanup()
		cleanupTLS = cleanup
		opts.tls = tf
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	cfg, stop, err := a(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "peerserve: %s/%s: %v\n", *proto, *impl, err)
		cleanupTLS()
		os.Exit(1)
	}
	cfg += engineNote
	line, _ := json.Marshal(map[string]any{"impl": *impl, "proto": *proto, "addr": *addr, "pid": os.Getpid(),
		"gomaxprocs": runtime.GOMAXPROCS(0), "compress": *compress, "broadcast": *broadcast, "tls": *useTLS, "config": cfg})
	fmt.Println(string(line))
	// SIGUSR1 writes the heap profile (and goroutine count) while serving,
	// for memory diagnosis under load (for example W3's idle connections).
	usr := make(chan os.Signal, 1)
	signal.Notify(usr, syscall.SIGUSR1)
	for {
		select {
		case <-usr:
			if *memprofile == "" {
				continue
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(os.Stderr, "peerserve: before GC: heap in use %d KiB, idle %d KiB (released %d KiB), stacks %d KiB, sys %d KiB, %d GCs\n",
				ms.HeapInuse>>10, ms.HeapIdle>>10, ms.HeapReleased>>10, ms.StackInuse>>10, ms.Sys>>10, ms.NumGC)
			if f, err := os.Create(*memprofile); err == nil {
				runtime.GC()
				pprof.WriteHeapProfile(f)
				f.Close()
			}
			if f, err := os.Create(*memprofile + ".goroutines"); err == nil {
				pprof.Lookup("goroutine").WriteTo(f, 1)
				f.Close()
			}
			fmt.Fprintf(os.Stderr, "peerserve: %d goroutines\n", runtime.NumGoroutine())
			continue
		case <-sig:
		}
		break
	}
	stop()
}

// defaultEngine is the backend netkit's engine uses when NETKIT_ENGINE is
// unset (internal/engine's Backend zero value on Linux).
const defaultEngine = "event loop"

// netkitEngine maps a netkit implementation name to its adapter's name
// and sets NETKIT_ENGINE for it: NAME-goroutine and NAME-evloop run NAME
// on that backend, NAME on the default backend. The note is appended to
// the printed configuration.
func netkitEngine(impl string) (adapter, note string, err error) {
	if base, ok := strings.CutSuffix(impl, "-evloop"); ok {
		return base, "; engine: event loop (NETKIT_ENGINE=evloop)", os.Setenv("NETKIT_ENGINE", "evloop")
	}
	if base, ok := strings.CutSuffix(impl, "-goroutine"); ok {
		return base, "; engine: goroutine per connection (NETKIT_ENGINE=goroutine)", os.Setenv("NETKIT_ENGINE", "goroutine")
	}
	return impl, "; engine: default backend (" + defaultEngine + ", NETKIT_ENGINE unset)", os.Unsetenv("NETKIT_ENGINE")
}
