"""Operating a paper or live session: the session itself (:mod:`.session`), starting and stopping it
(:mod:`.operate`, :mod:`.stop`), the live regime plan (:mod:`.live_plan`) and watching it (:mod:`.monitor`,
:mod:`.status`, :mod:`.status_http`). Built on :mod:`kraken_global.assembly` and :mod:`kraken_global.live`; never
on the backtest runner."""
