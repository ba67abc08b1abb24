"""``sweep``: the command line (contract: docs/config.md, "CLI").

One module per command group, each parse → call the Python API → report:
:mod:`.run` (run, init, status, plan, list), :mod:`.boundary`,
:mod:`.sensitivity`, :mod:`.plot`; :mod:`.main` holds the entry point and
the exit codes.
"""

from .main import EXIT_FAILED as EXIT_FAILED
from .main import EXIT_INCOMPLETE as EXIT_INCOMPLETE
from .main import EXIT_INTERRUPTED as EXIT_INTERRUPTED
from .main import EXIT_OK as EXIT_OK
from .main import EXIT_USAGE as EXIT_USAGE
from .main import build_parser as build_parser
from .main import main as main

__all__ = [
    "EXIT_FAILED",
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
]
