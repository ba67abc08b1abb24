"""Reading a config file: YAML with ``yaml.safe_load`` semantics, hardened.

Refused with a one-line :class:`~sweep.errors.ConfigError` (the line and
column where YAML has them): files over :data:`MAX_CONFIG_BYTES`, text that is
not UTF-8, tags that would construct Python objects, aliases, nesting deeper
than :data:`MAX_YAML_DEPTH`, duplicate keys and a document that is not a
mapping. What the mapping means is :func:`sweep.spec.parse_config`'s job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, shorten

__all__ = ["load_config", "parse_yaml", "MAX_CONFIG_BYTES", "MAX_YAML_DEPTH"]


#: Largest config file read (no config is near this: a guard against feeding in data).
MAX_CONFIG_BYTES = 2**20
#: Deepest nesting of YAML collections in a config (configs need 4 levels).
MAX_YAML_DEPTH = 32


class _YAMLRefused(Exception):
    """What the config loader refuses (aliases, deep nesting, duplicate keys)."""

    def __init__(self, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.mark = mark


class _NoObjectLoader(yaml.SafeLoader):
    """SafeLoader for configs: tags that would construct Python objects, aliases (a few
    hundred bytes of aliases can expand to gigabytes), nesting deeper than
    :data:`MAX_YAML_DEPTH` and duplicate keys (last one wins, silently) are refused."""

    _depth = 0

    def compose_node(self, parent, index):  # noqa: ANN001, ANN201 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _YAMLRefused(
                f"YAML aliases (*{event.anchor}) are not allowed in a config: write the value out",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _YAMLRefused(
                    f"YAML nested deeper than {MAX_YAML_DEPTH} levels is not allowed in a config",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN201
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                dup = key in seen
                seen.add(key)
            except TypeError:  # unhashable: SafeLoader refuses it below
                continue
            if dup:
                raise _YAMLRefused(
                    f"duplicate key {shorten(repr(key), 80)} is not allowed (give each key once)",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep)


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config with ``yaml.safe_load`` semantics; errors are one line."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    size = p.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config file {str(path)!r} is {size:,} bytes: a config is at most "
            f"{MAX_CONFIG_BYTES:,} bytes"
        )
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {str(path)!r} is not UTF-8 text (byte {data[exc.start]:#04x} at "
            f"offset {exc.start})"
        ) from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str = "<config>") -> dict[str, Any]:
    """A config's YAML text → its mapping, hardened (size and nesting limits, no aliases, no Python
    object tags, no duplicate keys); every refusal a one-line :class:`ConfigError`.

    Parameters
    ----------
    text : str
        The YAML document (at most ``MAX_CONFIG_BYTES`` characters).
    source : str
        Name used in error messages (the file's path).

    Returns
    -------
    dict
        The top-level mapping, not yet validated (see :func:`sweep.spec.parse_config`).
    """
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: a config is at most {MAX_CONFIG_BYTES:,} characters")
    try:
        data = yaml.load(text, Loader=_NoObjectLoader)  # noqa: S506 - a SafeLoader subclass
    except _YAMLRefused as exc:
        mark = exc.mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{source}: {exc}{where}") from None
    except yaml.constructor.ConstructorError as exc:
        tag = getattr(exc, "problem", "") or str(exc)
        raise ConfigError(
            f"{source}: {tag.strip()} — YAML tags that construct Python objects are not allowed"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{source}: YAML nested too deeply") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a config must be a YAML mapping, got {type(data).__name__}")
    return data
