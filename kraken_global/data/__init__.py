"""``kraken-global data``: fetch Kraken history into the data folder, import Kraken's archive, list the folder.

Every file written is in Kraken's OHLCVT layout (``<ALTNAME>_<minutes>.csv``), which every other command reads.
"""
