// An RFC 8441 WebSocket client on Node's built-in http2 module (no npm
// module): it waits for the server's SETTINGS_ENABLE_CONNECT_PROTOCOL, opens
// several extended-CONNECT streams on one HTTP/2 connection and does the
// WebSocket framing itself (masked client frames, permessage-deflate with
// zlib raw deflate). Each stream echoes text, binary, a fragmented text, a
// 1 MiB binary, a deflated text, a ping, then closes with 1000.
//
// Usage: node node_h2_client.js https://127.0.0.1:PORT/ws [streams]
// NETKIT_CA names a PEM CA to trust; without it certificates are not checked.
// Output: one JSON object per line: {"stream":N,"step":S,"ok":true|false,...}
// for each step, then {"done":true,"ok":B,"streams":N}. Exit status 0 only
// when every step passed.
'use strict';
const http2 = require('http2');
const zlib = require('zlib');
const crypto = require('crypto');
const fs = require('fs');

const url = new URL(process.argv[2]);
const nstreams = parseInt(process.argv[3] || '3', 10);
const out = (o) => console.log(JSON.stringify(o));
const fail = (msg) => { out({ done: true, ok: false, error: msg }); process.exit(1); };
setTimeout(() => fail('timeout'), 30000).unref();

const tlsOpts = process.env.NETKIT_CA ? { ca: fs.readFileSync(process.env.NETKIT_CA) } : { rejectUnauthorized: false };
const session = http2.connect(url.origin, tlsOpts);
session.on('error', (e) => fail('session: ' + e.message));

