"""An optional read-only HTTP endpoint for a running session's status (``live.status_port``, off by default).

``GET /`` or ``GET /status`` answers the session's status as JSON; anything else is 404, every other method 405.
It binds 127.0.0.1 only: a dashboard or monitor on the same host reads it; exposing it is a deliberate proxy's job.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kraken_global.errors import ConfigError
from kraken_global.sessions.status import StatusBoard


def serve_status(board: StatusBoard, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/", "/status"):
                self.send_error(404)
                return
            body = json.dumps(board.snapshot(), indent=2, sort_keys=True).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.send_error(405)

        do_PUT = do_DELETE = do_PATCH = do_POST

        def log_message(self, *args) -> None:
            pass

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise ConfigError(f"status port {port} on {host} is not free ({exc.strerror}): choose another "
                          f"--status-port or live.status_port") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="status-http", daemon=True).start()
    return server
