"""A webhook receiver on loopback: a real HTTP server (the standard library's) that keeps every
JSON body it is sent, by path, and can be started late, stopped and started again on the same
port (a receiver that is down, then up)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fleet.support import free_port


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.posts: list[tuple[str, dict[str, str], Any]] = []
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                size = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(size))
                posts.append((self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def to(self, path: str) -> list[Any]:
        return [body for p, _, body in self.posts if p == path]

    def wait(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.posts) >= count, f"{len(self.posts)} posts, expected {count}"
