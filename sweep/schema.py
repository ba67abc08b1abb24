"""A JSON Schema of the config, generated from the registry (editors complete and check configs).

``python -m sweep.schema`` rewrites ``docs/config.schema.json``; a test checks it
is current and that every shipped config validates against it. In an editor
with the YAML language server, a config's first line
``# yaml-language-server: $schema=../docs/config.schema.json`` turns it on.

The schema checks shapes and names (inputs, outputs, statistics, methods,
model choices); values with units are checked by ``sweep plan`` (pint), which
remains the authority.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kernels.registry import MODEL_CHOICES, REGISTRY, Registry

from .spec import (
    AXIS_KEYS,
    DESIGN_METHODS,
    DISTS,
    FLOAT_STATS,
    MODE_STATS,
    POLARITY_STATS,
    PRECISIONS,
    TOP_KEYS,
)

__all__ = ["config_schema", "SCHEMA_PATH", "render_schema"]

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "config.schema.json"

_NAME = "^[a-z][a-z0-9_]*$"


def _quantity(unit: str, text: str) -> dict[str, Any]:
    if unit:
        return {
            "type": "string",
            "description": f"{text} (a quantity with a unit, stored in {unit}, e.g. '1 {unit}')",
        }
    return {"type": ["number", "string"], "description": f"{text} (dimensionless)"}


def config_schema(registry: Registry | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a sweep config for ``registry`` (default: built-in)."""
    reg = registry or REGISTRY
    inputs = sorted(reg.inputs)
    outputs = sorted(reg.outputs)
    params = {
        n: _quantity(i.unit, f"{i.long_name}; default {i.default:g} {i.unit}".rstrip())
        for n, i in sorted(reg.inputs.items())
    }
    axis = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "start": {"type": ["string", "number"], "description": "first value (with unit)"},
            "stop": {"type": ["string", "number"], "description": "last value (with unit)"},
            "num": {"type": "integer", "minimum": 1, "description": "number of grid points"},
            "spacing": {"enum": ["linear", "log"], "description": "grid spacing"},
            "values": {
                "type": "array",
                "minItems": 1,
                "items": {"type": ["string", "number"]},
                "description": "explicit values (with units)",
            },
            "dist": {
                "enum": list(DISTS),
                "description": "input distribution of a sampled design or --global "
                "(default uniform on start/stop)",
            },
            "mean": {"type": ["string", "number"], "description": "normal, truncnormal: mean"},
            "sd": {
                "type": ["string", "number"],
                "description": "normal, truncnormal: standard deviation (> 0, with unit)",
            },
            "median": {"type": ["string", "number"], "description": "lognormal: median (> 0)"},
            "sdlog": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "lognormal: standard deviation of ln x (bare number)",
            },
            "peak": {"type": ["string", "number"], "description": "triangular: mode"},
            "group": {
                "type": "string",
                "pattern": "^\\w+$",
                "description": "factor group of a global analysis (sobol, morris)",
            },
        },
    }
    if set(axis["properties"]) != set(AXIS_KEYS):  # the schema follows the parser's keys
        raise RuntimeError("sweep.schema: axis keys differ from sweep.spec.AXIS_KEYS")
    output_name = {
        "anyOf": [
            {"enum": outputs},
            {"type": "string", "pattern": _NAME, "description": "a derived or user output"},
        ]
    }
    props: dict[str, Any] = {
        "name": {"type": "string", "pattern": "^[a-z0-9_-]+$", "description": "sweep name"},
        "description": {"type": "string"},
        "precision": {"enum": list(PRECISIONS)},
        "parameters": {
            "type": "object",
            "description": "fixed inputs (every other input takes its default)",
            "properties": params,
            "additionalProperties": False,
        },
        "axes": {
            "type": "object",
            "description": "swept inputs",
            "propertyNames": {"enum": inputs},
            "additionalProperties": axis,
            "minProperties": 1,
        },
        "outputs": {
            "description": "outputs to compute (see 'sweep list')",
            "oneOf": [
                output_name,
                {"type": "array", "minItems": 1, "items": output_name},
            ],
        },
        "transporters": {
            "type": "object",
            "description": "user-defined transporters",
            "propertyNames": {"pattern": _NAME},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "stoichiometry": {
                        "type": "object",
                        "additionalProperties": {"type": "number"},
                    },
                    "atp": {"type": "number"},
                    "compartment": {"enum": ["plasma", "mito"]},
                    "long_name": {"type": "string"},
                },
            },
        },
        "mode_tolerance": {"type": ["string", "number"]},
        "chunks": {
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 1},
        },
        "store": {"type": "string", "description": "zarr store path"},
        "reduce": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["output", "stats", "over"],
                "additionalProperties": False,
                "properties": {
                    "output": output_name,
                    "stats": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"enum": list(FLOAT_STATS + MODE_STATS + POLARITY_STATS)},
                    },
                    "over": {
                        "oneOf": [
                            {"enum": inputs},
                            {"type": "array", "items": {"enum": inputs}},
                        ]
                    },
                },
            },
        },
        "keep_full": {"type": "boolean"},
        "residuals": {
            "type": "boolean",
            "description": "store the solvers' residual_* companions (default true)",
        },
        "design": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {
                "method": {"enum": list(DESIGN_METHODS)},
                "n": {"type": "integer", "minimum": 1},
                "seed": {"type": "integer", "minimum": 0},
                "second_order": {"type": "boolean"},
                "levels": {"type": "integer", "minimum": 2},
            },
        },
        "model": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {k: {"enum": list(v)} for k, v in MODEL_CHOICES.items()},
        },
        "derived": {
            "type": "object",
            "description": "derived outputs: expressions over outputs and inputs",
            "propertyNames": {"pattern": _NAME},
            "additionalProperties": {
                "oneOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "required": ["expr"],
                        "additionalProperties": False,
                        "properties": {
                            "expr": {"type": "string"},
                            "units": {"type": "string"},
                            "long_name": {"type": "string"},
                        },
                    },
                ]
            },
        },
    }
    props["timecourse"] = _timecourse_schema(inputs)
    missing = set(TOP_KEYS) - set(props)
    if missing:  # the schema follows the parser's keys
        raise RuntimeError(f"sweep.schema: no schema for config keys {sorted(missing)}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://transporter-sweep/config.schema.json",
        "title": "transporter-sweep config",
        "description": "Generated from the registry by `python -m sweep.schema`; "
        "`sweep plan CONFIG` checks values and units.",
        "type": "object",
        "required": ["name"],
        "anyOf": [{"required": ["outputs"]}, {"required": ["timecourse"]}],
        "additionalProperties": False,
        "properties": props,
    }


