"""Live trading on Kraken through ccxt: credentials, the store (API access that never doubles an order), and,
built on them, the live broker and feed."""
