"""The one status vocabulary (kernels.solvers) and the static model choices of the registry."""

import pytest

from kernels import solvers, steady_state
from kernels.registry import MODEL_CHOICES, REGISTRY, resolve_model
from kernels.solvers import NOT_WRITTEN, Status


def test_codes_are_int8_and_distinct_from_sentinel_and_classes():
    codes = [int(s) for s in Status]
    assert len(set(codes)) == len(codes)
    assert all(0 <= c <= 127 for c in codes)
    # The "not written" fill value is no status code and no mode/polarity/class code.
    assert NOT_WRITTEN not in codes and NOT_WRITTEN not in (-1, 0, 1)
    assert -128 <= NOT_WRITTEN <= 127


def test_every_code_has_a_message():
    assert set(solvers.MESSAGES) == set(Status)
    assert all(m for m in solvers.MESSAGES.values())
    assert solvers.describe(2).startswith("2 not_converged: ")
    assert "unknown" in solvers.describe(99)


def test_flag_attrs_follow_the_enum():
    attrs = solvers.flag_attrs([Status.NOT_CONVERGED, Status.CONVERGED])
    assert attrs == {"flag_values": [0, 2], "flag_meanings": "converged not_converged"}
    full = solvers.flag_attrs()
    assert full["flag_values"] == [int(s) for s in Status]


def test_steady_states_use_the_shared_codes():
    for code, name in steady_state.STATUS.items():
        assert Status(code).name.lower() == name


def test_model_choices_default_and_refusals():
    assert resolve_model() == {k: v[0] for k, v in MODEL_CHOICES.items()}
    assert REGISTRY.model["pump"] == "cubic"
    reg = REGISTRY.with_model({"pump": "saturating"})
    assert reg.model["pump"] == "saturating" and REGISTRY.model["pump"] == "cubic"
    # user transporters keep the model choices
    reg2 = reg.with_transporters({"sym": {"stoichiometry": {"na": 1, "cl": 1}}})
    assert reg2.model == reg.model
    with pytest.raises(
        ValueError, match=r"^model\.pump = 'quadratic' is not allowed: must be one of"
    ):
        REGISTRY.with_model({"pump": "quadratic"})
    with pytest.raises(
        ValueError, match=r"^model\.pmp: unknown model choice \(did you mean 'pump'\?\)"
    ):
        REGISTRY.with_model({"pmp": "cubic"})
