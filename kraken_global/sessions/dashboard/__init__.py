"""The session dashboard: one web page, served by a running paper or live session and written out for any results.

- :mod:`.views`: what the page shows, as one JSON document (the same shape for a running session and for a results
  folder), and the pieces both build it from;
- :mod:`.live`: that document for a running session, from its status board, journal and controls;
- :mod:`.folder`: the same for a finished session, a backtest, a sweep or a gates report on disk;
- :mod:`.server`: the HTTP server of a running session (``--dashboard PORT``): the page, its data, its controls;
- :mod:`.page`: the page itself (``static/``, shipped as package data: no CDN, works offline) and the
  self-contained HTML file that ``kraken-global report`` writes.
"""
