"""``python -m sweep.cli``: the same as the ``sweep`` entry point."""

import sys

from .main import main

sys.exit(main())
