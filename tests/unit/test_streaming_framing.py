"""The streaming protocols' framing: SPDY/3.1 frames and sessions, WebSocket channels.

Each side runs over a real socket pair; the peer is built from the same framing
(SPDY) or from wsproto's client side (WebSocket).
"""
import json
import socket
import struct
import threading

from wsproto import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong

from minikube_py.apiserver.streaming import remotecommand, spdy
from minikube_py.apiserver.streaming.websocket import WebSocket, handshake_response


# ------------------------------------------------------------------ SPDY
def test_dictionary_is_the_spdy3_one():
    d = spdy.DICTIONARY
    assert len(d) == 1423
    assert d.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert b"\x00\x00\x00\x06status\x00\x00\x00\x06200 OK" in d
    assert d.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


def test_header_blocks_share_one_zlib_stream_per_direction():
    sender, receiver = spdy.HeaderCodec(), spdy.HeaderCodec()
    first = {"streamtype": "data", "port": "80", "requestid": "0"}
    second = {"streamtype": "error", "port": "80", "requestid": "1"}
    assert receiver.decode(sender.encode(first)) == first
    assert receiver.decode(sender.encode(second)) == second
    assert receiver.decode(sender.encode({})) == {}


def test_frame_reader_splits_a_byte_stream_fed_in_pieces():
    wire = spdy.control_frame(spdy.PING, 0, struct.pack(">I", 7)) + spdy.data_frame(3, b"hello", fin=True)
    reader = spdy.FrameReader()
    frames = []
    for i in range(len(wire)):
        reader.feed(wire[i:i + 1])
        frames += list(reader.frames())
    assert frames == [(True, spdy.PING, 0, struct.pack(">I", 7)), (False, 3, spdy.FLAG_FIN, b"hello")]


class SocketTransport:
    def __init__(self, sock):
        self.sock = sock

    def recv(self):
        return self.sock.recv(65536)

    def sendall(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


def _read_frames(sock, reader, count):
    frames = []
    while len(frames) < count:
        reader.feed(sock.recv(65536))
        frames += list(reader.frames())
    return frames


def test_session_replies_to_streams_echoes_pings_and_carries_data():
    server_sock, client = socket.socketpair()
    streams = []
    session = spdy.Session(SocketTransport(server_sock), streams.append)
    threading.Thread(target=session.serve, daemon=True).start()
    codec, reader = spdy.HeaderCodec(), spdy.FrameReader()

    syn = struct.pack(">IIBB", 1, 0, 0, 0) + codec.encode({"streamtype": "data", "port": "80"})
    client.sendall(spdy.control_frame(spdy.SYN_STREAM, 0, syn))
    client.sendall(spdy.control_frame(spdy.PING, 0, struct.pack(">I", 42)))
    (reply, pong) = _read_frames(client, reader, 2)
    assert reply[:2] == (True, spdy.SYN_REPLY) and struct.unpack(">I", reply[3][:4]) == (1,)
    assert codec.decode(reply[3][4:]) == {}                 # the client's side of the zlib stream
    assert pong == (True, spdy.PING, 0, struct.pack(">I", 42))
    stream, = streams
    assert stream.headers == {"streamtype": "data", "port": "80"}

    client.sendall(spdy.data_frame(1, b"ping?") + spdy.data_frame(1, b"", fin=True))
    assert stream.read(5) == b"ping?"
    assert stream.read(5) == b""                            # FIN: end of what the client sends
    stream.write(b"pong!")
    stream.close()
    assert _read_frames(client, reader, 2) == [(False, 1, 0, b"pong!"), (False, 1, spdy.FLAG_FIN, b"")]

    client.close()                                          # the connection ends: so does the session
    assert session.closed.wait(5)


# ------------------------------------------------------------------ WebSocket
def _client_pair():
    server_sock, client_sock = socket.socketpair()
    return WebSocket(server_sock), client_sock, Connection(ConnectionType.CLIENT)


def _client_events(sock, conn, count):
    events = []
    while len(events) < count:
        conn.receive_data(sock.recv(65536))
        events += list(conn.events())
    return events


def test_handshake_answer_carries_accept_token_and_protocol():
    head = handshake_response("dGhlIHNhbXBsZSBub25jZQ==", "v5.channel.k8s.io").decode()
    assert head.startswith("HTTP/1.1 101 Switching Protocols\r\n")
    assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head   # RFC 6455's example
    assert head.endswith("Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n")


def test_websocket_messages_fragments_pings_and_close():
    ws, sock, client = _client_pair()
    sock.sendall(client.send(BytesMessage(data=b"\x00abc", message_finished=False))
                 + client.send(BytesMessage(data=b"def")))
    assert ws.recv_message() == b"\x00abcdef"
    sock.sendall(client.send(Ping(payload=b"hb")) + client.send(BytesMessage(data=b"")) +
                 client.send(BytesMessage(data=b"\x01x")))
    assert ws.recv() == b"\x01x"                            # the byte view skips empty messages
    assert isinstance(_client_events(sock, client, 1)[0], Pong)
    ws.send_message(b"\x01out")
    assert _client_events(sock, client, 1)[0].data == b"\x01out"
    sock.sendall(client.send(CloseConnection(code=1000)))
    assert ws.recv_message() is None and ws.closed


class LineProcess:
    """A stand-in process for the channel logic: echoes stdin to stdout, upper-cased."""

    def __init__(self):
        self.stdin = []
        self.closed = threading.Event()
        self.sizes = []

    def output(self):
        yield remotecommand.STDERR, b"started\n"
        self.closed.wait(5)
        yield remotecommand.STDOUT, b"".join(self.stdin).upper()

    def write_stdin(self, data):
        self.stdin.append(data)

    def close_stdin(self):
        self.closed.set()

    def resize(self, width, height):
        self.sizes.append((width, height))

    def exit_code(self):
        return 3

    def close(self):
        pass


def test_channel_session_v5_stdin_close_and_exit_code():
    ws, sock, client = _client_pair()
    process = LineProcess()
    opts = remotecommand.Options(stdin=True, command=("sh", "-c", "exit 3"))
    done = threading.Thread(target=remotecommand.serve, args=(ws, "v5.channel.k8s.io", process, opts))
    done.start()
    sock.sendall(client.send(BytesMessage(data=b"\x00hello ")) + client.send(BytesMessage(data=b"\x00world")))
    sock.sendall(client.send(BytesMessage(data=bytes([255, 0]))))      # v5: stdin is done
    events = _client_events(sock, client, 4)
    assert [e.data for e in events[:2]] == [b"\x02started\n", b"\x01HELLO WORLD"]
    status = json.loads(events[2].data[1:])
    assert events[2].data[0] == 3 and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert isinstance(events[3], CloseConnection)
    done.join(5)


def test_options_and_statuses():
    opts = remotecommand.Options.from_query({"command": ["ls", "-l"], "stdin": ["true"], "tty": ["true"],
                                             "stderr": ["true"]})
    assert opts.command == ("ls", "-l") and opts.stdin and opts.tty and not opts.stderr  # a TTY merges stderr
    assert remotecommand.status_for(0) == {"metadata": {}, "status": "Success"}