// WS is one WebSocket on one HTTP/2 stream.
class WS {
  constructor(stream) {
    this.stream = stream;
    this.buf = Buffer.alloc(0);
    this.frags = null; // fragments of the message being received
    this.events = []; // received messages and control frames
    this.waiters = [];
    this.deflate = false;
    stream.on('data', (chunk) => this.onData(chunk));
    stream.on('end', () => this.push({ op: -1, why: 'end' }));
    stream.on('close', () => this.push({ op: -1, why: 'closed rst=' + stream.rstCode }));
    stream.on('error', (e) => this.push({ op: -1, why: 'error ' + e.message }));
  }
  push(ev) {
    const w = this.waiters.shift();
    if (w) w(ev); else this.events.push(ev);
  }
  next() {
    if (this.events.length) return Promise.resolve(this.events.shift());
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  onData(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0, rsv1 = (b[0] & 0x40) !== 0, op = b[0] & 0x0f;
      if (b[1] & 0x80) { this.push({ op: -1, why: 'masked server frame' }); this.buf = Buffer.alloc(0); return; }
      let n = b[1] & 0x7f, off = 2;
      if (n === 126) { if (b.length < 4) return; n = b.readUInt16BE(2); off = 4; }
      else if (n === 127) { if (b.length < 10) return; n = Number(b.readBigUInt64BE(2)); off = 10; }
      if (b.length < off + n) return;
      const payload = b.subarray(off, off + n);
      this.buf = b.subarray(off + n);
      if (op >= 8) { this.push({ op, data: Buffer.from(payload) }); continue; }
      if (op !== 0) this.frags = { op, rsv1, parts: [], frames: 0 };
      if (!this.frags) { this.push({ op: -1, why: 'continuation without a message' }); return; }
      this.frags.parts.push(Buffer.from(payload));
      this.frags.frames++;
      if (!fin) continue;
      let data = Buffer.concat(this.frags.parts);
      if (this.frags.rsv1) {
        // RFC 7692 §7.2.2: append 00 00 ff ff and inflate; the server keeps
        // no context (server_no_context_takeover was offered).
        data = zlib.inflateRawSync(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      }
      this.push({ op: this.frags.op, data, compressed: this.frags.rsv1, frames: this.frags.frames });
      this.frags = null;
    }
  }
  send(op, payload, { fin = true, rsv1 = false } = {}) {
    payload = Buffer.from(payload);
    const n = payload.length;
    let h;
    if (n < 126) { h = Buffer.alloc(2); h[1] = 0x80 | n; }
    else if (n < 65536) { h = Buffer.alloc(4); h[1] = 0x80 | 126; h.writeUInt16BE(n, 2); }
    else { h = Buffer.alloc(10); h[1] = 0x80 | 127; h.writeBigUInt64BE(BigInt(n), 2); }
    h[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | op;
    const key = crypto.randomBytes(4);
    const masked = Buffer.alloc(n);
    for (let i = 0; i < n; i++) masked[i] = payload[i] ^ key[i & 3];
    this.stream.write(Buffer.concat([h, key, masked]));
  }
  // sendDeflated sends one compressed message (no client context).
  sendDeflated(op, payload) {
    let z = zlib.deflateRawSync(Buffer.from(payload), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    z = z.subarray(0, z.length - 4); // the 00 00 ff ff tail
    this.send(op, z, { rsv1: true });
  }
}

const big = Buffer.alloc(1 << 20);
for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;

function same(ev, op, data) {
  return ev.op === op && Buffer.compare(ev.data, Buffer.from(data)) === 0;
}

async function runStream(i) {
  const headers = {
    ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https',
    ':path': url.pathname + url.search, ':authority': url.host,
    'sec-websocket-version': '13',
    'sec-websocket-extensions': 'permessage-deflate; client_no_context_takeover; server_no_context_takeover',
  };
  const stream = session.request(headers, { endStream: false });
  const ws = new WS(stream);
  const resp = await new Promise((resolve) => {
    stream.on('response', (h) => resolve(h));
    stream.on('close', () => resolve(null));
  });
  if (!resp || resp[':status'] !== 200) {
    out({ stream: i, step: 'handshake', ok: false, status: resp && resp[':status'] });
    return false;
  }
  const ext = resp['sec-websocket-extensions'] || '';
  ws.deflate = ext.includes('permessage-deflate');
  const accept = resp['sec-websocket-accept'];
  out({ stream: i, step: 'handshake', ok: accept === undefined, status: 200, extensions: ext, accept: accept || null });
  if (accept !== undefined) return false; // RFC 8441 §5: no Sec-WebSocket-Accept

  const text = 'hello h2 stream ' + i + ' \u00e9\u4e16\ud83d\ude00';
  const ztext = ('z'.repeat(50) + i).repeat(2000);
  const steps = [
    ['text', () => ws.send(1, text), (ev) => same(ev, 1, text)],
    ['binary', () => ws.send(2, [1, 2, 3, i]), (ev) => same(ev, 2, [1, 2, 3, i])],
    ['fragmented', () => { ws.send(1, 'frag', { fin: false }); ws.send(0, 'men', { fin: false }); ws.send(0, 'ted'); },
      (ev) => same(ev, 1, 'fragmented')],
    ['1MiB', () => ws.send(2, big), (ev) => same(ev, 2, big)],
    ['deflate', () => ws.sendDeflated(1, ztext), (ev) => ws.deflate && same(ev, 1, ztext) && ev.compressed],
    ['ping', () => ws.send(9, 'p' + i), (ev) => same(ev, 10, 'p' + i)],
  ];
  let ok = true;
  for (const [name, send, check] of steps) {
    send();
    const ev = await ws.next();
    const good = ev.op !== -1 && check(ev);
    out({ stream: i, step: name, ok: good, op: ev.op, len: ev.data ? ev.data.length : 0, compressed: !!ev.compressed, why: ev.why });
    ok = ok && good;
    if (ev.op === -1) return false;
  }
  ws.send(8, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('done')]));
  const ev = await ws.next();
  const code = ev.op === 8 && ev.data.length >= 2 ? ev.data.readUInt16BE(0) : -1;
  stream.end(); // our half of the stream: the TCP FIN of RFC 6455 (RFC 8441 §6)
  const end = await ws.next();
  out({ stream: i, step: 'close', ok: code === 1000 && end.op === -1, code, end: end.why });
  return ok && code === 1000;
}

session.once('remoteSettings', async (settings) => {
  if (!settings.enableConnectProtocol) fail('server did not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL');
  out({ step: 'settings', ok: true, enableConnectProtocol: true, alpn: session.alpnProtocol });
  const results = await Promise.all([...Array(nstreams).keys()].map((i) => runStream(i).catch((e) => {
    out({ stream: i, step: 'exception', ok: false, error: String(e && e.stack || e) });
    return false;
  })));
  const ok = results.every(Boolean);
  out({ done: true, ok, streams: nstreams });
  session.close(() => process.exit(ok ? 0 : 1));
});
