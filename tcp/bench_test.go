package tcp_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/netkit-go/netkit/tcp"
)

// readFull reads len(p) bytes with Client.Read.
func readFull(ctx context.Context, c *tcp.Client, p []byte) error {
	for got := 0; got < len(p); {
		n, err := c.Read(ctx, p[got:])
		got += n
		if err != nil && got < len(p) {
			return err
		}
	}
	return nil
}

// BenchmarkEcho is one 1 KiB round trip through a Listener per op.
func BenchmarkEcho(b *testing.B) {
	l := listen(b, tcp.EchoService, nil)
	c := dial(b, l, nil)
	ctx := context.Background()
	msg, buf := make([]byte, 1024), make([]byte, 1024)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.WriteBytes(ctx, msg); err != nil {
			b.Fatal(err)
		}
		if err := readFull(ctx, c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEchoParallel runs 1 KiB round trips on GOMAXPROCS*4 connections
// to one Listener.
func BenchmarkEchoParallel(b *testing.B) {
	l := listen(b, tcp.EchoService, nil)
	host, port := hostPort(b, l.Addr())
	b.SetBytes(1024)
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		c, err := tcp.NewClient(ctx, host, port, nil)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		msg, buf := make([]byte, 1024), make([]byte, 1024)
		for pb.Next() {
			if err := c.WriteBytes(ctx, msg); err != nil {
				b.Error(err)
				return
			}
			if err := readFull(ctx, c, buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

const bulkChunk = 64 << 10

// BenchmarkBulkThroughput writes 64 KiB chunks from a Client to a Listener
// whose service counts and discards them; the time includes the server
// receiving the last byte.
func BenchmarkBulkThroughput(b *testing.B) {
	var received atomic.Int64
	closed := make(chan struct{}, 1)
	l := listen(b, tcp.ServiceFunc(func(*tcp.Caller) (tcp.ConnectionService, error) {
		return onCloseFunc{tcp.BytesFunc(func(_ *tcp.Caller, data []byte) ([]byte, error) {
			received.Add(int64(len(data)))
			return nil, nil
		}), func() { closed <- struct{}{} }}, nil
	}), nil)
	c := dial(b, l, nil)
	ctx := context.Background()
	chunk := make([]byte, bulkChunk)
	b.SetBytes(bulkChunk)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := c.WriteBytes(ctx, chunk); err != nil {
			b.Fatal(err)
		}
		n++
	}
	c.CloseWrite()
	<-closed // the server read everything up to our EOF
	b.StopTimer()
	if got := received.Load(); got != int64(n)*bulkChunk {
		b.Fatalf("server received %d bytes, want %d", got, int64(n)*bulkChunk)
	}
}

// BenchmarkPlainLoopThroughput is BenchmarkBulkThroughput with a plain
// net.Conn read loop (64 KiB buffer) as the server: the baseline.
func BenchmarkPlainLoopThroughput(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	result := make(chan int64, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			result <- -1
			return
		}
		defer nc.Close()
		buf := make([]byte, bulkChunk)
		var total int64
		for {
			n, err := nc.Read(buf)
			total += int64(n)
			if err != nil {
				result <- total
				return
			}
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	chunk := make([]byte, bulkChunk)
	b.SetBytes(bulkChunk)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := nc.Write(chunk); err != nil {
			b.Fatal(err)
		}
		n++
	}
	nc.(*net.TCPConn).CloseWrite()
	got := <-result
	b.StopTimer()
	if got != int64(n)*bulkChunk {
		b.Fatalf("server received %d bytes, want %d", got, int64(n)*bulkChunk)
	}
}

// BenchmarkClientReadBytes reads a stream the server pushes as fast as it
// can, 64 KiB per op, with ReadBytes (a fresh slice per chunk) and with the
// zero-allocation Read.
func BenchmarkClientReadBytes(b *testing.B) {
	for _, mode := range []string{"ReadBytes", "Read"} {
		b.Run(mode, func(b *testing.B) {
			var wg sync.WaitGroup
			l := listen(b, tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
				wg.Add(1)
				go func() { // push until the client goes away
					defer wg.Done()
					chunk := make([]byte, bulkChunk)
					for c.WriteBytes(context.Background(), chunk) == nil {
					}
				}()
				return tcp.BytesFunc(func(*tcp.Caller, []byte) ([]byte, error) { return nil, nil }), nil
			}), nil)
			b.Cleanup(wg.Wait) // the pusher ends once the client closed
			c := dial(b, l, nil)
			ctx := context.Background()
			buf := make([]byte, bulkChunk)
			b.SetBytes(bulkChunk)
			b.ReportAllocs()
			pending := 0 // bytes still owed to the ops so far (negative: read ahead)
			for b.Loop() {
				for pending += bulkChunk; pending > 0; {
					var n int
					var err error
					if mode == "ReadBytes" {
						var p []byte
						p, err = c.ReadBytes(ctx)
						n = len(p)
					} else {
						n, err = c.Read(ctx, buf)
					}
					pending -= n
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			c.Close()
		})
	}
}
