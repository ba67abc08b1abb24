"""The registry: every input and output name, with unit, default, range and meaning.

It is the single source of names for the rest of the product: the config
validator, ``sweep list``, the store's attributes and the generated docs all
read it. Outputs are computed from a complete mapping of inputs by
:meth:`Registry.evaluate`, which is pure JAX and safe under ``jit``/``vmap``.

Examples
--------
>>> from kernels import evaluate
>>> round(float(evaluate({"vm": -65.0}, ["dG_na"])["dG_na"]), 4)
-12.6942
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import Array

from . import _tc_inputs, branches, cell, kinetics, steady_state, thermo
from ._spec import InputSpec, OutputSpec, cached
from .constants import NERNST_SPECIES, T_DEFAULT, VALENCE
from .transporters import (
    BUILTIN_TRANSPORTERS,
    Transporter,
    log_ratio,
    make_transporter,
    species_inputs,
)

__all__ = ["Registry", "REGISTRY", "MODEL_CHOICES", "evaluate", "effective_inputs", "suggest"]

#: Static model choices (the config's ``model:`` section; config.md "Model
#: choices"): key -> allowed values, the first being the default. They change
#: the equations, so they are closed over when outputs are built and are never
#: an axis.
MODEL_CHOICES: dict[str, tuple[str, ...]] = {
    # Whole-cell NKA law (physics.md "Whole-cell steady state"): cubic
    # (Kay 2017; Düsterwald et al. 2018) or saturating (Kager et al. 2000; GPB 2010).
    "pump": ("cubic", "saturating"),
}


def resolve_model(choices: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Every model choice with its default filled in; ``ValueError`` (one line) if invalid."""
    choices = dict(choices or {})
    for key, value in choices.items():
        if key not in MODEL_CHOICES:
            raise ValueError(
                f"model.{key}: unknown model choice{suggest(key, MODEL_CHOICES)}; "
                f"allowed: {', '.join(MODEL_CHOICES)}"
            )
        if value not in MODEL_CHOICES[key]:
            raise ValueError(
                f"model.{key} = {value!r} is not allowed: must be one of "
                f"{', '.join(MODEL_CHOICES[key])}"
            )
    return {k: str(choices.get(k, v[0])) for k, v in MODEL_CHOICES.items()}


_ION_NAMES = {
    "na": "Na⁺",
    "k": "K⁺",
    "cl": "Cl⁻",
    "ca": "Ca²⁺",
    "hco3": "HCO₃⁻",
    "h": "H⁺",
    "glu": "glutamate",
    "gaba": "GABA",
}


def _conc(name: str, default: float, long_name: str, description: str, reference: str = ""):
    return InputSpec(
        name,
        "mM",
        default,
        long_name,
        description,
        lower=0.0,
        lower_open=True,
        reference=reference,
        concentration=True,
    )


_HILLE = "Hille 2001 Ion Channels of Excitable Membranes, 3rd ed., ch. 1 (typical mammalian values)"
_CHAPTER = "chapter (docs/transporters-chapter.md)"
_HH_REF = (
    "Henderson–Hasselbalch with pK′ 6.1 and α = 0.0307 mM/mmHg (Severinghaus et al. 1956 "
    "J Appl Physiol 9:197; Austin et al. 1963 J Appl Physiol 18:301)"
)
#: ATP, ADP, Pi and ΔG°′ whose ΔG_ATP (−54.98 kJ/mol at 310 K) is the basis of dG_atp.
_ATP_I, _ADP_I, _PI_I, _DG0_ATP = 2.0, 0.05, 3.0, -30.5
_ATP_CONC_REF = (
    "assumption within the ranges reviewed for brain by Erecińska & Silver 1989 J Cereb "
    "Blood Flow Metab 9:2 (ATP 2–3 mM; free ADP tens of µM, computed from creatine-kinase "
    "equilibrium as in Veech et al. 1979 J Biol Chem 254:6538; Pi 1–3 mM): chosen with "
    "ΔG°′ = −30.5 kJ/mol to give dG_atp = −55 kJ/mol"
)


