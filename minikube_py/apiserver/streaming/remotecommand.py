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
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass

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


def serve(ws: WebSocket, protocol: str, process, opts: Options) -> None:
    """Run one session until the process's output ends; then report its exit and close."""
    v5 = protocol.startswith("v5.")
    threading.Thread(target=_client_input, args=(ws, process, opts, v5), daemon=True,
                     name="exec-input").start()
    writers = {STDOUT: ChannelWriter(ws, STDOUT), STDERR: ChannelWriter(ws, STDERR)}
    wanted = {STDOUT: opts.stdout, STDERR: opts.stderr or (opts.stdout and opts.tty)}
    try:
        for channel, data in process.output():
            if wanted.get(channel):
                writers[channel].write(data)
            if ws.closed:
                break
        code = process.exit_code()
        status = status_for(code, opts.command)
    except Exception as e:  # noqa: BLE001 - the runtime failed: tell the client on the error channel
        log.warning("exec session failed: %s", e)
        status = error_status(str(e))
    finally:
        process.close()
    ws.send_message(bytes([ERROR]) + json.dumps(status).encode())
    ws.close()
