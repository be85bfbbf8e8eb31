"""Loopback servers that misbehave the way real collectors and proxies do."""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
from collections.abc import Callable


class RawServer:
    """A loopback TCP server that hands each connection to ``serve(conn, server)`` on a thread of its own.

    For answers no well-behaved HTTP server gives: trickled a byte at a time, never, or without end.
    """

    def __init__(
        self,
        serve: Callable[[socket.socket, RawServer], None],
        tls: ssl.SSLContext | None = None,
        *,
        reads_request: bool = True,
    ) -> None:
        self.serve = serve
        self.tls = tls
        self.reads_request = reads_request
        self.closed = threading.Event()
        self.connections = 0
        self.sent = 0
        self.received: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        scheme = "https" if tls else "http"
        scheme = "https" if tls or not reads_request else scheme
        self.url = f"{scheme}://127.0.0.1:{self.listener.getsockname()[1]}/api/v1/runtime"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), contextlib.ExitStack() as close:
            close.enter_context(conn)
            if self.tls is not None:
                conn = close.enter_context(self.tls.wrap_socket(conn, server_side=True))
            if self.reads_request:
                read_request(conn)
            self.serve(conn, self)

    def close(self) -> None:
        self.closed.set()
        self.listener.close()


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += conn.recv(65536)
    return head


def trickle(what: bytes) -> Callable[[socket.socket, RawServer], None]:
    def serve(conn: socket.socket, server: RawServer) -> None:
        for i in range(len(what)):  # one byte every 0.2 s: each read is quick, the whole never ends
            if server.closed.wait(0.2):
                return
            conn.sendall(what[i : i + 1])

    return serve