def _core_inputs() -> list[InputSpec]:
    ins = [
        InputSpec(
            "temperature",
            "K",
            T_DEFAULT,
            "temperature",
            "absolute temperature",
            lower=0.0,
            lower_open=True,
            reference="chapter worked examples (310 K)",
        ),
        InputSpec(
            "vm",
            "mV",
            -70.0,
            "membrane potential",
            "membrane potential ψ_in − ψ_out",
            reference=_CHAPTER + ": resting V_m ≈ −70 mV",
        ),
    ]
    conc = [
        ("na_i", 12.0, "cytosolic Na⁺", _CHAPTER + " worked example (12 mM)"),
        ("na_o", 145.0, "extracellular Na⁺", _CHAPTER + " worked example (145 mM)"),
        ("k_i", 140.0, "cytosolic K⁺", _HILLE),
        ("k_o", 3.5, "extracellular K⁺", _HILLE + "; brain ECF 3–3.5 mM"),
        ("cl_i", 5.0, "cytosolic Cl⁻", _CHAPTER + " (mature neuron, 5 mM)"),
        ("cl_o", 130.0, "extracellular Cl⁻", _CHAPTER + " ([Cl⁻]ₒ ≈ 130 mM, E_Cl = −87 mV)"),
        ("ca_i", 1e-4, "cytosolic free Ca²⁺", _HILLE + " (resting free Ca²⁺ ≈ 100 nM)"),
        ("ca_o", 2.0, "extracellular Ca²⁺", _HILLE + " (≈ 2 mM)"),
        (
            "hco3_i",
            16.0,
            "cytosolic HCO₃⁻",
            "≈ CO₂ equilibrium at pH 7.2 (15.5 mM at 40 mmHg, 16 mM at 41 mmHg): " + _HH_REF,
        ),
        (
            "hco3_o",
            26.0,
            "extracellular HCO₃⁻",
            "≈ CO₂ equilibrium at pH 7.4 (24.5 mM at 40 mmHg, 26 mM at 42 mmHg): " + _HH_REF,
        ),
        (
            "glu_i",
            10.0,
            "cytosolic glutamate (z = −1)",
            "Fonnum 1984 J Neurochem 42:1 (cytosolic glutamate ≈ 10 mM)",
        ),
        (
            "glu_o",
            1e-3,
            "extracellular glutamate (z = −1)",
            "assumption: 1 µM, upper end of resting estimates (Herman & Jahr 2007 "
            "J Neurosci 27:9736 give ≈ 25 nM)",
        ),
        (
            "gaba_i",
            2.0,
            "cytosolic GABA (z = 0)",
            "assumption: mM range of cytosolic GABA in GABAergic neurons, to sweep",
        ),
        (
            "gaba_o",
            1e-3,
            "extracellular GABA (z = 0)",
            "assumption: 1 µM (resting ambient GABA is sub-µM), to sweep",
        ),
        (
            "na_m",
            5.0,
            "mitochondrial matrix Na⁺",
            "assumption: matrix Na⁺ a few mM, below cytosolic Na⁺, to sweep",
        ),
        (
            "ca_m",
            1e-4,
            "mitochondrial matrix free Ca²⁺",
            "assumption: resting matrix free Ca²⁺ ≈ cytosolic (≈ 100 nM), to sweep",
        ),
        ("atp_i", _ATP_I, "cytosolic ATP", _ATP_CONC_REF),
        ("adp_i", _ADP_I, "cytosolic free ADP", _ATP_CONC_REF),
        ("pi_i", _PI_I, "cytosolic inorganic phosphate", _ATP_CONC_REF),
    ]
    for name, default, long_name, ref in conc:
        ins.append(_conc(name, default, long_name, f"{long_name} concentration", ref))
    ins += [
        InputSpec(
            "ph_i",
            "",
            7.2,
            "cytosolic pH",
            "cytosolic pH; [H⁺] = 10^(3 − pH) mM",
            reference="Roos & Boron 1981 Physiol Rev 61:296 (cytosolic pH ≈ 7.0–7.3)",
        ),
        InputSpec(
            "ph_o",
            "",
            7.4,
            "extracellular pH",
            "extracellular pH; [H⁺] = 10^(3 − pH) mM",
            reference="Roos & Boron 1981 Physiol Rev 61:296 (plasma/ECF pH 7.4)",
        ),
        InputSpec(
            "pco2",
            "mmHg",
            40.0,
            "pCO₂",
            "partial pressure of CO₂ (both sides of the membrane); read when "
            "co2_equilibrium = 1 and by hco3_i_co2, hco3_o_co2",
            lower=0.0,
            lower_open=True,
            reference="normal arterial pCO₂ 35–45 mmHg (textbook value, e.g. Boron & Boulpaep, "
            "Medical Physiology)",
        ),
        InputSpec(
            "co2_equilibrium",
            "",
            0.0,
            "CO₂ equilibrium",
            "1: hco3_i, hco3_o follow pH and pco2 by Henderson–Hasselbalch "
            "(0.0307·pCO₂·10^(pH − 6.1) mM), so a pH sweep moves HCO₃⁻; 0 (default): "
            "hco3_i, hco3_o are independent inputs (values ≥ 0.5 count as 1)",
            lower=0.0,
            upper=1.0,
            reference="assumption: off by default, so that results with independent "
            "HCO₃⁻ inputs stay as they were; " + _HH_REF,
        ),
        InputSpec(
            "v_mito",
            "mV",
            -160.0,
            "mitochondrial membrane potential",
            "ψ_matrix − ψ_cytosol",
            reference=_CHAPTER + " (V_mito ≈ −160 mV)",
        ),
        InputSpec(
            "dG_atp",
            "kJ/mol",
            -55.0,
            "ΔG of ATP hydrolysis",
            "free energy of ATP hydrolysis in the cytosol (used by the NKA cycle); "
            "dG_atp_derived computes it from atp_i, adp_i, pi_i, dG0_atp",
            reference="ΔG°′ + RT ln([ADP][Pi]/[ATP]) = −54.98 kJ/mol at the defaults "
            "(dG_atp_derived; ΔG°′ −30.5 kJ/mol, ATP 2 mM, ADP 50 µM, Pi 3 mM, 310 K)",
        ),
        InputSpec(
            "dG0_atp",
            "kJ/mol",
            _DG0_ATP,
            "ΔG°′ of ATP hydrolysis",
            "standard transformed free energy of ATP hydrolysis (pH 7, excess Mg²⁺, 1 M)",
            reference="textbook ΔG°′ = −30.5 kJ/mol (25 °C, pH 7; e.g. Nelson & Cox, Lehninger "
            "Principles of Biochemistry); Alberty & Goldberg 1992 Biochemistry "
            "31:10610 (its dependence on pH, pMg and ionic strength: ≈ −31 to −36 kJ/mol)",
        ),
        InputSpec(
            "p_hco3_cl",
            "",
            0.2,
            "P_HCO3/P_Cl",
            "GABA_A permeability ratio of HCO₃⁻ to Cl⁻ (0 gives E_GABA = E_Cl)",
            lower=0.0,
            reference="Bormann et al. 1987 J Physiol 385:243",
        ),
        InputSpec(
            "mode_tolerance",
            "kJ/mol",
            1e-3,
            "mode tolerance",
            "|ΔG| below which a transporter is reported at equilibrium (mode 0); "
            "divided by F it is the polarity tolerance in mV",
            lower=0.0,
            reference="assumption: a numerical band (1 J/mol ≈ 4e-4 RT), not a physical "
            "quantity; far above float64 rounding of ΔG",
        ),
    ]
    return ins


