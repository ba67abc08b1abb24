"""The JSON Schema of the config (docs/config.schema.json): current, and every shipped config valid."""

from __future__ import annotations

import json
import re

import pytest

from sweep.schema import SCHEMA_PATH, config_schema, render_schema
from sweep.spec import load_config, parse_yaml

jsonschema = pytest.importorskip("jsonschema")
ROOT = SCHEMA_PATH.parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml")) + [ROOT / "sweep" / "quickstart.yaml"]


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_is_up_to_date():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        "docs/config.schema.json is stale: regenerate with `python -m sweep.schema`"
    )


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates(validator, path):
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message}"
        for e in validator.iter_errors(load_config(path))
    ]
    assert not errors, errors


def test_readme_config_validates(validator):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    assert not list(validator.iter_errors(parse_yaml(block)))


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "x", "outputs": ["dG_ncx"], "axis": {}},  # unknown top-level key
        {"name": "x", "outputs": ["dG_ncx"], "axes": {"nai": {"values": ["5 mM"]}}},
        {"name": "x", "outputs": ["dG_ncx"], "axes": {"na_i": {"num": 3, "spacing": "lg"}}},
        {"name": "x", "outputs": ["dG_ncx"], "parameters": {"temprature": "310 K"}},
        {"name": "x", "outputs": ["dG_ncx"], "design": {"method": "halton"}},
        {"name": "x", "outputs": ["dG_ncx"], "model": {"pump": "linear"}},
        {"name": "X Y", "outputs": ["dG_ncx"]},
        {"name": "x", "outputs": []},
    ],
)
def test_the_schema_catches_what_the_parser_refuses(validator, bad):
    assert list(validator.iter_errors(bad))


def test_schema_follows_the_registry():
    from kernels.registry import REGISTRY

    s = config_schema()
    assert s["properties"]["axes"]["propertyNames"]["enum"] == sorted(REGISTRY.inputs)
    assert set(s["properties"]["parameters"]["properties"]) == set(REGISTRY.inputs)
    enum = s["properties"]["outputs"]["oneOf"][1]["items"]["anyOf"][0]["enum"]
    assert enum == sorted(REGISTRY.outputs)


def test_readme_names_the_api_the_notebooks_use():
    import sweep

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    used = set()
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        for m in re.finditer(r"from sweep import ([A-Za-z_, ]+)", code):
            used |= {n.strip() for n in m.group(1).split(",") if n.strip()}
        used |= set(re.findall(r"\bsweep\.([a-z_]+)\(", code))
    assert {"boundary_along", "load_config", "plot_map"} <= used
    for name in sorted(used):
        assert name in sweep.__all__, name
        assert f"sweep.{name}" in readme or f"`{name}`" in readme, name
