"""``python -m kraken_global.cli``: the same as the ``kraken-global`` command."""

import sys

from kraken_global.cli import main

sys.exit(main())
