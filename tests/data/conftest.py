"""A loopback HTTP server for the download tests (never the external network)."""

from __future__ import annotations

import http.server
import re
import threading
from collections import defaultdict
from urllib.parse import urlsplit

import pytest


class FakeServer:
    """Serves in-memory files on 127.0.0.1 and misbehaves on request.

    Attributes
    ----------
    files : dict
        URL path -> bytes.
    requests : list of (path, Range header or None)
        Every request received, in order.
    cuts : dict
        URL path -> list of byte counts: each request to the path pops the first one and
        closes the connection after sending that many body bytes.
    errors : dict
        URL path -> list of HTTP statuses answered (popped) before the file is served.
    ignore_range : set
        Paths for which Range headers are ignored (full 200 responses).
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.cuts: dict[str, list[int]] = defaultdict(list)
        self.errors: dict[str, list[int]] = defaultdict(list)
        self.ignore_range: set[str] = set()
        self.lock = threading.Lock()
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths_requested(self) -> list[str]:
        return [path for path, _ in self.requests]

    def _pop(self, table: dict[str, list[int]], path: str) -> int | None:
        with self.lock:
            return table[path].pop(0) if table[path] else None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args):  # noqa: A002 - keep test output clean
        pass

    def do_GET(self):
        fake = self.server.fake
        path = urlsplit(self.path).path
        range_header = self.headers.get("Range")
        with fake.lock:
            fake.requests.append((path, range_header))
        error = fake._pop(fake.errors, path)
        if error is not None or path not in fake.files:
            self._send_empty(error or 404)
            return
        body = fake.files[path]
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if match and path not in fake.ignore_range:
            start = int(match.group(1))
            if start >= len(body):
                self._send_empty(416, {"Content-Range": f"bytes */{len(body)}"})
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        cut = fake._pop(fake.cuts, path)
        if cut is not None:
            self.wfile.write(payload[:cut])  # then drop the connection mid-body
            self.close_connection = True
            return
        self.wfile.write(payload)

    def _send_empty(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer


@pytest.fixture
def server():
    """A FakeServer on an ephemeral loopback port, stopped at the end of the test."""
    fake = FakeServer()
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.fake = fake
    fake.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()