def effective_inputs(p: Mapping[str, Any]) -> Mapping[str, Any]:
    """``p`` with hco3_i, hco3_o from CO₂ equilibrium where ``co2_equilibrium`` ≥ 0.5.

    Henderson–Hasselbalch, [HCO₃⁻] = 0.0307·pCO₂·10^(pH − 6.1) mM on each side
    (:func:`kernels.thermo.hco3_from_co2`). Where the flag is 0 the given
    hco3_i, hco3_o pass through unchanged (bit for bit). Every output reads its
    inputs through this mapping, so E_HCO3, ΔG_AE3, E_GABA, … all follow pH.
    """
    if "co2_equilibrium" not in p:
        return p
    on = jnp.asarray(p["co2_equilibrium"]) >= 0.5
    out = dict(p)
    for side in ("i", "o"):
        hh = thermo._hco3_from_co2(p[f"ph_{side}"], p["pco2"])
        out[f"hco3_{side}"] = jnp.where(on, hh, p[f"hco3_{side}"])
    return out


def _nernst_fn(s: str):
    z = VALENCE[s]
    inside, outside = species_inputs(s, "plasma")

    def fn(p, cache):
        rt_f = thermo._rt_f_mv(p["temperature"])
        if s == "h":  # from pH: ln([H]_o/[H]_i) = (pH_i − pH_o) ln 10
            return rt_f / z * (p["ph_i"] - p["ph_o"]) * thermo.LN10
        return rt_f / z * (jnp.log(p[outside]) - jnp.log(p[inside]))

    return fn


