"""An optional read-only HTTP endpoint for a running session's status (``live.status_port``, off by default).

``GET /`` or ``GET /status`` answers the session's status as JSON; anything else is 404, every other method 405.
It binds 127.0.0.1 (``live.status_host``): a dashboard or monitor on the same host reads it; exposing it beyond is
a deliberate proxy's job. The one exception is a container: its own 127.0.0.1 cannot be published, so the run
scripts bind 0.0.0.0 inside it and publish the port on the host's 127.0.0.1 only; any other address is warned
about, since whoever reaches it reads the session's positions and P&L.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kraken_global.errors import ConfigError
from kraken_global.sessions.status import StatusBoard

log = logging.getLogger("kraken_global.session")


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
    if not ipaddress.ip_address(host).is_loopback:
        log.warning("the status is served on %s:%d, beyond this host's loopback: whoever reaches that address reads "
                    "the session's positions and P&L (in a container, publish the port on the host's 127.0.0.1 "
                    "only: -p 127.0.0.1:%d:%d)", host, server.server_address[1], port, port)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="status-http", daemon=True).start()
    return server
