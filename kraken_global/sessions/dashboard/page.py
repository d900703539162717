"""The page: ``static/`` (HTML, CSS, hand-written JS and SVG; package data, so an installed package serves it and
no CDN is ever asked), and the self-contained file ``kraken-global report`` writes: the same page with its CSS,
its script and the document inlined, so it opens from disk anywhere, offline, with no server."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

ASSETS = {"index.html": "text/html; charset=utf-8", "dashboard.css": "text/css; charset=utf-8",
          "dashboard.js": "text/javascript; charset=utf-8"}
_STYLE_LINK = '<link rel="stylesheet" href="/static/dashboard.css">'
_SCRIPT_TAG = '<script src="/static/dashboard.js"></script>'
_DATA_TAG = '<script id="kg-data" type="application/json"></script>'


def asset(name: str) -> bytes:
    """One of :data:`ASSETS` (anything else is a KeyError: the server serves no other file)."""
    if name not in ASSETS:
        raise KeyError(name)
    return (resources.files("kraken_global.sessions.dashboard") / "static" / name).read_bytes()


def embedded_json(document: dict[str, Any]) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``<`` can close it or open a comment."""
    return json.dumps(document, allow_nan=False, default=str).replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("&", "\\u0026")


def report_html(document: dict[str, Any]) -> str:
    """The page with everything inlined: one file, no request to anywhere."""
    page = asset("index.html").decode()
    style = asset("dashboard.css").decode()
    script = asset("dashboard.js").decode().replace("</script", "<\\/script")
    for tag in (_STYLE_LINK, _SCRIPT_TAG, _DATA_TAG):
        if tag not in page:
            raise RuntimeError(f"the dashboard page lost its tag {tag!r}")
    return (page.replace(_STYLE_LINK, f"<style>\n{style}</style>")
            .replace(_DATA_TAG, f'<script id="kg-data" type="application/json">{embedded_json(document)}</script>')
            .replace(_SCRIPT_TAG, f"<script>\n{script}</script>"))
