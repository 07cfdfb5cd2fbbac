"""An RFC 8441 WebSocket client on Python's h2 (HTTP/2) and wsproto (framing).

It opens one TLS connection with ALPN h2, waits for the server's
SETTINGS_ENABLE_CONNECT_PROTOCOL, then opens several extended-CONNECT streams
at once on it. Stream 0 offers no extension; the others offer wsproto's
permessage-deflate (with context takeover, so every message after the first
is compressed against the previous ones). Each stream echoes text, binary, a
fragmented text, a 1 MiB binary and a highly compressible text, pings, then
closes with 1000.

Usage: python3 python_h2_client.py https://127.0.0.1:PORT/ws [streams]
NETKIT_CA names a PEM CA to trust; without it certificates are not checked.
Output: one JSON object per line: {"stream":N,"step":S,"ok":bool,...} for each
step, then {"done":true,"ok":B,"streams":N}. Exit status 0 only when every
step passed.
"""
import json
import os
import socket
import ssl
import sys
import time
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
import h2.settings
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.extensions import PerMessageDeflate


def out(**o):
    print(json.dumps(o), flush=True)


BIG = bytes((i * 31) & 0xFF for i in range(1 << 20))


class Stream:
    """One WebSocket on one HTTP/2 stream."""

    def __init__(self, index, sid, deflate):
        self.index = index
        self.sid = sid
        self.pmd = PerMessageDeflate() if deflate else None
        self.ws = None  # the wsproto Connection, after the 200
        self.steps = self.make_steps()
        self.step = 0
        self.parts = []  # of the message being received
        self.outbuf = b""  # WebSocket bytes not yet sent (flow control)
        self.closed_code = None
        self.ended = False
        self.end_ours = False  # send END_STREAM once the close frame is out
        self.ok = True

    def make_steps(self):
        i = self.index
        text = "hello h2 stream %d \u00e9\u4e16\U0001F600" % i
        ztext = ("z" * 50 + str(i)) * 2000
        return [
            ("text", [TextMessage(data=text)], (str, text)),
            ("binary", [BytesMessage(data=bytes([1, 2, 3, i]))], (bytes, bytes([1, 2, 3, i]))),
            (
                "fragmented",
                [
                    TextMessage(data="frag", message_finished=False),
                    TextMessage(data="men", message_finished=False),
                    TextMessage(data="ted", message_finished=True),
                ],
                (str, "fragmented"),
            ),
            ("1MiB", [BytesMessage(data=BIG)], (bytes, BIG)),
            ("deflate", [TextMessage(data=ztext)], (str, ztext)),
            ("ping", [Ping(payload=b"p%d" % i)], ("pong", b"p%d" % i)),
        ]

    def send_step(self):
        if self.step < len(self.steps):
            for ev in self.steps[self.step][1]:
                self.outbuf += self.ws.send(ev)
        else:
            self.outbuf += self.ws.send(CloseConnection(code=1000, reason="done"))

    def got(self, kind, value):
        name, _, (wkind, want) = self.steps[self.step]
        good = kind == wkind and value == want
        extra = {}
        if self.pmd is not None:
            extra["deflate"] = self.pmd.enabled()
            good = good and self.pmd.enabled()
        out(stream=self.index, step=name, ok=good, len=len(value), **extra)
        self.ok = self.ok and good
        self.step += 1
        self.send_step()

    def receive(self, data):
        self.ws.receive_data(data)
        for ev in self.ws.events():
            if isinstance(ev, (TextMessage, BytesMessage)):
                self.parts.append(ev.data)
                if ev.message_finished:
                    if isinstance(ev, TextMessage):
                        msg, kind = "".join(self.parts), str
                    else:
                        msg, kind = b"".join(self.parts), bytes
                    self.parts = []
                    self.got(kind, msg)
            elif isinstance(ev, Pong):
                self.got("pong", bytes(ev.payload))
            elif isinstance(ev, Ping):
                self.outbuf += self.ws.send(ev.response())
            elif isinstance(ev, CloseConnection):
                self.closed_code = ev.code
                self.end_ours = True


