"""The dashboard's HTTP server in a running session (``--dashboard PORT``), on the standard library's
``ThreadingHTTPServer`` (as the status endpoint), in daemon threads that read only what the session publishes.

- ``GET /`` the page, ``GET /static/<asset>`` its CSS and script, ``GET /api/snapshot`` the document
  (:class:`~kraken_global.sessions.dashboard.live.LiveSource`); nothing else (404).
- ``POST /api/control/<pause|resume|stop|flatten>``: only when the session was started with a control token,
  only with that token in the ``X-KG-Token`` header (never a cookie: a page of another site can make a browser send
  cookies, not a custom header without a CORS preflight, which this server never grants), a JSON body
  ``{"confirm": "<action>"}``, and a ``Host`` (and ``Origin``, when sent) naming this server. A wrong token is
  answered slowly. The token is compared in constant time and never logged, echoed or shown.
- Every answer is ``no-store`` with a strict Content-Security-Policy (scripts and styles from this server only).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kraken_global.errors import ConfigError
from kraken_global.sessions.controls import ACTIONS
from kraken_global.sessions.dashboard.live import LiveSource
from kraken_global.sessions.dashboard.page import ASSETS, asset

log = logging.getLogger("kraken_global.session")
TOKEN_HEADER = "X-KG-Token"
MAX_BODY = 1024
WRONG_TOKEN_DELAY = 0.25
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}


def check_token(token: str | None) -> str | None:
    """A usable control token, or None; a weak one is refused (it guards orders)."""
    if token is None or token == "":
        return None
    if len(token) < 16 or any(c.isspace() for c in token) or not token.isprintable():
        raise ConfigError("the dashboard token must be at least 16 printable characters without spaces (e.g. "
                          "`python -c 'import secrets; print(secrets.token_urlsafe(24))'`)")
    return token


def check_binding(host: str, token: str | None) -> None:
    """A dashboard reachable from other machines needs a control token (its page shows the whole session)."""
    if host not in LOOPBACK and token is None:
        raise ConfigError(f"the dashboard binds {host} only with a control token (--dashboard-token or "
                          "KG_DASHBOARD_TOKEN): beyond 127.0.0.1 anyone who reaches it would see the session")


def serve_dashboard(source: LiveSource, port: int, host: str = "127.0.0.1",
                    token: str | None = None) -> ThreadingHTTPServer:
    """Start the server (port 0: any free port; ``server.server_address[1]`` says which)."""
    check_binding(host, token)
    handler = _handler(source, token, host)
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise ConfigError(f"dashboard port {port} on {host} is not free ({exc.strerror}): choose another "
                          "--dashboard PORT (0: any free port)") from None
    server.daemon_threads = True
    handler.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="dashboard-http",
                     daemon=True).start()
    if host not in LOOPBACK:
        log.warning("the dashboard listens on %s:%d, beyond this machine: anyone who reaches it sees the session, "
                    "and its controls need the token; put it behind TLS (a reverse proxy) on an untrusted network",
                    host, handler.port)
    return server


def _handler(source: LiveSource, token: str | None, host: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        port = 0
        server_version = "kraken-global"
        sys_version = ""

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in SECURITY_HEADERS.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, json.dumps(payload, allow_nan=False, default=str).encode())

        def _host_ok(self) -> bool:
            """A loopback server answers only requests addressed to it by name (a DNS-rebinding page cannot)."""
            if host not in LOOPBACK:
                return True
            names = {f"{name}:{self.port}" for name in ("127.0.0.1", "localhost", "[::1]")}
            return self.headers.get("Host", "") in names

        def do_GET(self) -> None:
            if not self._host_ok():
                return self._json(421, {"error": "unknown host"})
            path = self.path.split("?")[0]
            if path in ("/", "/index.html"):
                return self._send(200, asset("index.html"), ASSETS["index.html"])
            if path.startswith("/static/") and path[len("/static/"):] in ASSETS:
                name = path[len("/static/"):]
                return self._send(200, asset(name), ASSETS[name])
            if path == "/api/snapshot":
                return self._json(200, source.snapshot())
            return self._json(404, {"error": "not found"})

        def do_POST(self) -> None:
            path = self.path.split("?")[0]
            action = path[len("/api/control/"):] if path.startswith("/api/control/") else None
            if action not in ACTIONS:
                return self._json(404, {"error": "not found"})
            refusal = self._refusal(action)
            if refusal is not None:
                status, message = refusal
                log.warning("dashboard control %s from %s refused: %s", action, self.client_address[0], message)
                return self._json(status, {"error": message})
            result = source.controls.request(action, f"dashboard {self.client_address[0]}")
            return self._json(200, {"ok": True, "result": result, "controls": source.controls.state()})

        def _refusal(self, action: str) -> tuple[int, str] | None:
            if not self._host_ok():
                return 421, "unknown host"
            origin = self.headers.get("Origin")
            if origin is not None and origin.split("://", 1)[-1] != self.headers.get("Host", ""):
                return 403, "cross-origin request"
            if source.controls is None or token is None:
                return 403, "controls are off: start the session with --dashboard-token (or KG_DASHBOARD_TOKEN)"
            given = self.headers.get(TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                time.sleep(WRONG_TOKEN_DELAY)
                return 403, f"wrong or missing control token ({TOKEN_HEADER} header)"
            if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
                return 415, "send the confirmation as application/json"
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                return 400, f"send {{\"confirm\": \"{action}\"}}"
            try:
                body = json.loads(self.rfile.read(length))
            except (ValueError, UnicodeDecodeError):
                return 400, "the body is not JSON"
            if not isinstance(body, dict) or body.get("confirm") != action:
                return 400, f"not confirmed: send {{\"confirm\": \"{action}\"}}"
            return None

        def do_PUT(self) -> None:
            self._json(405, {"error": "method not allowed"})

        do_DELETE = do_PATCH = do_OPTIONS = do_PUT

        def log_message(self, *args) -> None:
            pass

    return Handler