def _timecourse_schema(inputs: list[str]) -> dict[str, Any]:
    """The ``timecourse:`` section (docs/timecourses.md)."""
    from kernels.timecourse import PROTOCOLS, SOLVERS, SYSTEMS  # lazy: diffrax takes ~0.5 s

    from .timecourse import SYSTEM_NAMES, TC_KEYS

    names = sorted({o.name for s in SYSTEMS.values() for o in s.outputs})
    codes = sorted({o.name for s in SYSTEMS.values() for o in s.outputs if o.code})
    time = {"type": "string", "description": "a time with its unit, e.g. '600 s', '10 min'"}
    one = {"enum": names}
    many = {"oneOf": [one, {"type": "array", "items": one}]}
    props = {
        "system": {"enum": list(SYSTEM_NAMES), "description": "the dynamical system"},
        "protocol": {"enum": list(PROTOCOLS)},
        "duration": {**time, "description": "pulse duration (protocol pulse)"},
        "before": {
            "type": "object",
            "description": "inputs that differ before t = 0 (and after a pulse)",
            "propertyNames": {"enum": inputs},
            "additionalProperties": {"type": ["string", "number"]},
        },
        "t_end": time,
        "times": {
            "oneOf": [
                {"type": "array", "minItems": 1, "items": time},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "start": time,
                        "stop": time,
                        "num": {"type": "integer", "minimum": 1},
                        "values": {"type": "array", "minItems": 1, "items": time},
                    },
                },
            ],
            "description": "output times (the store's time coordinate, s)",
        },
        "outputs": many,
        "summaries": many,
        "flips": {
            "type": "array",
            "items": {
                "oneOf": [
                    {"enum": codes},
                    {
                        "type": "object",
                        "required": ["output", "level"],
                        "additionalProperties": False,
                        "properties": {"output": one, "level": {"type": ["string", "number"]}},
                    },
                ]
            },
        },
        "rtol": {"type": ["number", "string"]},
        "atol": {"type": ["number", "string"]},
        "max_steps": {"type": "integer", "minimum": 1},
        "grid_points": {"type": "integer", "minimum": 3},
        "solver": {"enum": list(SOLVERS)},
        "fixed_steps": {"type": ["integer", "null"], "minimum": 1},
    }
    if set(props) != set(TC_KEYS):  # the schema follows the parser's keys
        raise RuntimeError("sweep.schema: timecourse keys differ from sweep.timecourse.TC_KEYS")
    return {
        "type": "object",
        "description": "time courses after a change of inputs (docs/timecourses.md)",
        "required": ["system", "t_end"],
        "additionalProperties": False,
        "properties": props,
    }


def render_schema() -> str:
    """The schema as the text of ``docs/config.schema.json``."""
    return json.dumps(config_schema(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render_schema(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