def main(url, nstreams):
    u = urlsplit(url)
    ctx = ssl.create_default_context(cafile=os.environ.get("NETKIT_CA"))
    if not os.environ.get("NETKIT_CA"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection((u.hostname, u.port), timeout=10)
    sock = ctx.wrap_socket(raw, server_hostname=u.hostname)
    if sock.selected_alpn_protocol() != "h2":
        out(done=True, ok=False, error="ALPN chose %r" % sock.selected_alpn_protocol())
        return False
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    # A large connection window, so that 1 MiB echoes on several streams flow.
    conn.increment_flow_control_window(16 << 20)
    sock.sendall(conn.data_to_send())

    streams = {}
    settings_seen = False
    deadline = time.monotonic() + 30

    def flush():
        for s in streams.values():
            while s.outbuf:
                window = min(conn.local_flow_control_window(s.sid), conn.max_outbound_frame_size)
                if window <= 0:
                    break
                chunk, s.outbuf = s.outbuf[:window], s.outbuf[window:]
                conn.send_data(s.sid, chunk)
            if s.end_ours and not s.outbuf:
                # Our half of the stream: the TCP FIN of RFC 6455 (RFC 8441 §6).
                s.end_ours = False
                conn.end_stream(s.sid)
        data = conn.data_to_send()
        if data:
            sock.sendall(data)

    def open_streams():
        for i in range(nstreams):
            sid = conn.get_next_available_stream_id()
            s = Stream(i, sid, deflate=i > 0)
            headers = [
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", "https"),
                (":path", u.path or "/"),
                (":authority", u.netloc),
                ("sec-websocket-version", "13"),
            ]
            if s.pmd:
                headers.append(("sec-websocket-extensions", s.pmd.name + "; " + s.pmd.offer()))
            conn.send_headers(sid, headers)
            streams[sid] = s

    while time.monotonic() < deadline:
        if streams and all(s.ended for s in streams.values()):
            break
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        if not data:
            out(done=True, ok=False, error="connection closed by the server")
            return False
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RemoteSettingsChanged) and not settings_seen:
                settings_seen = True
                cp = conn.remote_settings.enable_connect_protocol
                out(step="settings", ok=cp == 1, enableConnectProtocol=cp)
                if cp != 1:
                    out(done=True, ok=False, error="no SETTINGS_ENABLE_CONNECT_PROTOCOL")
                    return False
                open_streams()
            elif isinstance(ev, h2.events.ResponseReceived):
                s = streams[ev.stream_id]
                h = dict(ev.headers)
                status = h.get(":status")
                ext = h.get("sec-websocket-extensions", "")
                good = status == "200" and "sec-websocket-accept" not in h
                exts = []
                if s.pmd and "permessage-deflate" in ext:
                    s.pmd.finalize(ext)
                    exts = [s.pmd]
                good = good and (bool(exts) == (s.pmd is not None))
                out(stream=s.index, step="handshake", ok=good, status=status, extensions=ext)
                if not good:
                    s.ok, s.ended = False, True
                    conn.reset_stream(ev.stream_id)
                    continue
                s.ws = Connection(ConnectionType.CLIENT, extensions=exts)
                s.send_step()
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                s = streams[ev.stream_id]
                if s.ws is not None and ev.data:
                    s.receive(ev.data)
            elif isinstance(ev, h2.events.StreamEnded):
                s = streams[ev.stream_id]
                good = s.closed_code == 1000 and s.step == len(s.steps)
                out(stream=s.index, step="close", ok=good, code=s.closed_code)
                s.ok = s.ok and good
                s.ended = True
            elif isinstance(ev, h2.events.StreamReset):
                s = streams[ev.stream_id]
                out(stream=s.index, step="reset", ok=False, error_code=int(ev.error_code))
                s.ok, s.ended = False, True
            elif isinstance(ev, h2.events.ConnectionTerminated):
                out(done=True, ok=False, error="GOAWAY %s" % ev.error_code)
                return False
        flush()
    ok = bool(streams) and all(s.ok and s.ended for s in streams.values())
    if not all(s.ended for s in streams.values()):
        out(done=True, ok=False, error="timeout")
        return False
    conn.close_connection()
    sock.sendall(conn.data_to_send())
    sock.close()
    out(done=True, ok=ok, streams=len(streams))
    return ok


if __name__ == "__main__":
    try:
        passed = main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3)
    except Exception as e:  # one JSON line, as for every other outcome
        out(done=True, ok=False, error="%s: %s" % (type(e).__name__, e))
        passed = False
    sys.exit(0 if passed else 1)
