"""Test helpers: webhook receivers on 127.0.0.1, as HTTP servers in a thread."""

from __future__ import annotations

import contextlib
import http.server
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


class Quiet(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing."""

    def log_message(self, *args: object) -> None:
        """Stay quiet."""


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