def _dG_ion_fn(s: str):
    z = VALENCE[s]

    def fn(p, cache):
        rt = thermo.R * p["temperature"] * 1e-3
        return rt * log_ratio(p, s, "plasma") + z * thermo.KJ_PER_MOL_PER_MV * p["vm"]

    return fn


def _thermo_outputs() -> list[OutputSpec]:
    outs: list[OutputSpec] = []
    for s in NERNST_SPECIES:
        ion = _ION_NAMES[s]
        outs.append(
            OutputSpec(
                f"e_{s}",
                "mV",
                f"E_{s.capitalize()}",
                f"Nernst potential of {ion}",
                _nernst_fn(s),
            )
        )
        outs.append(
            OutputSpec(
                f"dG_{s}",
                "kJ/mol",
                f"ΔG of {ion} influx",
                f"electrochemical ΔG of moving 1 mol of {ion} from out to in",
                _dG_ion_fn(s),
            )
        )

    def _e_gaba(p, cache):
        return cached(
            cache,
            "e_gaba",
            lambda: thermo.e_gaba(
                p["cl_i"], p["cl_o"], p["hco3_i"], p["hco3_o"], p["p_hco3_cl"], p["temperature"]
            ),
        )

    def _df(p, cache):
        return _e_gaba(p, cache) - p["vm"]

    def _pol(p, cache):
        return thermo.polarity(_df(p, cache), thermo.tolerance_mv(p["mode_tolerance"]))

    outs += [
        OutputSpec(
            "dG_atp_derived",
            "kJ/mol",
            "ΔG_ATP from concentrations",
            "ΔG°′ + RT ln([ADP][Pi]/[ATP]) from dG0_atp, atp_i, adp_i, pi_i (1 M standard "
            "state); the NKA cycle reads dG_atp, whose default this reproduces",
            lambda p, cache: thermo._dG_atp_hydrolysis(
                p["atp_i"], p["adp_i"], p["pi_i"], p["dG0_atp"], p["temperature"]
            ),
            attrs={"reference": "Alberty & Goldberg 1992 Biochemistry 31:10610"},
        ),
        OutputSpec(
            "hco3_i_co2",
            "mM",
            "[HCO₃⁻]ᵢ at CO₂ equilibrium",
            "0.0307·pCO₂·10^(pH_i − 6.1): cytosolic HCO₃⁻ in equilibrium with pco2 at ph_i",
            lambda p, cache: thermo._hco3_from_co2(p["ph_i"], p["pco2"]),
            attrs={"reference": _HH_REF},
            concentration=True,
        ),
        OutputSpec(
            "hco3_o_co2",
            "mM",
            "[HCO₃⁻]ₒ at CO₂ equilibrium",
            "0.0307·pCO₂·10^(pH_o − 6.1): extracellular HCO₃⁻ in equilibrium with pco2 at ph_o",
            lambda p, cache: thermo._hco3_from_co2(p["ph_o"], p["pco2"]),
            attrs={"reference": _HH_REF},
            concentration=True,
        ),
        OutputSpec(
            "e_gaba",
            "mV",
            "E_GABA",
            "GABA_A reversal potential (GHK with Cl⁻ and HCO₃⁻)",
            _e_gaba,
        ),
        OutputSpec("df_gaba", "mV", "E_GABA − V_m", "GABA_A driving force E_GABA − V_m", _df),
        OutputSpec(
            "gaba_polarity",
            "",
            "GABA polarity",
            "+1 depolarizing, −1 hyperpolarizing, 0 within tolerance",
            _pol,
            dtype="int8",
        ),
    ]
    return outs


