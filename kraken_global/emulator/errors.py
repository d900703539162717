"""The emulator's one exception: a Kraken error reply."""


class KrakenError(Exception):
    """A reply with Kraken's ``error`` array (``EOrder:Insufficient funds``, ...)."""
