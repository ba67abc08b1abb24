"""Exit codes and argument helpers shared by the command groups."""

from __future__ import annotations

import math
from typing import Any

from ..spec import ConfigError

EXIT_OK = 0
#: A computation that ran and failed (failed blocks, unusable model outputs), or an internal error.
EXIT_FAILED = 1
#: Bad config or arguments, or a store that cannot be used as asked.
EXIT_USAGE = 2
#: ``sweep status`` of a store that is not complete.
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130

SCHEDULER_HELP = "threads (default) | processes | synchronous | local:N | tcp://HOST:PORT"


def number(flag: str, text: str | None, kind: type, allowed: str) -> Any:
    """``text`` as ``kind`` (None stays None); ``ConfigError`` naming ``flag`` otherwise."""
    if text is None:
        return None
    try:
        v = kind(str(text))
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not allowed: {allowed}") from None
    if kind is float and not math.isfinite(v):
        raise ConfigError(f"{flag} {text!r} is not allowed: {allowed}")
    return v
