package cli

import (
	"context"
	"fmt"
)

// serve runs the seed samples' servers: the tcp module's echo listener, an
// echo on the udp sample port, and the websocket seed's service at /ws with
// a chat page at /.
func serve(e *env, args []string) error {
	f := newFlags(e, "serve", "[flags]")
	sf := addServerFlags(f)
	tcpPort := f.Int("tcp-port", 3000, "port of the TCP echo service (0: any free port)")
	udpPort := f.Int("udp-port", 48826, "port of the UDP echo service (0: any free port)")
	wsPort := f.Int("ws-port", 21003, "port of the WebSocket echo service at /ws and its page at / (0: any free port)")
	maxDatagram := addDatagramFlag(f)
	tf := addTLSFlags(f)
	if _, err := f.parse(args); err != nil {
		return err
	}
	tc, err := tf.config(f)
	if err != nil {
		return err
	}
	stopMetrics, err := sf.setup(f)
	if err != nil {
		return err
	}
	defer stopMetrics()
	maxD, err := maxDatagram()
	if err != nil {
		return err
	}
	var stops []func(context.Context) error
	// If a later server cannot start, stop the ones already running.
	fail := func(what string, err error) error {
		for _, stop := range stops {
			stop(context.Background())
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	tl, err := startTCP(e, *sf.host, *tcpPort, tcpService(e, true))
	if err != nil {
		return fail("tcp echo", err)
	}
	stops = append(stops, tl.GracefulStop)
	ul, err := startUDP(e, *sf.host, *udpPort, maxD, udpService(e, true))
	if err != nil {
		return fail("udp echo", err)
	}
	stops = append(stops, ul.GracefulStop)
	wl, err := startWS(e, *sf.host, *wsPort, "/ws", echoPage, wsService(e, "/ws", true), tc)
	if err != nil {
		return fail("ws echo", err)
	}
	stops = append(stops, wl.GracefulStop)
	e.log.Info("ready; Ctrl-C stops")
	err = waitAndStop(e, stops...)
	e.log.Info("stopped")
	return err
}
