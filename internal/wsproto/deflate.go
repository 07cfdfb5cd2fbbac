package wsproto

import (
	"compress/flate"
	"io"
	"sync"

	"github.com/netkit-go/netkit/internal/bufpool"
)

// deflateTail is what RFC 7692 §7.2.1 strips from the end of every
// compressed message: the empty stored block of a sync flush.
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// inflateTail is appended to a compressed message before inflating: the
// stripped sync-flush block (§7.2.2), then an empty final stored block, so
// that flate's reader ends with io.EOF instead of wanting more input.
var inflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// deflateWindow is the LZ77 window of deflate, 32 KiB.
const deflateWindow = 32 << 10

// Compressor compresses outbound messages for permessage-deflate. Create one
// per connection with NewCompressor (or NewCompressorLevel); it is not safe
// for concurrent use (the connection's write lock covers it). Without
// context takeover it holds no flate state between messages: a pooled
// flate.Writer is taken for each message and given back. With context
// takeover it owns one flate.Writer until Close.
type Compressor struct {
	level     int
	threshold int
	takeover  bool
	w         *pooledWriter // owned, with context takeover
}

// pooledWriter is a flate.Writer bound to its own append-only sink.
type pooledWriter struct {
	fw   *flate.Writer
	sink appendWriter
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// writerPools holds pooledWriters per level, index level-flate.HuffmanOnly.
var writerPools [flate.BestCompression - flate.HuffmanOnly + 1]sync.Pool

func getWriter(level int) *pooledWriter {
	if pw, _ := writerPools[level-flate.HuffmanOnly].Get().(*pooledWriter); pw != nil {
		return pw
	}
	pw := new(pooledWriter)
	pw.fw, _ = flate.NewWriter(&pw.sink, level) // level is valid
	return pw
}

func putWriter(level int, pw *pooledWriter) {
	pw.sink.b = nil
	writerPools[level-flate.HuffmanOnly].Put(pw)
}

// NewCompressor returns the Compressor for the side role of a connection
// that negotiated p, with the level and threshold of cfg. Context takeover
// is what p allows this side (server_no_context_takeover for a server,
// client_no_context_takeover for a client); a window limit below 15 bits for
// this side selects flate.HuffmanOnly.
func NewCompressor(p DeflateParams, role Role, cfg DeflateConfig) *Compressor {
	noTakeover, bits := p.ServerNoContextTakeover, p.ServerMaxWindowBits
	if role == RoleClient {
		noTakeover, bits = p.ClientNoContextTakeover, p.ClientMaxWindowBits
	}
	level := cfg.Level
	if bits != 0 && bits < 15 {
		level = flate.HuffmanOnly
	}
	return NewCompressorLevel(level, cfg.Threshold, !noTakeover)
}

// NewCompressorLevel returns a Compressor with an explicit flate level
// (0 or invalid: flate.BestSpeed), threshold (0: DefaultCompressionThreshold,
// negative: none) and context takeover.
func NewCompressorLevel(level, threshold int, contextTakeover bool) *Compressor {
	if level < flate.HuffmanOnly || level > flate.BestCompression || level == flate.NoCompression {
		level = flate.BestSpeed
	}
	switch {
	case threshold == 0:
		threshold = DefaultCompressionThreshold
	case threshold < 0:
		threshold = 0
	}
	return &Compressor{level: level, threshold: threshold, takeover: contextTakeover}
}

// Threshold returns the size below which Compress leaves messages alone.
func (c *Compressor) Threshold() int { return c.threshold }

// ContextTakeover reports whether c keeps its context between messages.
func (c *Compressor) ContextTakeover() bool { return c.takeover }

// Compress appends the permessage-deflate payload of message msg to dst (the
// deflate data with the trailing 0x00 0x00 0xff 0xff removed, RFC 7692
// §7.2.1) and returns it with compressed == true; the frame carrying it must
// have RSV1 set on its first frame. Messages shorter than the threshold,
// and, without context takeover, messages that deflate would not make
// smaller, are left alone: Compress returns dst unchanged and false, and the
// message goes out uncompressed with RSV1 clear.
func (c *Compressor) Compress(dst, msg []byte) (out []byte, compressed bool) {
	if len(msg) < c.threshold {
		return dst, false
	}
	pw := c.w
	if pw == nil {
		pw = getWriter(c.level)
		if c.takeover {
			c.w = pw
			pw.fw.Reset(&pw.sink)
		}
	}
	if !c.takeover {
		pw.fw.Reset(&pw.sink)
	}
	start := len(dst)
	pw.sink.b = dst
	pw.fw.Write(msg) // appendWriter never fails
	pw.fw.Flush()
	out = pw.sink.b
	pw.sink.b = nil
	if !c.takeover {
		putWriter(c.level, pw)
	}
	if n := len(out); n-start >= 4 && [4]byte(out[n-4:]) == deflateTail {
		out = out[:n-4]
	}
	if !c.takeover && len(out)-start >= len(msg) {
		return dst, false
	}
	return out, true
}

// Close releases the flate.Writer kept for context takeover. The Compressor
// must not be used afterwards.
func (c *Compressor) Close() {
	if c.w != nil {
		putWriter(c.level, c.w)
		c.w = nil
	}
}

// Decompressor inflates inbound permessage-deflate messages with a hard cap
// on the output, so a small compressed message cannot expand into unbounded
// memory (a decompression bomb is a 1009 *ProtocolError). Create one per
// connection with NewDecompressor; it is not safe for concurrent use.
// Without context takeover (the peer agreed to reset its context per
// message) a pooled flate reader is used for each message and nothing is
// kept in between; with it, the last 32 KiB of output are kept as the
// dictionary for the next message.
//
// compress/flate pulls its input, so a message is inflated once it is
// complete: Decompress takes the whole compressed payload, or Write
// collects the payloads of fragments (copying them into a pooled buffer)
// and Finish inflates them.
type Decompressor struct {
	takeover bool
	window   []byte // last output, up to 32 KiB, with context takeover
	in       buffer // compressed fragments collected by Write
}

// inflater is a flate reader bound to its own source.
type inflater struct {
	zr  io.ReadCloser
	src inflateSource
}

var inflaterPool sync.Pool

func getInflater() *inflater {
	if f, _ := inflaterPool.Get().(*inflater); f != nil {
		return f
	}
	f := new(inflater)
	f.zr = flate.NewReader(&f.src)
	return f
}

// inflateSource reads a message and then inflateTail; it implements
// flate.Reader (io.ByteReader) so that flate does not wrap it in a
// bufio.Reader.
type inflateSource struct {
	b    []byte
	tail []byte
}

func (s *inflateSource) reset(msg []byte) { s.b, s.tail = msg, inflateTail }

func (s *inflateSource) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		if len(s.tail) == 0 {
			return 0, io.EOF
		}
		s.b, s.tail = s.tail, nil
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

func (s *inflateSource) ReadByte() (byte, error) {
	if len(s.b) == 0 {
		if len(s.tail) == 0 {
			return 0, io.EOF
		}
		s.b, s.tail = s.tail, nil
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c, nil
}

// NewDecompressor returns the Decompressor for the side role of a
// connection that negotiated p: the peer keeps its context unless p says
// otherwise (client_no_context_takeover for a server's peer,
// server_no_context_takeover for a client's).
func NewDecompressor(p DeflateParams, role Role) *Decompressor {
	noTakeover := p.ClientNoContextTakeover
	if role == RoleClient {
		noTakeover = p.ServerNoContextTakeover
	}
	return NewDecompressorTakeover(!noTakeover)
}

// NewDecompressorTakeover returns a Decompressor for a peer that does
// (contextTakeover) or does not keep its compression context.
func NewDecompressorTakeover(contextTakeover bool) *Decompressor {
	return &Decompressor{takeover: contextTakeover}
}

// ContextTakeover reports whether d keeps a window between messages.
func (d *Decompressor) ContextTakeover() bool { return d.takeover }

// Decompress inflates one whole compressed message (the payloads of its
// frames, concatenated, as received) and appends the result to dst. If the
// output would exceed max bytes (max < 0: no limit) it stops and returns a
// *ProtocolError with code 1009; invalid deflate data is a *ProtocolError
// with code 1007. msg is not modified or retained.
func (d *Decompressor) Decompress(dst, msg []byte, max int64) ([]byte, error) {
	out := buffer{b: dst}
	err := d.decompress(&out, msg, max, false)
	return out.b, err
}

// Write collects the payload of one fragment of a compressed message; it is
// copied, so p may be reused at once.
func (d *Decompressor) Write(p []byte) { d.in.append(p) }

// Buffered returns the number of compressed bytes collected by Write.
func (d *Decompressor) Buffered() int { return len(d.in.b) }

// Finish inflates what Write collected, as Decompress does, and drops it.
func (d *Decompressor) Finish(dst []byte, max int64) ([]byte, error) {
	out := buffer{b: dst}
	err := d.decompress(&out, d.in.b, max, false)
	d.in.release()
	return out.b, err
}

// Reset drops collected fragments and the context-takeover window, as for a
// new connection.
func (d *Decompressor) Reset() {
	d.in.release()
	d.window = d.window[:0]
}

// decompress inflates msg into out. pooled says out may borrow bufpool
// memory as it grows.
func (d *Decompressor) decompress(out *buffer, msg []byte, max int64, pooled bool) error {
	if len(msg) == 0 {
		// Not valid deflate on its own (a compressor's empty message is at
		// least 0x00), but unambiguous: an empty message.
		return nil
	}
	f := getInflater()
	defer inflaterPool.Put(f)
	f.src.reset(msg)
	var dict []byte
	if d.takeover {
		dict = d.window
	}
	if err := f.zr.(flate.Resetter).Reset(&f.src, dict); err != nil {
		return errBadDeflate
	}
	start := len(out.b)
	// Read at most max+1 bytes so that going over is seen without
	// buffering more.
	limit := -1
	if max >= 0 && int64(start)+max+1 <= int64(int(^uint(0)>>1)) {
		limit = start + int(max) + 1
	}
	// Output is inflated in place while out fits the largest pooled size;
	// beyond it, into a list of pooled chunks of that size, copied into out
	// (sized once, exactly) at the end. So out never grows by doubling with
	// copies and garbage: a deflate bomb stopped at the limit has cost at
	// most max bytes of pooled chunks plus one chunk.
	inPlace := bufpool.MaxSize
	if limit >= 0 && limit < inPlace {
		inPlace = limit
	}
	var (
		chunks []*[]byte
		cn     int // bytes in the last chunk
		extra  int // bytes in all chunks
	)
	release := func() {
		for _, c := range chunks {
			bufpool.Put(c)
		}
		chunks = nil
		f.src.reset(nil)
	}
	for {
		var space []byte
		switch {
		case chunks == nil && len(out.b) < cap(out.b):
			space = out.b[len(out.b):cap(out.b)]
		case chunks == nil && cap(out.b) < inPlace:
			if pooled {
				out.grow(1, inPlace)
			} else {
				growPlain(out, inPlace)
			}
			space = out.b[len(out.b):cap(out.b)]
		default:
			if chunks == nil || cn == len(*chunks[len(chunks)-1]) {
				chunks = append(chunks, bufpool.GetMapped(bufpool.Classes-1))
				cn = 0
			}
			space = (*chunks[len(chunks)-1])[cn:]
		}
		if room := limit - len(out.b) - extra; limit >= 0 && len(space) > room {
			space = space[:room]
		}
		n, err := f.zr.Read(space)
		if chunks == nil {
			out.b = out.b[:len(out.b)+n]
		} else {
			cn += n
			extra += n
		}
		if limit >= 0 && len(out.b)+extra >= limit {
			release()
			return errDecompressTooBig
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			release()
			return errBadDeflate
		}
	}
	if chunks != nil {
		if pooled {
			out.reserve(extra)
		} else {
			nb := make([]byte, len(out.b), len(out.b)+extra)
			copy(nb, out.b)
			out.b = nb
		}
		for i, c := range chunks {
			k := len(*c)
			if i == len(chunks)-1 {
				k = cn
			}
			out.b = append(out.b, (*c)[:k]...)
		}
	}
	release()
	if d.takeover {
		d.keepWindow(out.b[start:])
	}
	return nil
}

// growPlain grows out with ordinary allocations: at least double, at least
// 512 bytes, at most limit in total (limit < 0: no limit).
func growPlain(out *buffer, limit int) {
	c := 2 * cap(out.b)
	if c < 512 {
		c = 512
	}
	if limit >= 0 && c > limit {
		c = limit
	}
	if c <= len(out.b) {
		c = len(out.b) + 1
	}
	nb := make([]byte, len(out.b), c)
	copy(nb, out.b)
	out.b = nb
}

// keepWindow appends p to the context-takeover window, keeping the last 32
// KiB.
func (d *Decompressor) keepWindow(p []byte) {
	if d.window == nil {
		d.window = make([]byte, 0, deflateWindow)
	}
	if len(p) >= deflateWindow {
		d.window = append(d.window[:0], p[len(p)-deflateWindow:]...)
		return
	}
	if over := len(d.window) + len(p) - deflateWindow; over > 0 {
		d.window = d.window[:copy(d.window, d.window[over:])]
	}
	d.window = append(d.window, p...)
}
