"""Replaying a finished session: through the backtest bar by bar (:mod:`.parity`, :mod:`.parity_compare`,
:mod:`.parity_report`) and with a candidate model beside the session's own (:mod:`.shadow`)."""
