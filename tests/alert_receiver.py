"""A local HTTP receiver for alert webhooks: records every POST; can fail or hang on demand."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class AlertReceiver:
    """``with AlertReceiver() as receiver``: ``receiver.url(path)`` to post to, ``receiver.posts`` what came.

    ``fail_first``: answer that many requests with HTTP 500 first; ``hang``: hold each answer that long.
    """

    def __init__(self, fail_first: int = 0, hang: float = 0.0) -> None:
        self.posts: list[dict] = []
        self.failures_left = fail_first
        self.hang = hang
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.hang:
                    time.sleep(receiver.hang)
                with receiver.arrived:
                    if receiver.failures_left > 0:
                        receiver.failures_left -= 1
                        self.send_response(500)
                        self.end_headers()
                        return
                    receiver.posts.append({"path": self.path, "body": json.loads(body), "raw": body.decode()})
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait_for(self, condition, timeout: float = 60.0) -> list[dict]:
        """Wait until ``condition(posts)`` holds; returns the posts (the caller asserts)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while not condition(self.posts) and time.monotonic() < deadline:
                self.arrived.wait(0.1)
            return list(self.posts)

    def events(self) -> list[str]:
        return [p["body"].get("event") for p in self.posts]

    def __enter__(self) -> AlertReceiver:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
