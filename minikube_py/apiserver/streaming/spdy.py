"""SPDY/3.1 framing and a small server-side session: what ``kubectl port-forward`` speaks.

kubectl multiplexes one connection into streams with SPDY/3.1 (Go's moby/spdystream),
either on the raw upgraded socket (``Upgrade: SPDY/3.1``) or tunnelled inside WebSocket
binary messages (subprotocol ``SPDY/3.1+portforward.k8s.io``, kubectl >= 1.31). There is
no maintained SPDY library for Python, so this module implements the part of the draft
spec (draft-mbelshe-httpbis-spdy-00) a server needs:

* frames: control frames (SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY,
  HEADERS, WINDOW_UPDATE) and DATA frames, with the FIN flag;
* header blocks: ``count, (len name, len value)*``, zlib-compressed with the SPDY/3
  dictionary, one zlib stream per direction for the whole connection;
* a Session that answers every SYN_STREAM with a SYN_REPLY (the client waits for it),
  echoes PINGs (kubectl pings every 10 s), and hands each stream to a callback.

Flow control (WINDOW_UPDATE) is not enforced: spdystream ignores it too.
"""
from __future__ import annotations

import logging
import struct
import threading
import zlib

log = logging.getLogger(__name__)

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
RST_CANCEL = 5

# The SPDY/3 header dictionary (spec section 2.6.10.1): length-prefixed words, then text.
_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base "
    "content-encoding content-language content-length content-location content-md5 "
    "content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
    "server te trailer transfer-encoding upgrade user-agent vary via warning "
    "www-authenticate method get status 200|OK version HTTP/1.1 url public set-cookie "
    "keep-alive origin").replace(" ", "\n").replace("|", " ").split("\n")
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()


class ProtocolError(Exception):
    pass


# ----------------------------------------------------------------- frames
class HeaderCodec:
    """One direction's header compression: a zlib stream that lives as long as the connection."""

    def __init__(self):
        self._out = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, zdict=DICTIONARY)
        self._in = zlib.decompressobj(zdict=DICTIONARY)

    def encode(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            n, v = name.lower().encode(), str(value).encode()
            raw += struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v
        return self._out.compress(raw) + self._out.flush(zlib.Z_SYNC_FLUSH)

    def decode(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._in.decompress(block)
        except zlib.error as e:
            raise ProtocolError(f"bad header block: {e}") from None
        count, = struct.unpack_from(">I", raw)
        pos, headers = 4, {}
        for _ in range(count):
            n, = struct.unpack_from(">I", raw, pos)
            name = raw[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            v, = struct.unpack_from(">I", raw, pos)
            headers[name] = raw[pos + 4:pos + 4 + v].decode()   # several values: NUL-joined
            pos += 4 + v
        return headers


def control_frame(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


def data_frame(stream_id: int, data: bytes, fin: bool = False) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF,
                       ((FLAG_FIN if fin else 0) << 24) | len(data)) + data


class FrameReader:
    """Splits a byte stream into frames: ``feed(bytes)`` then iterate ``frames()``.

    Each frame is ``(control, kind_or_stream_id, flags, payload)``.
    """

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def frames(self):
        while len(self._buf) >= 8:
            first, second = struct.unpack_from(">II", self._buf)
            length = second & 0xFFFFFF
            if len(self._buf) < 8 + length:
                return
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            flags = second >> 24
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                yield True, first & 0xFFFF, flags, payload
            else:
                yield False, first & 0x7FFFFFFF, flags, payload


# ----------------------------------------------------------------- session
class Stream:
    """One SPDY stream: ``read()`` what the client sends, ``write()``/``close()`` our half."""

    def __init__(self, session: "Session", stream_id: int, headers: dict[str, str]):
        self.session = session
        self.id = stream_id
        self.headers = headers
        self._chunks: list[bytes] = []
        self._remote_done = False
        self._closed = False
        self._cond = threading.Condition()

    def _feed(self, data: bytes, fin: bool) -> None:
        with self._cond:
            if data:
                self._chunks.append(data)
            if fin:
                self._remote_done = True
            self._cond.notify_all()

    def read(self, timeout: float | None = None) -> bytes:
        """The next bytes from the client; b"" once it finished (FIN, reset or connection end)."""
        with self._cond:
            self._cond.wait_for(lambda: self._chunks or self._remote_done, timeout)
            return self._chunks.pop(0) if self._chunks else b""

    def write(self, data: bytes) -> None:
        for i in range(0, len(data), 1 << 16):
            self.session.send(data_frame(self.id, data[i:i + (1 << 16)]))

    def close(self) -> None:
        """Half-close: FIN on our side (the client then reads EOF)."""
        if not self._closed:
            self._closed = True
            self.session.send(data_frame(self.id, b"", fin=True))

    def reset(self) -> None:
        self._closed = True
        self.session.send(control_frame(RST_STREAM, 0, struct.pack(">II", self.id, RST_CANCEL)))


class Session:
    """The server side of one SPDY connection over a byte transport.

    ``transport`` has ``recv() -> bytes`` (b"" at the end), ``sendall(bytes)`` and
    ``close()``. ``on_stream(stream)`` is called (in the reader thread: it must not
    block) for each stream the client opens, after its SYN_REPLY went out.
    """

    def __init__(self, transport, on_stream):
        self.transport = transport
        self.on_stream = on_stream
        self.streams: dict[int, Stream] = {}
        self.headers = HeaderCodec()
        self._send_lock = threading.Lock()
        self.closed = threading.Event()

    def send(self, frame: bytes) -> None:
        if self.closed.is_set():
            return
        with self._send_lock:
            try:
                self.transport.sendall(frame)
            except OSError:
                self.closed.set()

    def serve(self) -> None:
        """Read frames until the client goes away (or says GOAWAY)."""
        reader = FrameReader()
        try:
            while not self.closed.is_set():
                data = self.transport.recv()
                if not data:
                    break
                reader.feed(data)
                for control, kind, flags, payload in reader.frames():
                    if not self._dispatch(control, kind, flags, payload):
                        return
        except (OSError, ProtocolError, struct.error) as e:
            log.debug("spdy session ended: %s", e)
        finally:
            self.close()

    def _dispatch(self, control: bool, kind: int, flags: int, payload: bytes) -> bool:
        if not control:
            stream = self.streams.get(kind)
            if stream is not None:
                stream._feed(payload, bool(flags & FLAG_FIN))
            return True
        if kind == SYN_STREAM:
            stream_id = struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF
            stream = Stream(self, stream_id, self.headers.decode(payload[10:]))
            self.streams[stream_id] = stream
            with self._send_lock:     # header blocks share one zlib stream: keep them in order
                reply = control_frame(SYN_REPLY, 0, struct.pack(">I", stream_id) + self.headers.encode({}))
                self.transport.sendall(reply)
            if flags & FLAG_FIN:
                stream._feed(b"", True)
            self.on_stream(stream)
        elif kind == RST_STREAM:
            stream = self.streams.get(struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF)
            if stream is not None:
                stream._closed = True
                stream._feed(b"", True)
        elif kind == PING:
            self.send(control_frame(PING, 0, payload))
        elif kind == GOAWAY:
            return False
        elif kind == HEADERS:
            self.headers.decode(payload[4:])      # keep the zlib stream in step
        return True                               # SETTINGS, WINDOW_UPDATE: nothing to do

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for stream in list(self.streams.values()):
            stream._feed(b"", True)
        try:
            self.transport.close()
        except OSError:
            pass
