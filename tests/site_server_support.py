"""A real loopback site server (``http.server`` in a thread) that plays faults on request.

:class:`FaultServer` answers each POST with the next scenario in ``scenarios`` (a function of
the handler), then with a normal two-piece reply: a test queues a fault, asks, and asks again
to check that the next question works.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: Short timeouts keep the stall tests quick; the server stalls well past them.
READ_TIMEOUT_S = 0.4
STALL_S = 2.0
#: The text of the normal reply.
NORMAL_TEXT = "Final Answer: no nodule."

Scenario = Callable[["FaultHandler"], None]


class FaultServer(ThreadingHTTPServer):
    """Plays ``scenarios`` in order, one per request; after them, a normal two-piece reply."""

    daemon_threads = True
    scenarios: list[Scenario]
    released: threading.Event

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the faults break connections on purpose


class FaultHandler(BaseHTTPRequestHandler):
    server: FaultServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        play = self.server.scenarios.pop(0) if self.server.scenarios else normal
        play(self)

    def log_message(self, *args: object) -> None:
        pass

    # -- building blocks for the scenarios ----------------------------------------------------
    def sse_head(self, content_type: str = "text/event-stream") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def piece(self, text: str, finish: str | None = None) -> None:
        chunk = {"choices": [{"delta": {"content": text}, "finish_reason": finish}]}
        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.flush()

    def reset(self) -> None:
        """Drop the connection with a TCP reset (SO_LINGER 0), as a crashed proxy does."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            super().finish()


def normal(h: FaultHandler) -> None:
    h.sse_head()
    h.piece("Final Answer: ")
    h.piece("no nodule.", finish="stop")
    h.wfile.write(b"data: [DONE]\n\n")


@contextlib.contextmanager
def fault_server() -> Iterator[FaultServer]:
    """A :class:`FaultServer` on a free loopback port, stopped afterwards."""
    srv = FaultServer(("127.0.0.1", 0), FaultHandler)
    srv.scenarios = []
    srv.released = threading.Event()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.released.set()
        srv.shutdown()
        srv.server_close()


def url_of(srv: FaultServer) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/v1"


def cut_mid_answer(h: FaultHandler) -> None:
    """The connection drops after "Final Answer: The le" (a TCP reset, no finish, no [DONE])."""
    h.sse_head()
    h.piece("Final Answer: ")
    h.piece("The le")
    h.reset()
