package netkit_test

// The conventions of docs/conventions.md, checked over the face packages:
// by reflection on their types and values, by walking their exported
// declarations (go/ast), and by provoking the documented error causes on
// real loopback sockets.

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netkit-go/netkit/hub"
	"github.com/netkit-go/netkit/hub/natsbroker"
	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/socket"
	"github.com/netkit-go/netkit/tcp"
	"github.com/netkit-go/netkit/udp"
	"github.com/netkit-go/netkit/websocket"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// faces are the public packages whose API follows the conventions (hub
// and its NATS broker too: they are public API over websocket).
var faces = []string{"tcp", "udp", "socket", "websocket", "tlsconfig", "hub", "hub/natsbroker"}

// exportedMethods returns, per exported type of the package in dir, its
// exported methods' declarations.
func exportedMethods(t *testing.T, dir string) map[string]map[string]*ast.FuncDecl {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]*ast.FuncDecl{}
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Recv == nil || !fd.Name.IsExported() {
					continue
				}
				rt := fd.Recv.List[0].Type
				if s, ok := rt.(*ast.StarExpr); ok {
					rt = s.X
				}
				id, ok := rt.(*ast.Ident)
				if !ok || !id.IsExported() {
					continue
				}
				if out[id.Name] == nil {
					out[id.Name] = map[string]*ast.FuncDecl{}
				}
				out[id.Name][fd.Name.Name] = fd
			}
		}
	}
	return out
}