def transporter_outputs(t: Transporter) -> list[OutputSpec]:
    """``dG_<t>``, ``mode_<t>`` and (electrogenic) ``v_rev_<t>`` for one transporter."""
    attrs = {
        "charge": t.charge,
        "forward": t.forward,
        "compartment": t.compartment,
        "stoichiometry": {s: n for s, n in t.stoichiometry},
        "atp": t.atp,
    }
    if t.reference:
        attrs["reference"] = t.reference

    def dG(p, cache):
        return cached(cache, f"dG_{t.name}", lambda: t.dG(p))

    def mode(p, cache):
        return thermo.sign_mode(dG(p, cache), p["mode_tolerance"])

    outs = [
        OutputSpec(
            f"dG_{t.name}",
            "kJ/mol",
            f"ΔG {t.name.upper()}",
            f"free energy per forward cycle of {t.long_name} ({t.forward}); < 0 runs forward",
            dG,
            attrs=attrs,
        ),
        OutputSpec(
            f"mode_{t.name}",
            "",
            f"{t.name.upper()} mode",
            f"{t.long_name}: +1 forward ({t.forward}), −1 reverse, 0 at equilibrium",
            mode,
            dtype="int8",
            attrs={"flag_values": [-1, 0, 1], "flag_meanings": "reverse equilibrium forward"},
        ),
    ]
    if t.electrogenic:
        volt = "v_mito" if t.compartment == "mito" else "V_m"
        outs.append(
            OutputSpec(
                f"v_rev_{t.name}",
                "mV",
                f"V_rev {t.name.upper()}",
                f"{volt} at which ΔG of {t.long_name} is zero",
                lambda p, cache: t.v_rev(p),
                attrs={"charge": t.charge},
            )
        )
    return outs


def _equilibrium_outputs() -> list[OutputSpec]:
    kcc2, nkcc1 = BUILTIN_TRANSPORTERS["kcc2"], BUILTIN_TRANSPORTERS["nkcc1"]
    return [
        OutputSpec(
            "cl_i_eq_kcc2",
            "mM",
            "[Cl⁻]ᵢ at KCC2 equilibrium",
            "lowest [Cl⁻]ᵢ KCC2 can reach: [K]_o[Cl]_o/[K]_i (E_Cl = E_K)",
            lambda p, cache: kcc2.equilibrium_inside(p, "cl"),
            concentration=True,
        ),
        OutputSpec(
            "cl_i_eq_nkcc1",
            "mM",
            "[Cl⁻]ᵢ at NKCC1 equilibrium",
            "highest [Cl⁻]ᵢ NKCC1 can reach: [Cl]_o √([Na]_o[K]_o/([Na]_i[K]_i))",
            lambda p, cache: nkcc1.equilibrium_inside(p, "cl"),
            concentration=True,
        ),
    ]


