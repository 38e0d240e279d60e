"""The HTTP server under the Flask app: cheroot, with a thread pool that grows.

Every watch (each kubelet, informer and `kubectl get -w`) holds one request open for
minutes, so a fixed pool of a few threads would be used up by watches and starve
ordinary requests. cheroot hands idle keep-alive connections back to a selector
(they cost no thread) and we let its pool grow whenever every worker is busy. A busy
connection keeps its worker for a moment instead (KeepAliveConnection).
"""
from __future__ import annotations

import errno
import io
import logging
import select
import socket
import ssl

from cheroot import server as cheroot_server
from cheroot import wsgi
from cheroot.workers.threadpool import ThreadPool

log = logging.getLogger(__name__)

# cheroot keeps only the last of a repeated header unless it is listed as a comma-
# separated one; the streaming upgrades repeat these (kubectl offers each protocol
# version in a header of its own), and the kubelet must see them all.
# (`kubectl --as-group a --as-group b` repeats Impersonate-Group likewise.)
for _name in (b"X-Stream-Protocol-Version", b"Sec-Websocket-Protocol", b"Impersonate-Group"):
    if _name not in cheroot_server.comma_separated_headers:
        cheroot_server.comma_separated_headers.append(_name)


class ElasticThreadPool(ThreadPool):
    """A cheroot ThreadPool that adds workers when none is idle (up to `max`)."""

    GROW_BY = 16

    def put(self, obj):
        # Grow when the connections already waiting would use up the idle workers: a
        # worker held by a watch may never come back to take this one.
        room = self.max - len(self._threads)
        if self.idle <= self._queue.qsize() and room > 0:
            self.grow(int(min(self.GROW_BY, room)))
        super().put(obj)


class StreamingGateway(wsgi.Gateway_10):
    """WSGI gateway that sends headers on an empty chunk and exposes the client socket.

    - A watch yields b"" first: the client gets the 200 headers at once, before any
      event (kubectl and client-go wait for them).
    - Watches write events straight to `minikube_py.socket` (see watch.py), framed as
      chunks when `minikube_py.request.chunked_write` says so, and peek at it to notice
      a client that went away even when no event is due.
    - An upgraded connection (exec, attach, port-forward) takes the socket over with
      `minikube_py.hijack()` (see streaming/upgrade.py).
    - A watch that has sent its initial state parks its connection with
      `minikube_py.park(adopt)` (see watchhub.py): its worker thread goes back to the pool.
    """

    hijacked = False

    def get_environ(self):
        env = super().get_environ()
        env["minikube_py.socket"] = self.req.conn.socket
        env["minikube_py.request"] = self.req
        env["minikube_py.hijack"] = self.hijack
        env["minikube_py.park"] = self.park
        return env

    def park(self, adopt):
        """Give the connection, once this worker is done with it, to ``adopt(conn)``.

        The response's headers are out; cheroot writes nothing more (not even the last
        chunk) and does not close the connection: the new owner ends the response and
        gives the connection back (``conn.resume()``) or closes it (``conn.close()``).
        """
        req = self.req
        req.chunked_write = False
        req.close_connection = True
        req.conn.adopt = adopt

    def hijack(self):
        """Lend the app the client's socket: ``(socket, bytes already read past the head)``.

        cheroot then writes nothing more on it (``respond`` drops the app's response)
        and closes it once the app returns, instead of waiting for a next request on
        it: the keep-alive machinery never sees it again.
        """
        from .streaming.upgrade import buffered_bytes
        req = self.req
        self.hijacked = True
        req.close_connection = True
        sock = req.conn.socket
        sock.settimeout(None)
        return sock, buffered_bytes(req.conn.rfile, sock)

    def respond(self):
        response = self.req.server.wsgi_app(self.env, self.start_response)
        if self.hijacked:
            self.req.sent_headers = True      # the app answered on the socket itself
            if hasattr(response, "close"):
                response.close()
            return
        try:
            for chunk in response:
                if not chunk:
                    self.req.ensure_headers_sent()
                    continue
                self.write(chunk)
        finally:
            self.req.ensure_headers_sent()
            if hasattr(response, "close"):
                response.close()


# Go's http.Server reads at most 1 MiB of request line and headers (DefaultMaxHeaderBytes);
# cheroot reads any amount unless told (a 100 MB URL would sit in memory).
MAX_HEADER_BYTES = 1 << 20
NEXT_REQUEST_WAIT = 0.25
PARKED_BUFFER = 64


class SocketReader(io.BufferedReader):
    """cheroot's socket reader on the C io module (cheroot's own is pure-Python _pyio).

    Every request line and header is a readline(); in C they cost a fraction.
    """

    bytes_read = 0      # cheroot's statistics (off by default) would count here

    def __init__(self, sock, bufsize):
        super().__init__(socket.SocketIO(sock, "rb"), bufsize)
        self._sock = sock
        self.raw_buffer_size = bufsize

    def has_data(self) -> bool:
        """Is a next request already here? Peek without waiting: a non-blocking read at most."""
        timeout = self._sock.gettimeout()
        self._sock.settimeout(0)
        try:
            return bool(self.peek(1))
        except (BlockingIOError, OSError, ValueError):
            return False
        finally:
            self._sock.settimeout(timeout)


