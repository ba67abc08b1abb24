"""The error of a config that cannot be run: :class:`ConfigError`, one line.

Every message names the key, the value and what is allowed; echoed values are
cut (:func:`shorten`) and an unknown key comes with the nearest allowed one
("did you mean", :func:`kernels.registry.suggest`).
"""

from __future__ import annotations

from kernels.registry import suggest

__all__ = ["ConfigError", "shorten", "MAX_MESSAGE"]


#: Longest error message: echoed values are cut to keep every message one short line.
MAX_MESSAGE = 600


def shorten(message: str, limit: int = MAX_MESSAGE) -> str:
    """``message`` on one line of at most about ``limit`` characters (long values cut)."""
    message = " ".join(str(message).split("\n"))
    if len(message) <= limit:
        return message
    return f"{message[: limit - 100]} … [{len(message) - limit + 20:,} characters cut] … {message[-80:]}"


class ConfigError(ValueError):
    """A config (or CLI argument) that cannot be run; the message is one line (echoed
    values are cut, see :func:`shorten`)."""

    def __init__(self, message: object = "") -> None:
        super().__init__(shorten(str(message)))


def _unknown(key: str, where: str, allowed) -> ConfigError:
    return ConfigError(
        f"unknown key {where}{key!r}{suggest(str(key), allowed)}; allowed: {', '.join(allowed)}"
    )