// TestConventionNames: every ID() returns a string; no type offers both a
// Go address accessor and its Ballerina twin (RemoteAddr/RemoteAddress,
// LocalAddr/LocalAddress).
func TestConventionNames(t *testing.T) {
	ids := 0
	for _, dir := range faces {
		for typ, ms := range exportedMethods(t, dir) {
			if fd, ok := ms["ID"]; ok {
				ids++
				res := fd.Type.Results
				if fd.Type.Params.NumFields() != 0 || res.NumFields() != 1 || !isIdent(res.List[0].Type, "string") {
					t.Errorf("%s.%s.ID: want func() string", dir, typ)
				}
			}
			for _, pair := range [][2]string{{"RemoteAddr", "RemoteAddress"}, {"LocalAddr", "LocalAddress"}} {
				if ms[pair[0]] != nil && ms[pair[1]] != nil {
					t.Errorf("%s.%s has both %s and %s: keep one", dir, typ, pair[0], pair[1])
				}
			}
		}
	}
	if ids < 4 { // tcp.Caller, websocket.Conn, websocket.Client, socket.Caller, socket.UdpClient
		t.Errorf("found %d ID methods: is the walk broken?", ids)
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// TestConventionSharedErrors: the lifecycle errors and the panic type are
// one value and one type, whatever the face.
func TestConventionSharedErrors(t *testing.T) {
	for name, vals := range map[string][]error{
		"ErrAlreadyStarted":  {tcp.ErrAlreadyStarted, udp.ErrAlreadyStarted, socket.ErrAlreadyStarted, websocket.ErrAlreadyStarted},
		"ErrServiceAttached": {tcp.ErrServiceAttached, udp.ErrServiceAttached, socket.ErrServiceAttached, websocket.ErrServiceAttached},
		"ErrNotStarted":      {tcp.ErrNotStarted, socket.ErrNotStarted, websocket.ErrNotStarted},
	} {
		for i, v := range vals {
			if v == nil || v != vals[0] {
				t.Errorf("%s of face %d is %v, want the shared %v", name, i, v, vals[0])
			}
		}
	}
	pt := []reflect.Type{
		reflect.TypeFor[tcp.PanicError](), reflect.TypeFor[udp.PanicError](),
		reflect.TypeFor[socket.PanicError](), reflect.TypeFor[websocket.PanicError](),
	}
	for _, p := range pt[1:] {
		if p != pt[0] {
			t.Errorf("PanicError %v is not %v", p, pt[0])
		}
	}
}

// TestConventionListener: every face's Listener has the same lifecycle
// methods with the same signatures.
func TestConventionListener(t *testing.T) {
	want := map[string]reflect.Type{
		"Start":         reflect.TypeFor[func() error](),
		"GracefulStop":  reflect.TypeFor[func(context.Context) error](),
		"ImmediateStop": reflect.TypeFor[func() error](),
		"Addr":          reflect.TypeFor[func() net.Addr](),
		"Done":          reflect.TypeFor[func() <-chan struct{}](),
		"Err":           reflect.TypeFor[func() error](),
	}
	for _, lt := range []reflect.Type{
		reflect.TypeFor[*tcp.Listener](), reflect.TypeFor[*udp.Listener](),
		reflect.TypeFor[*socket.Listener](), reflect.TypeFor[*websocket.Listener](),
	} {
		for name, sig := range want {
			m, ok := lt.MethodByName(name)
			if !ok {
				t.Errorf("%v has no %s", lt, name)
				continue
			}
			// m.Type has the receiver first; compare the rest.
			if got := methodSig(m.Type); got != sig.String() {
				t.Errorf("%v.%s is %s, want %s", lt, name, got, sig)
			}
		}
		if _, ok := lt.MethodByName("Attach"); !ok {
			t.Errorf("%v has no Attach", lt)
		}
	}
	// A hub is no listener, but it stops as one does.
	ht := reflect.TypeFor[*hub.Hub]()
	for _, name := range []string{"GracefulStop", "ImmediateStop"} {
		m, ok := ht.MethodByName(name)
		if !ok {
			t.Errorf("%v has no %s", ht, name)
		} else if got := methodSig(m.Type); got != want[name].String() {
			t.Errorf("%v.%s is %s, want %s", ht, name, got, want[name])
		}
	}
}

// methodSig renders a method type without its receiver, as a func type.
func methodSig(mt reflect.Type) string {
	in := make([]reflect.Type, 0, mt.NumIn()-1)
	for i := 1; i < mt.NumIn(); i++ {
		in = append(in, mt.In(i))
	}
	out := make([]reflect.Type, 0, mt.NumOut())
	for i := 0; i < mt.NumOut(); i++ {
		out = append(out, mt.Out(i))
	}
	return reflect.FuncOf(in, out, mt.IsVariadic()).String()
}

// TestConventionCallerShape: connection-oriented callbacks get a pointer
// (*tcp.Caller, *socket.Caller, *websocket.Conn); udp's Caller is a small
// value (a sender's address and the listener), by design.
func TestConventionCallerShape(t *testing.T) {
	for _, c := range []struct {
		fn   any
		kind reflect.Kind
	}{
		{tcp.BytesFunc(nil), reflect.Pointer},
		{socket.ReadReadyFunc(nil), reflect.Pointer},
		{websocket.ServiceFuncs{}.OnTextMessage, reflect.Pointer},
		{udp.BytesFunc(nil), reflect.Struct},
	} {
		ft := reflect.TypeOf(c.fn)
		if k := ft.In(0).Kind(); k != c.kind {
			t.Errorf("%v: caller is a %v, want %v", ft, k, c.kind)
		}
	}
}

// TestConventionAttachTwice: a second Attach is ErrServiceAttached on every
// face (websocket: per path); Detach then Attach replaces.
func TestConventionAttachTwice(t *testing.T) {
	tl, err := tcp.NewListener(0, &tcp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ul, err := udp.NewListener(0, &udp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := socket.NewListener(0, &socket.ListenerConfig{Interface: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	wl, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	readReady := socket.ReadReadyFunc(func(c *socket.Caller) {})
	for _, f := range []struct {
		name   string
		attach func() error
		detach func() error
	}{
		{"tcp", func() error { return tl.Attach(tcp.EchoService) }, tl.Detach},
		{"udp", func() error { return ul.Attach(udp.Echo) }, ul.Detach},
		{"socket", func() error { return sl.Attach(readReady) }, nil},
		{"websocket", func() error { return wl.Attach("/ws", websocket.Static(websocket.Echo), nil) },
			func() error { return wl.Detach("/ws") }},
	} {
		if err := f.attach(); err != nil {
			t.Fatalf("%s: first Attach: %v", f.name, err)
		}
		if err := f.attach(); !errors.Is(err, tcp.ErrServiceAttached) {
			t.Errorf("%s: second Attach: %v, want ErrServiceAttached", f.name, err)
		}
		if f.detach != nil {
			if err := f.detach(); err != nil {
				t.Fatalf("%s: Detach: %v", f.name, err)
			}
			if err := f.attach(); err != nil {
				t.Errorf("%s: Attach after Detach: %v", f.name, err)
			}
		}
	}
}

// TestErrorCauses: the causes the doc.go files promise are reachable with
// errors.Is on every face: a port in use (syscall.EADDRINUSE), a refused
// connection (syscall.ECONNREFUSED), a closed connection (net.ErrClosed),
// and a timeout (os.ErrDeadlineExceeded).
func TestErrorCauses(t *testing.T) {
	ctx := netkittest.Context(t)
	quiet := netkittest.DiscardLogger

	// A TCP port in use and a refused one.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	go func() { // accepts and holds connections: reads on them time out
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := busy.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	refusedPort := netkittest.ClosedPort(t)
	// A UDP port in use.
	busyUDP, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busyUDP.Close()
	busyUDPPort := busyUDP.LocalAddr().(*net.UDPAddr).Port

	check := func(face, what string, err, target error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("%s: %s: %v (%T) does not match %v", face, what, err, err, target)
		}
	}

	t.Run("tcp", func(t *testing.T) {
		l, _ := tcp.NewListener(busyPort, &tcp.ListenerConfig{LocalHost: "127.0.0.1", Logger: quiet})
		l.Attach(tcp.EchoService)
		check("tcp", "port in use", l.Start(), syscall.EADDRINUSE)
		_, err := tcp.NewClient(ctx, "127.0.0.1", refusedPort, nil)
		check("tcp", "refused", err, syscall.ECONNREFUSED)
		c, err := tcp.NewClient(ctx, "127.0.0.1", busyPort, &tcp.ClientConfig{Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ReadBytes(ctx)
		check("tcp", "read timeout", err, os.ErrDeadlineExceeded)
		c.Close()
		check("tcp", "write after Close", c.WriteBytes(ctx, []byte("x")), net.ErrClosed)
	})
	t.Run("udp", func(t *testing.T) {
		l, _ := udp.NewListener(busyUDPPort, &udp.ListenerConfig{LocalHost: "127.0.0.1", Logger: quiet})
		l.Attach(udp.Echo)
		check("udp", "port in use", l.Start(), syscall.EADDRINUSE)
		_, err := udp.NewClient(ctx, &udp.ClientConfig{LocalHost: "127.0.0.1", LocalPort: busyUDPPort})
		check("udp", "client port in use", err, syscall.EADDRINUSE)
		c, err := udp.NewClient(ctx, &udp.ClientConfig{LocalHost: "127.0.0.1", Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ReceiveDatagram(ctx)
		check("udp", "receive timeout", err, os.ErrDeadlineExceeded)
		c.Close()
		to, _ := udp.ResolveAddr("127.0.0.1", busyUDPPort)
		check("udp", "send after Close", c.SendDatagram(ctx, udp.Datagram{Addr: to, Data: []byte("x")}), net.ErrClosed)
	})
	t.Run("socket", func(t *testing.T) {
		l, _ := socket.NewListener(busyPort, &socket.ListenerConfig{Interface: "127.0.0.1", Logger: quiet})
		l.Attach(socket.ReadReadyFunc(func(c *socket.Caller) {}))
		check("socket", "port in use", l.Start(), syscall.EADDRINUSE)
		_, err := socket.NewUdpClient(ctx, &socket.Address{Host: "127.0.0.1", Port: busyUDPPort}, nil)
		check("socket", "UdpClient port in use", err, syscall.EADDRINUSE)
		_, err = socket.NewClient(ctx, socket.ClientConfig{Host: "127.0.0.1", Port: refusedPort})
		check("socket", "refused", err, syscall.ECONNREFUSED)
		c, err := socket.NewClient(ctx, socket.ClientConfig{Host: "127.0.0.1", Port: busyPort, ReadTimeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Read(ctx, socket.ReadAvailable)
		check("socket", "read timeout", err, os.ErrDeadlineExceeded)
		c.Close()
		_, err = c.Write(ctx, []byte("x"))
		check("socket", "write after Close", err, net.ErrClosed)
	})
	t.Run("websocket", func(t *testing.T) {
		l, _ := websocket.NewListener(busyPort, &websocket.ListenerConfig{Host: "127.0.0.1", Logger: quiet})
		check("websocket", "port in use", l.Start(), syscall.EADDRINUSE)
		_, err := websocket.Dial(ctx, "ws://127.0.0.1:"+strconv.Itoa(refusedPort)+"/", nil)
		check("websocket", "refused", err, syscall.ECONNREFUSED)
		check("websocket", "refused", err, websocket.ErrConnection)

		srv, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		srv.Attach("/", websocket.Static(&websocket.ServiceFuncs{}), nil) // never sends
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		defer srv.ImmediateStop()
		c, err := websocket.Dial(ctx, "ws://"+srv.Addr().String()+"/", &websocket.ClientConfig{ReadTimeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ReadTextMessage(ctx)
		check("websocket", "read timeout", err, os.ErrDeadlineExceeded)
		if err := c.Close(ctx, 1000, ""); err != nil {
			t.Fatal(err)
		}
		check("websocket", "write after Close", c.WriteTextMessage(ctx, []byte("x")), net.ErrClosed)
	})
	t.Run("hub", func(t *testing.T) {
		h := hub.New(&hub.Config{Logger: quiet})
		if err := h.ImmediateStop(); err != nil {
			t.Fatal(err)
		}
		check("hub", "publish after stop", h.Publish(ctx, "t", websocket.TextMessage, []byte("x")), net.ErrClosed)
		check("hub", "publish after stop", h.Publish(ctx, "t", websocket.TextMessage, []byte("x")), hub.ErrClosed)
		_, err := natsbroker.Connect(ctx, &natsbroker.Config{URL: "nats://127.0.0.1:" + strconv.Itoa(refusedPort), Timeout: time.Second})
		check("hub/natsbroker", "refused", err, syscall.ECONNREFUSED)
	})
}
