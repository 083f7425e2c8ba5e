"""Test helpers: webhook receivers on 127.0.0.1, as HTTP servers in a thread."""

from __future__ import annotations

import contextlib
import http.server
import threading
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from collections.abc import Iterator


class Quiet(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing."""

    def log_message(self, *args: object) -> None:
        """Stay quiet."""


class Recorder(Quiet):
    """Answers 204 and keeps each body; subclass it with a `bodies` list of its own."""

    bodies: ClassVar[list[bytes]]

    def do_POST(self) -> None:
        """Keep the body, answer 204."""
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()


@contextlib.contextmanager
def webhook(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A webhook receiver on 127.0.0.1 answering with `handler`; yields its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