def suggest(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    choices = list(choices)
    lower = {c.lower(): c for c in choices}
    if name.lower() in lower:  # 'Vm' -> 'vm'
        return f" (did you mean {lower[name.lower()]!r}?)"
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Registry:
    """Inputs, outputs and transporters known to the engine.

    A registry is immutable; :meth:`with_transporters` returns a new one that
    also knows user-defined transporters, :meth:`with_model` one whose outputs
    use other static model choices (``model``: every key of
    :data:`MODEL_CHOICES`, defaults filled in).
    """

    def __init__(
        self,
        inputs: Iterable[InputSpec],
        outputs: Iterable[OutputSpec],
        transporters: Mapping[str, Transporter],
        model: Mapping[str, str] | None = None,
    ) -> None:
        self.model: dict[str, str] = resolve_model(model)
        self.inputs: dict[str, InputSpec] = {}
        for i in inputs:
            if i.name in self.inputs:
                raise ValueError(f"input {i.name!r} is declared twice")
            self.inputs[i.name] = i
        self.transporters: dict[str, Transporter] = dict(transporters)
        self.outputs: dict[str, OutputSpec] = {}
        for o in outputs:
            if o.attrs.get("state") == cell.STATE_ATTR:
                continue  # whole-cell outputs are rebuilt below (model, transporters)
            if o.name in self.outputs or o.name in self.inputs:
                raise ValueError(f"output {o.name!r} clashes with an existing name")
            self.outputs[o.name] = o
        if all(i.name in self.inputs for i in cell.INPUTS):
            names = list(self.inputs)
            for o in cell.whole_cell_outputs(self.outputs, self.transporters, self.model, names):
                if o.name in self.inputs:
                    raise ValueError(f"output {o.name!r} clashes with an existing name")
                self.outputs[o.name] = o

    # --- construction -----------------------------------------------------------
    def with_transporters(self, specs: Mapping[str, Mapping[str, Any]]) -> Registry:
        """A new registry that also knows the transporters in ``specs``.

        ``specs`` maps a name to ``{stoichiometry: {species: n}, atp: x,
        compartment: plasma|mito}`` (the config's ``transporters:`` section).
        """
        new: dict[str, Transporter] = {}
        for name, spec in specs.items():
            if name in self.transporters:
                raise ValueError(
                    f"transporters.{name}: a transporter named {name!r} already exists; "
                    "choose another name"
                )
            if not isinstance(spec, Mapping):
                raise ValueError(
                    f"transporters.{name} = {spec!r} is not allowed: must be a mapping with "
                    "stoichiometry, atp, compartment"
                )
            unknown = set(spec) - {"stoichiometry", "atp", "compartment", "long_name"}
            if unknown:
                key = sorted(unknown)[0]
                raise ValueError(
                    f"transporters.{name}: unknown key {key!r}"
                    f"{suggest(key, ['stoichiometry', 'atp', 'compartment', 'long_name'])}; "
                    "allowed: stoichiometry, atp, compartment, long_name"
                )
            new[name] = make_transporter(
                name,
                spec.get("stoichiometry", {}),
                spec.get("atp", 0.0),
                spec.get("compartment", "plasma"),
                long_name=spec.get("long_name", ""),
            )
        outs = list(self.outputs.values())
        for t in new.values():
            for o in transporter_outputs(t):
                if o.name in self.outputs or o.name in self.inputs:
                    raise ValueError(
                        f"transporters.{t.name}: its output {o.name!r} would clash with an "
                        "existing name; choose another transporter name"
                    )
                outs.append(o)
        return Registry(self.inputs.values(), outs, {**self.transporters, **new}, self.model)

    def with_model(self, choices: Mapping[str, Any] | None) -> Registry:
        """A new registry with the static model choices ``choices`` (config ``model:``).

        Unknown keys or values raise ``ValueError`` naming ``model.<key>``, the
        value and the allowed values.
        """
        model = resolve_model({**self.model, **dict(choices or {})})
        return Registry(self.inputs.values(), self.outputs.values(), self.transporters, model)

    # --- look-ups ---------------------------------------------------------------
    def input(self, name: str) -> InputSpec:
        """The :class:`InputSpec` called ``name`` (``ValueError`` with a suggestion if unknown)."""
        try:
            return self.inputs[name]
        except KeyError:
            raise ValueError(
                f"unknown input {name!r}{suggest(name, self.inputs)}; see 'sweep list'"
            ) from None

    def output(self, name: str) -> OutputSpec:
        """The :class:`OutputSpec` called ``name`` (``ValueError`` with a suggestion if unknown)."""
        try:
            return self.outputs[name]
        except KeyError:
            raise ValueError(
                f"unknown output {name!r}{suggest(name, self.outputs)}; see 'sweep list'"
            ) from None

    def defaults(self) -> dict[str, float]:
        """Every input's default value, in stored units."""
        return {n: i.default for n, i in self.inputs.items()}

    def resolve_outputs(self, names: Sequence[str]) -> tuple[str, ...]:
        """Validate ``names`` and add companions (status, residual), keeping order."""
        out: list[str] = []
        for n in names:
            spec = self.output(n)
            for m in (n, *spec.companions):
                if m not in out:
                    out.append(m)
        return tuple(out)

    def check_inputs(self, values: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` for an unknown name or a concrete value out of range."""
        for name, v in values.items():
            self.input(name).check(v)

    # --- evaluation -------------------------------------------------------------
    def evaluate(self, p: Mapping[str, Any], names: Sequence[str]) -> dict[str, Array]:
        """Compute outputs ``names`` from a *complete* input mapping ``p`` (pure JAX).

        Nothing is validated here (it runs under ``jit``/``vmap``); use
        :func:`evaluate` for checked single-point calls. With ``co2_equilibrium``
        on, hco3_i and hco3_o are replaced by their CO₂-equilibrium values
        first (:func:`effective_inputs`).
        """
        p = effective_inputs(p)
        cache: dict = {}
        res = {}
        for n in names:
            spec = self.outputs[n]
            v = spec.fn(p, cache)
            res[n] = v.astype(jnp.int8) if spec.dtype == "int8" else v
        return res


def _build_default() -> Registry:
    inputs = _core_inputs() + list(kinetics.INPUTS) + list(steady_state.INPUTS)
    inputs += list(cell.INPUTS)  # whole-cell outputs are built by Registry (model choices)
    inputs += list(_tc_inputs.INPUTS)  # kernels.timecourse.INPUTS (beta_ca)
    outputs = _thermo_outputs()
    for t in BUILTIN_TRANSPORTERS.values():
        outputs += transporter_outputs(t)
    outputs += _equilibrium_outputs()
    outputs += list(kinetics.OUTPUTS) + list(steady_state.OUTPUTS) + list(branches.OUTPUTS)
    return Registry(inputs, outputs, BUILTIN_TRANSPORTERS)


#: The default registry (built-in transporters only).
REGISTRY: Registry = _build_default()


def evaluate(
    inputs: Mapping[str, Any] | None = None,
    outputs: Sequence[str] | str = (),
    *,
    transporters: Mapping[str, Mapping[str, Any]] | None = None,
    registry: Registry | None = None,
) -> dict[str, Array]:
    """Evaluate outputs at one point (or elementwise over same-shaped arrays), with checks.

    Parameters
    ----------
    inputs : mapping, optional
        Input values in stored units (mM, mV, K, kJ/mol, ...); missing inputs
        take their registry defaults.
    outputs : str or sequence of str
        Output names (see ``sweep list``); companions are added.
    transporters : mapping, optional
        User-defined transporters, as in the config's ``transporters:`` section.
    registry : Registry, optional
        Registry to use (default :data:`REGISTRY`).

    Returns
    -------
    dict
        Output name -> JAX array, float64 (int8 for codes), whatever the global
        ``jax_enable_x64`` setting: Python numbers and the defaults are float64
        (importing :mod:`kernels` enables x64, as the sweep engine does; float32
        sweeps pass float32 arrays to :meth:`Registry.evaluate`).

    Raises
    ------
    ValueError
        Unknown input or output name, or a concrete input outside its range.
    """
    if not jax.config.jax_enable_x64:
        with jax.enable_x64(True):
            return evaluate(inputs, outputs, transporters=transporters, registry=registry)
    reg = registry or REGISTRY
    if transporters:
        reg = reg.with_transporters(transporters)
    if isinstance(outputs, str):
        outputs = [outputs]
    inputs = dict(inputs or {})
    reg.check_inputs(inputs)
    names = reg.resolve_outputs(outputs)
    p = {**reg.defaults(), **inputs}
    p = {k: jnp.asarray(v) for k, v in p.items()}
    return reg.evaluate(p, names)
