"""exec and attach sessions: a process's stdio carried over the channel protocol.

The kubelet starts the process (``docker exec``, or attaches to the container's
main process) and hands it here with the upgraded WebSocket. Its stdout/stderr go
out on channels 1 and 2; what the client sends on channel 0 goes to its stdin;
resize messages (channel 4) resize its terminal; and when it ends the error channel
(3) carries a Status: Success, or NonZeroExitCode with the exit code in
``details.causes`` -- kubectl exits with that code.

``process`` is anything with ``output()`` (yields ``(channel, bytes)`` until the
process's output ends), ``write_stdin(bytes)``, ``close_stdin()``,
``resize(width, height)``, ``exit_code()`` and ``close()``
(see kubelet/runtime/dockerstream.py).

Over SPDY (kubectl's fallback when the WebSocket upgrade fails, and older clients)
each channel is a stream of its own instead (``serve_spdy``).
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass

from .spdy import Session
from .websocket import CLOSE, ERROR, RESIZE, STDERR, STDIN, STDOUT, ChannelWriter, WebSocket

log = logging.getLogger(__name__)


@dataclass
class Options:
    """What the client asked to attach: the query parameters of exec/attach."""
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    tty: bool = False
    command: tuple = ()

    @classmethod
    def from_query(cls, params: dict[str, list[str]], default_output: bool = True) -> "Options":
        def flag(name, default):
            values = params.get(name)
            return default if not values else values[-1].lower() in ("1", "true")
        tty = flag("tty", False)
        return cls(stdin=flag("stdin", False), stdout=flag("stdout", default_output),
                   stderr=flag("stderr", default_output) and not tty, tty=tty,
                   command=tuple(params.get("command") or ()))


def status_for(code: int | None, command=()) -> dict:
    """The Status the error channel carries when the process ended with ``code``."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    if code is None:
        return {"metadata": {}, "status": "Failure", "reason": "InternalError",
                "message": "the process's exit code could not be read"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(command)}], exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def error_status(message: str) -> dict:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError",
            "code": 500}


def _client_input(ws: WebSocket, process, opts: Options, v5: bool) -> None:
    """Client -> process: stdin, resize, and (v5) the close of stdin."""
    try:
        while True:
            message = ws.recv_message()
            if message is None:
                break
            if not message:
                continue
            channel, data = message[0], message[1:]
            if channel == STDIN and opts.stdin:
                if data:
                    process.write_stdin(data)
            elif channel == RESIZE and opts.tty:
                try:
                    size = json.loads(data)
                    process.resize(int(size.get("Width", 0)), int(size.get("Height", 0)))
                except (ValueError, TypeError, AttributeError) as e:
                    log.debug("bad resize message %r: %s", data, e)
            elif channel == CLOSE and v5 and data[:1] == bytes([STDIN]):
                process.close_stdin()
    except OSError as e:
        log.debug("exec input ended: %s", e)
    finally:
        if opts.stdin:
            process.close_stdin()


def run(process, opts: Options, stdout, stderr) -> dict:
    """Copy the process's output to ``stdout``/``stderr`` (callables) until it ends;
    return the Status for the error channel."""
    try:
        for channel, data in process.output():
            if channel == STDOUT and opts.stdout:
                stdout(data)
            elif channel == STDERR and (opts.stderr or opts.tty):
                (stderr if opts.stderr else stdout)(data)
        return status_for(process.exit_code(), opts.command)
    except Exception as e:  # noqa: BLE001 - the runtime failed: the error channel says so
        log.warning("exec session failed: %s", e)
        return error_status(str(e))
    finally:
        process.close()


def serve(ws: WebSocket, protocol: str, process, opts: Options) -> None:
    """Run one session until the process's output ends; then report its exit and close."""
    v5 = protocol.startswith("v5.")
    threading.Thread(target=_client_input, args=(ws, process, opts, v5), daemon=True,
                     name="exec-input").start()
    status = run(process, opts, ChannelWriter(ws, STDOUT).write, ChannelWriter(ws, STDERR).write)
    ws.send_message(bytes([ERROR]) + json.dumps(status).encode())
    ws.close()


# ---------------------------------------------------------------- over SPDY
def serve_spdy(transport, process, opts: Options, timeout: float = 30.0) -> None:
    """The same session over SPDY (kubectl's fallback, older clients): the client opens
    one stream per channel, each named by its ``streamType`` header; we wait for all
    of them, then run. stdin's FIN is its EOF; resize carries a stream of JSON sizes."""
    expected = {"error"} | {name for name, wanted in (("stdin", opts.stdin), ("stdout", opts.stdout),
                                                      ("stderr", opts.stderr), ("resize", opts.tty))
                            if wanted}
    streams: dict = {}
    ready = threading.Event()

    def on_stream(stream):
        streams[stream.headers.get("streamtype", "")] = stream
        if expected <= streams.keys():
            ready.set()

    session = Session(transport, on_stream)
    threading.Thread(target=session.serve, daemon=True, name="exec-spdy").start()
    if not ready.wait(timeout):
        log.info("exec: the client opened %s of the streams %s", sorted(streams), sorted(expected))
        process.close()
        session.close()
        return
    if opts.stdin:
        threading.Thread(target=_spdy_stdin, args=(streams["stdin"], process), daemon=True).start()
    if opts.tty:
        threading.Thread(target=_spdy_resize, args=(streams["resize"], process), daemon=True).start()
    none = lambda data: None  # noqa: E731
    status = run(process, opts, streams["stdout"].write if opts.stdout else none,
                 streams["stderr"].write if opts.stderr else none)
    for name in ("stdout", "stderr"):
        if name in streams:
            streams[name].close()
    streams["error"].write(json.dumps(status).encode())
    streams["error"].close()
    session.close()


def _spdy_stdin(stream, process) -> None:
    try:
        while chunk := stream.read():
            process.write_stdin(chunk)
    except OSError:
        pass
    process.close_stdin()


def _spdy_resize(stream, process) -> None:
    decoder, buf = json.JSONDecoder(), ""
    while chunk := stream.read():
        buf += chunk.decode(errors="replace")
        while buf.strip():
            try:
                size, end = decoder.raw_decode(buf.lstrip())
            except ValueError:
                break                     # a partial object: wait for more
            buf = buf.lstrip()[end:]
            if isinstance(size, dict):
                process.resize(int(size.get("Width", 0)), int(size.get("Height", 0)))
