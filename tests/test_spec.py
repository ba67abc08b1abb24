"""Config validation: every bad-config class is refused up front with one clear line."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sweep.cli import main
from sweep.spec import ConfigError, load_spec, parse_config, parse_yaml

BASE = {
    "name": "t",
    "axes": {"vm": {"start": "-90 mV", "stop": "0 mV", "num": 4}},
    "outputs": ["dG_ncx"],
}


def cfg(**kw):
    d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    d.update(kw)
    return d


def refused(data, *needles):
    with pytest.raises(ConfigError) as ei:
        parse_config(data)
    msg = str(ei.value)
    assert "\n" not in msg
    for n in needles:
        assert n in msg, msg
    return msg


def test_valid_config_converts_units():
    spec = parse_config(
        cfg(
            parameters={"ca_i": "100 nM", "temperature": "37 degC", "na_o": "0.145 M"},
            axes={
                "vm": {"start": "-0.09 V", "stop": "0 mV", "num": 4},
                "na_i": {"values": ["5 mM", "10000 uM"]},
            },
        )
    )
    assert spec.parameters["ca_i"] == pytest.approx(1e-4, rel=1e-15)
    assert spec.parameters["temperature"] == pytest.approx(310.15, rel=1e-15)
    assert spec.parameters["na_o"] == pytest.approx(145.0, rel=1e-15)
    np.testing.assert_allclose(spec.axes[0].values, [-90, -60, -30, 0], rtol=1e-14)
    np.testing.assert_allclose(spec.axes[1].values, [5, 10], rtol=1e-14)
    assert spec.shape == (4, 2)
    assert spec.dims == ("vm", "na_i")
    # every default filled in, swept inputs removed
    assert "na_i" not in spec.parameters and spec.parameters["k_o"] == 3.5
    assert spec.resolved["parameters"]["k_o"] == 3.5


def test_log_axis_and_companions():
    spec = parse_config(
        cfg(axes={"na_i": {"start": "5 mM", "stop": "50 mM", "num": 3, "spacing": "log"}})
    )
    np.testing.assert_allclose(spec.axes[0].values, [5, math.sqrt(250), 50], rtol=1e-14)


@pytest.mark.parametrize(
    "params,needles",
    [
        ({"na_i": "-3 mM"}, ["parameters.na_i", "-3 mM", "> 0"]),
        ({"na_i": "0 mM"}, ["parameters.na_i", "> 0"]),
        ({"na_i": "nan mM"}, ["parameters.na_i", "finite"]),
        ({"na_i": "5 mV"}, ["parameters.na_i", "wrong dimension", "concentration"]),
        ({"v_mito": "5 mM"}, ["parameters.v_mito", "wrong dimension", "potential"]),
        ({"na_i": 5}, ["parameters.na_i", "no unit", "5 mM"]),
        ({"p_hco3_cl": "0.2 mM"}, ["parameters.p_hco3_cl", "dimension"]),
        ({"temperature": "-5 K"}, ["parameters.temperature", "> 0"]),
        ({"na_i": "5 blargs"}, ["parameters.na_i", "unknown unit"]),
        ({"na_ii": "5 mM"}, ["na_ii", "did you mean 'na_i'"]),
    ],
)
def test_bad_parameters(params, needles):
    refused(cfg(parameters=params), *needles)


def test_fraction_out_of_range():
    # p_kcc2 comes with the steady-state inputs; mode_tolerance and p_hco3_cl are core
    refused(cfg(parameters={"p_hco3_cl": -0.1}), "p_hco3_cl", ">= 0")
    reg_inputs = parse_config(cfg()).registry.inputs
    if "p_kcc2" in reg_inputs:
        refused(cfg(parameters={"p_kcc2": 1.5}), "parameters.p_kcc2", "1.5", "[0, 1]")


@pytest.mark.parametrize(
    "data,needles",
    [
        (cfg(colour="red"), ["unknown key 'colour'"]),
        (cfg(outputz=["x"]), ["unknown key 'outputz'", "did you mean 'outputs'"]),
        (cfg(outputs=["dG_nxc"]), ["unknown output 'dG_nxc'", "did you mean 'dG_ncx'"]),
        (cfg(outputs=[]), ["outputs is empty"]),
        (cfg(axes={}), ["axes is empty"]),
        (cfg(axes={"vmm": {"values": ["1 mV"]}}), ["unknown axis 'vmm'", "did you mean 'vm'"]),
        (cfg(axes={"vm": {"values": []}}), ["axes.vm.values", "non-empty"]),
        (cfg(axes={"vm": {"start": "0 mV", "stop": "1 mV", "num": 0}}), ["axes.vm.num", ">= 1"]),
        (
            cfg(axes={"vm": {"start": "-90 mV", "stop": "0 mV", "num": 5, "spacing": "log"}}),
            ["axes.vm", "through zero"],
        ),
        (
            cfg(axes={"na_i": {"start": "-5 mM", "stop": "5 mM", "num": 5, "spacing": "log"}}),
            ["axes.na_i.start", "> 0"],
        ),
        (
            cfg(axes={"vm": {"start": "1 mV", "stop": "2 mV", "num": 3, "spacing": "cubic"}}),
            ["axes.vm.spacing", "linear or log"],
        ),
        (cfg(axes={"vm": {"start": "1 mV", "stop": "2 mV", "num": 3, "step": 1}}), ["'step'"]),
        (cfg(parameters={"vm": "1 mV"}), ["'vm' is both a parameter and an axis"]),
        (cfg(precision="float16"), ["precision", "float32, float64"]),
        (cfg(name="Bad Name"), ["name", "lower-case"]),
        (cfg(chunks={"na_i": 3}), ["chunks", "'na_i' is not a dimension"]),
        (cfg(chunks={"vm": 0}), ["chunks.vm", ">= 1"]),
        (cfg(design={"method": "sobel", "n": 8}), ["design.method", "did you mean 'sobol'"]),
        (cfg(design={"method": "sobol", "n": 8}), ["axes.vm.num is not allowed"]),
        (cfg(keep_full=False), ["keep_full = false needs"]),
        (
            cfg(
                axes={"vm": {"values": ["1 mV", "2 mV"]}, "na_i": {"values": ["5 mM", "6 mM"]}},
                reduce=[
                    {"output": "dG_ncx", "stats": ["min"], "over": ["vm"]},
                    {"output": "dG_ncx", "stats": ["min"], "over": ["na_i"]},
                ],
            ),
            ["reduce[1]", "'dG_ncx_min' is already computed by reduce[0]"],
        ),
        (cfg(design={"method": "grid", "n": 10}), ["design.n is not allowed with method grid"]),
        (
            cfg(
                axes={"vm": {"start": "-90 mV", "stop": "0 mV"}},
                design={"method": "saltelli", "n": 100},
            ),
            ["design.n = 100", "power of 2"],
        ),
        (
            cfg(
                axes={"vm": {"start": "-90 mV", "stop": "0 mV"}},
                design={"method": "lhs", "n": 8, "second_order": True},
            ),
            ["design.second_order", "saltelli"],
        ),
        (
            cfg(reduce=[{"output": "dG_ncx", "stats": ["fraction_forward"], "over": ["vm"]}]),
            ["reduce[0].stats", "fraction_forward"],
        ),
        (cfg(reduce=[{"output": "dG_ncx", "stats": ["min"], "over": ["na_i"]}]), ["not an axis"]),
        (
            cfg(transporters={"x": {"stoichiometry": {"naa": 1}}}),
            ["unknown species 'naa'", "did you mean 'na'"],
        ),
    ],
)
def test_bad_configs(data, needles):
    refused(data, *needles)


def test_yaml_python_tags_refused():
    text = "name: x\nouts: !!python/object/apply:os.system ['echo hi']\n"
    with pytest.raises(ConfigError, match="construct Python objects"):
        parse_yaml(text)


def test_yaml_syntax_error_is_one_line():
    with pytest.raises(ConfigError) as ei:
        parse_yaml("name: [unclosed\n")
    assert "invalid YAML" in str(ei.value) and "\n" not in str(ei.value)


def test_user_transporter_outputs():
    spec = parse_config(
        cfg(
            transporters={
                "my_symporter": {
                    "stoichiometry": {"na": 2, "glu": 1, "k": -1},
                    "compartment": "plasma",
                }
            },
            outputs=["dG_my_symporter", "mode_my_symporter"],
        )
    )
    # 2 Na+ + 1 Glu- in, 1 K+ out: q = 2 - 1 - 1 = 0, electroneutral, so no V_rev
    assert spec.registry.outputs["dG_my_symporter"].attrs["charge"] == 0.0
    assert spec.outputs == ("dG_my_symporter", "mode_my_symporter")
    refused(
        cfg(
            transporters={"my_symporter": {"stoichiometry": {"na": 2, "glu": 1, "k": -1}}},
            outputs=["v_rev_my_symporter"],
        ),
        "unknown output 'v_rev_my_symporter'",
    )


def test_too_big_for_disk(tmp_path, capsys):
    huge = {
        "name": "huge",
        "axes": {
            "vm": {"start": "-90 mV", "stop": "0 mV", "num": 100000},
            "na_i": {"start": "5 mM", "stop": "50 mM", "num": 100000},
            "ca_i": {"start": "50 nM", "stop": "1 uM", "num": 100000},
        },
        "outputs": ["dG_ncx"],
        "store": str(tmp_path / "huge.zarr"),
    }
    import yaml

    p = tmp_path / "huge.yaml"
    p.write_text(yaml.safe_dump(huge))
    assert main(["run", str(p)]) == 2
    err = capsys.readouterr().err
    assert "free" in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "huge.zarr").exists()


def test_cli_bad_config_writes_nothing(tmp_path, capsys):
    p = tmp_path / "bad.yaml"
    p.write_text(
        f"name: bad\nstore: {tmp_path / 'bad.zarr'}\naxes:\n  na_i: {{values: [-1 mM]}}\n"
        "outputs: [dG_na]\n"
    )
    assert main(["run", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sweep: error: axes.na_i.values[0]") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == [p]


def test_missing_config_file(capsys):
    assert main(["plan", "/nonexistent/x.yaml"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_shipped_configs_validate():
    from pathlib import Path

    for path in sorted(Path(__file__).parent.parent.glob("configs/*.yaml")):
        spec = load_spec(path)
        assert spec.n_points > 0, path


def test_unit_conversion_gives_the_intended_decimal():
    from sweep.units import parse_quantity

    # pint's factors leave last-bit errors; a config's decimal must come back exactly
    assert parse_quantity("x", "100 nM", "mM") == 1e-4
    assert parse_quantity("x", "1 uM", "mM") == 1e-3
    assert parse_quantity("x", "0.145 M", "mM") == 145.0
    assert parse_quantity("x", "-0.07 V", "mV") == -70.0
    assert parse_quantity("x", "145 mM", "mM") == 145.0


# --- model choices (config.md "Model choices") -----------------------------------
def test_model_choice_reaches_the_registry_and_the_resolved_config():
    spec = parse_config(cfg(model={"pump": "saturating"}))
    assert spec.registry.model == {"pump": "saturating"}
    assert spec.model == {"pump": "saturating"}
    assert spec.resolved["model"] == {"pump": "saturating"}
    default = parse_config(cfg())
    # the default is filled in, so the store records every choice
    assert default.registry.model == {"pump": "cubic"}
    assert default.resolved["model"] == {"pump": "cubic"}
    assert parse_config(cfg(model={"pump": "cubic"})).config_hash == default.config_hash
    assert default.config_hash != spec.config_hash  # a choice changes the equations


def test_model_choice_is_recorded_in_the_store(tmp_path):
    import json

    import xarray as xr

    from sweep import run

    spec = parse_config(cfg(model={"pump": "saturating"}, store=str(tmp_path / "m.zarr")))
    run(spec, progress=False)
    attrs = xr.open_zarr(spec.store).attrs
    assert json.loads(attrs["config"])["model"] == {"pump": "saturating"}
    assert attrs["config_hash"] == spec.config_hash


@pytest.mark.parametrize(
    ("model", "needles"),
    [
        ({"pump": "linear"}, ("model.pump = 'linear' is not allowed", "cubic, saturating")),
        ({"pmp": "cubic"}, ("model.pmp", "did you mean 'pump'", "allowed: pump")),
        ("cubic", ("model = 'cubic' is not allowed", "mapping")),
        ({"pump": ["cubic"]}, ("model.pump = ['cubic'] is not allowed",)),
    ],
)
def test_model_choice_refused_with_one_line(model, needles):
    refused(cfg(model=model), *needles)


def test_model_choice_is_not_an_axis_or_parameter():
    refused(cfg(axes={"pump": {"values": [1, 2]}}), "unknown axis 'pump'")
    refused(cfg(parameters={"pump": 1}), "unknown parameter 'pump'")


# --- the canonical spec (what crosses to workers) --------------------------------
def _assert_same_spec(a, b):
    assert a == b and a.resolved == b.resolved and a.config_hash == b.config_hash
    assert a.parameters == b.parameters and a.outputs == b.outputs and a.model == b.model
    for x, y in zip(a.axes, b.axes, strict=True):
        assert x.values.dtype == y.values.dtype
        np.testing.assert_array_equal(x.values, y.values)


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))
)
def test_canonical_spec_rebuilds_identically(path):
    from sweep.spec import spec_from_canonical

    spec = load_spec(path)
    _assert_same_spec(spec_from_canonical(spec.canonical), spec)


def test_canonical_spec_of_designs_transporters_and_models():
    from sweep.spec import spec_from_resolved

    for extra in (
        {"design": {"method": "sobol", "n": 16, "seed": 3}},
        {"design": {"method": "saltelli", "n": 8, "second_order": True}},
        {"model": {"pump": "saturating"}, "precision": "float32"},
        {"transporters": {"my_symporter": {"stoichiometry": {"na": 2, "glu": 1, "k": -1}}}},
        {"parameters": {"ca_i": "100 nM", "temperature": "37 degC"}, "mode_tolerance": "1 J/mol"},
        {"axes": {"vm": {"values": ["-90 mV", "-12.5 mV", "0.1 V"]}}},
    ):
        data = cfg(**extra)
        if "design" in extra:
            data["axes"] = {"vm": {"start": "-90 mV", "stop": "0 mV"}}
        if "transporters" in extra:
            data["outputs"] = ["dG_my_symporter"]
        spec = parse_config(data)
        _assert_same_spec(spec_from_resolved(spec.resolved), spec)
    with pytest.raises(ConfigError, match="version"):
        spec_from_resolved({**spec.resolved, "version": 2})