class SocketWriter:
    """cheroot's socket writer without the _pyio layers: every write goes out at once."""

    bytes_written = 0

    def __init__(self, sock):
        self._sock = sock
        self.closed = False

    def write(self, data) -> int:
        try:
            self._sock.sendall(data)
        except ssl.SSLError as err:
            # A TLS write that failed (the client left mid-stream) stays pending in
            # OpenSSL, which then refuses the next one ("bad length"): to cheroot that
            # is the broken pipe it already knows to shrug off, as on a plain socket.
            raise BrokenPipeError(errno.EPIPE, f"TLS connection broken: {err}") from err
        return len(data)

    def flush(self):
        pass

    def close(self):
        self.closed = True


def socket_file(sock, mode="r", bufsize=io.DEFAULT_BUFFER_SIZE):
    return SocketReader(sock, bufsize) if "r" in mode else SocketWriter(sock)


class KeepAliveConnection(cheroot_server.HTTPConnection):
    """A keep-alive connection whose worker waits a moment for the next request itself.

    cheroot hands a connection back to its selector thread after every response; the
    next request then wakes that thread, which queues the connection for a worker,
    which wakes in turn: two thread handoffs per request, about 0.2 ms of CPU under
    the GIL. A busy client (a controller, the scheduler binding pods) sends its next
    request within a millisecond or so, so the worker that served it first waits up to
    NEXT_REQUEST_WAIT on the socket and serves it directly. Idle connections still go
    back to the selector, so they cost no thread.
    """

    adopt = None        # a parked watch's: takes the connection instead of closing it

    def __init__(self, server, sock, makefile=None):
        super().__init__(server, sock, socket_file)

    def close(self):
        adopt, self.adopt = self.adopt, None
        if adopt is None:
            super().close()
            return
        if not self.rfile.has_data():
            # A parked watch waits for minutes: its 8 KB read buffer waits with it, for
            # thousands of watches, unless it is swapped for a small one until `resume`.
            self.rfile.close()          # (the socket stays open)
            self.rfile = socket_file(self.socket, "rb", PARKED_BUFFER)
        adopt(self)

    def resume(self):
        """From the owner of a parked connection: its response is complete; serve the next."""
        if self.rfile.raw_buffer_size == PARKED_BUFFER and not self.rfile.has_data():
            self.rfile.close()
            self.rfile = socket_file(self.socket, "rb", self.rbufsize)
        self.server.put_conn(self)

    def communicate(self):
        while True:
            if not super().communicate():
                return False
            if not self.rfile.has_data():
                poller = select.poll()      # not select.select: fds above 1024 are common here
                poller.register(self.socket, select.POLLIN)
                if not poller.poll(NEXT_REQUEST_WAIT * 1000):
                    return True


def tls_context(cert_file: str, key_file: str, client_ca_file: str | None = None) -> ssl.SSLContext:
    """The serving side of TLS, as kube-apiserver's --tls-cert-file, --tls-private-key-file and
    --client-ca-file: a client certificate is asked for but optional; one that is offered
    must verify against the client CA (else the handshake fails), and then names the user
    (auth/authenticator.py X509Authenticator)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        ctx.load_verify_locations(client_ca_file)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    # TLS 1.3 session tickets arrive after the handshake; an idle client connection
    # holding unread ones polls readable and looks dropped (client/connections.py)
    ctx.num_tickets = 0
    return ctx


def tls_adapter(ctx: ssl.SSLContext, cert_file: str, key_file: str):
    """cheroot's builtin TLS adapter, on our context (its own verifies no client)."""
    from cheroot.ssl.builtin import BuiltinSSLAdapter
    adapter = BuiltinSSLAdapter(cert_file, key_file)
    adapter.context = ctx
    return adapter


def make_server(app, host: str, port: int, min_threads: int = 16, max_threads: int = 16000,
                tls: tuple[str, str, str | None] | None = None):
    """`tls`: (cert file, key file, client CA file or None) to serve https.

    Every watch holds a worker thread for as long as it is open (a goroutine in
    kube-apiserver), and the inflight filter leaves long-running requests uncounted as
    kube-apiserver does, so the pool's bound must sit above the number of watches: each
    kubelet watches its pods, and 5,000 hollow nodes are 5,000 watches. Threads are made
    only as connections need them.
    """
    # request_queue_size is the listen backlog (the kernel caps it at somaxconn, 4096 here):
    # 5,000 hollow kubelets open 10,000 watch connections as they start, faster than the
    # one selector thread accepts them; with 1,024 their SYNs overflowed and 27,392 list/
    # watch tries timed out connecting in 2 minutes, with 4,096 1,070 did.
    server = wsgi.Server((host, port), app, numthreads=min_threads, max=max_threads,
                         request_queue_size=4096, timeout=60, shutdown_timeout=1,
                         server_name="minikube-py-apiserver")
    server.gateway = StreamingGateway
    server.ConnectionClass = KeepAliveConnection
    # cheroot keeps only 10 idle keep-alive connections by default and closes every other
    # one after its response; a cluster has a connection or more per component and node
    # (100 hollow nodes: 100+), which would then reconnect on every request. No limit at
    # all (None), not a big one: with a limit cheroot counts its connections under its
    # selector's lock on every response, the lock its selector thread holds while it
    # walks every idle connection (8.5% of the apiserver's GIL samples in a 300-node
    # burst of pods).
    server.keep_alive_conn_limit = None
    server.max_request_header_size = MAX_HEADER_BYTES
    server.requests = ElasticThreadPool(server, min=min_threads, max=max_threads)
    if tls is not None:
        server.ssl_adapter = tls_adapter(tls_context(*tls), tls[0], tls[1])
    return server
