package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"time"

	"github.com/lesismal/nbio"
	"github.com/netkit-go/netkit/tcp"
	"github.com/netkit-go/netkit/udp"
	"github.com/panjf2000/gnet/v2"
)

func hostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	var port int
	_, err = fmt.Sscanf(p, "%d", &port)
	return h, port, err
}

// netkit TCP: a Listener whose ConnectionService returns the data it is
// given as the reply (netkit's tcp package documentation: the reply is
// written back before the next callback; the buffer is borrowed).
type nkEcho struct{}

func (nkEcho) OnBytes(c *tcp.Caller, data []byte) ([]byte, error) { return data, nil }

func netkitTCP(o options) (string, func(), error) {
	h, p, err := hostPort(o.addr)
	if err != nil {
		return "", nil, err
	}
	l, err := tcp.NewListener(p, &tcp.ListenerConfig{LocalHost: h})
	if err != nil {
		return "", nil, err
	}
	if err := l.Attach(tcp.ServiceFunc(func(*tcp.Caller) (tcp.ConnectionService, error) { return nkEcho{}, nil })); err != nil {
		return "", nil, err
	}
	if err := l.Start(); err != nil {
		return "", nil, err
	}
	return "tcp.Listener, default ListenerConfig, OnBytes returns the input as the reply",
		func() { l.ImmediateStop() }, nil
}

// std net TCP: a goroutine per connection copying the connection to
// itself, as the net package's Listener example does (io.Copy(c, c)).
func stdTCP(o options) (string, func(), error) {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return "", nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	return "net.Listen + goroutine per conn, io.Copy(c, c) (net package Listener example)", func() { ln.Close() }, nil
}

// gnet: the README's echo server: OnTraffic reads everything buffered with
// c.Next(-1) and writes it back with c.Write inside the event loop.
// Multicore follows GOMAXPROCS (peers.md §7: Multicore=false under
// GOMAXPROCS=1).
type gnetEcho struct {
	gnet.BuiltinEventEngine
	eng gnet.Engine
}

func (g *gnetEcho) OnBoot(eng gnet.Engine) gnet.Action { g.eng = eng; return gnet.None }

func (g *gnetEcho) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

func gnetServe(network string, o options) (string, func(), error) {
	g := &gnetEcho{}
	multicore := runtime.GOMAXPROCS(0) > 1
	errc := make(chan error, 1)
	go func() { errc <- gnet.Run(g, network+"://"+o.addr, gnet.WithMulticore(multicore)) }()
	// gnet.Run blocks; wait until the address answers or Run failed.
	if err := waitListening(network, o.addr, errc); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("gnet.Run %s, WithMulticore(%v), OnTraffic: c.Next(-1) + c.Write (README echo)", network, multicore),
		func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			g.eng.Stop(ctx)
		}, nil
}

func waitListening(network, addr string, errc chan error) error {
	for range 200 {
		select {
		case err := <-errc:
			return err
		default:
		}
		if network == "udp" {
			// A bound UDP port cannot be probed without a reply; give the
			// loop a moment, then trust it.
			time.Sleep(100 * time.Millisecond)
			select {
			case err := <-errc:
				return err
			default:
				return nil
			}
		}
		if c, err := net.DialTimeout(network, addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("server did not start listening")
}

func gnetTCP(o options) (string, func(), error) { return gnetServe("tcp", o) }
func gnetUDP(o options) (string, func(), error) { return gnetServe("udp", o) }

// nbio: the README's Quick Start / nbio-examples echo and udp servers:
// an Engine with OnData writing a copy of the data back.
func nbioServe(network string, o options) (string, func(), error) {
	g := nbio.NewEngine(nbio.Config{Network: network, Addrs: []string{o.addr}})
	g.OnData(func(c *nbio.Conn, data []byte) {
		c.Write(append([]byte(nil), data...))
	})
	if err := g.Start(); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("nbio.NewEngine(Network %s, default NPoller), OnData: c.Write(copy) (README quick start)", network),
		func() { g.Stop() }, nil
}

func nbioTCP(o options) (string, func(), error) { return nbioServe("tcp", o) }
func nbioUDP(o options) (string, func(), error) { return nbioServe("udp", o) }

// netkit UDP: a Listener with the udp.Echo service (the package doc's
// three-line echo server).
func netkitUDP(o options) (string, func(), error) {
	h, p, err := hostPort(o.addr)
	if err != nil {
		return "", nil, err
	}
	l, err := udp.NewListener(p, &udp.ListenerConfig{LocalHost: h})
	if err != nil {
		return "", nil, err
	}
	if err := l.Attach(udp.Echo); err != nil {
		return "", nil, err
	}
	if err := l.Start(); err != nil {
		return "", nil, err
	}
	return "udp.Listener, default ListenerConfig (recvmmsg batches), udp.Echo", func() { l.ImmediateStop() }, nil
}

// std net UDP: one goroutine looping ReadFrom/WriteTo on a net.UDPConn
// (the net.PacketConn usage of the net package documentation).
func stdUDP(o options) (string, func(), error) {
	pc, err := net.ListenPacket("udp", o.addr)
	if err != nil {
		return "", nil, err
	}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	return "net.ListenPacket, one goroutine ReadFrom/WriteTo, 64 KiB buffer", func() { pc.Close() }, nil
}
