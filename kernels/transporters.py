"""Transporters as stoichiometries, and the one generic kernel that serves them all.

A transporter is the list of ions it moves *in* per forward cycle (negative =
moved out), the compartment it sits in and the ATP it hydrolyses. From that
alone follow its cycle free energy, net charge, mode and (if electrogenic)
reversal potential:

    ΔG_cycle = RT Σ n_s ln([s]_in/[s]_out) + q F V + n_ATP ΔG_ATP,   q = Σ n_s z_s
    V_rev    = −(RT Σ n_s ln([s]_in/[s]_out) + n_ATP ΔG_ATP) / (q F)   (q ≠ 0)

so that ΔG_cycle = qF(V − V_rev) exactly.

References
----------
Chapter "Electrogenic versus Electroneutral Transport"; Blaustein M. P. &
Lederer W. J. (1999) Physiol Rev 79:763 (NCX); Palty R. et al. (2010) PNAS
107:436 (NCLX); Payne J. A. et al. (2003) Trends Neurosci 26:199 (KCC2/NKCC1);
Zerangue N. & Kavanaugh M. P. (1996) Nature 383:634 (EAAT3); Kanner B. I.
(1994) J Exp Biol 196:237 (GAT1); Orlowski J. & Grinstein S. (2004) Pflügers
Arch 447:549 (NHE1); Romero M. F. et al. (2013) Mol Aspects Med 34:159 (SLC4:
AE3, NDCBE).
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import Array

from .constants import J_PER_KJ, KJ_PER_MOL_PER_MV, LN10, MITO_SPECIES, VALENCE, R

__all__ = ["Transporter", "BUILTIN_TRANSPORTERS", "make_transporter"]

COMPARTMENTS = ("plasma", "mito")
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Transporter:
    """A transporter defined by its stoichiometry.

    Attributes
    ----------
    name : str
        Identifier used in output names (``dG_<name>``).
    stoichiometry : tuple of (species, n)
        Ions moved *in* (cytosol, or matrix for ``mito``) per forward cycle;
        n < 0 means moved out.
    atp : float
        ATP hydrolysed per forward cycle (adds ``atp * dG_atp``).
    compartment : {"plasma", "mito"}
        ``plasma``: in = cytosol (``<s>_i``), out = extracellular (``<s>_o``),
        voltage ``vm``. ``mito``: in = matrix (``<s>_m``), out = cytosol
        (``<s>_i``), voltage ``v_mito``.
    long_name, forward, reference : str
        Label, the forward cycle in words, and the source of the stoichiometry.
    user : bool
        True for transporters declared in a config (not compared in ``==``).
    """

    name: str
    stoichiometry: tuple[tuple[str, float], ...]
    atp: float = 0.0
    compartment: str = "plasma"
    long_name: str = ""
    forward: str = ""
    reference: str = ""
    user: bool = field(default=False, compare=False)

    @property
    def charge(self) -> float:
        """Net elementary charges moved in per forward cycle, q = Σ n_s z_s."""
        q = float(sum(n * VALENCE[s] for s, n in self.stoichiometry))
        # Fractional stoichiometries that cancel (e.g. thirds) can leave a 1e-17
        # residue that would make an electroneutral cycle look electrogenic.
        return 0.0 if abs(q) < 1e-9 else q

    @property
    def electrogenic(self) -> bool:
        """True when the cycle moves net charge (q ≠ 0), so ΔG depends on voltage."""
        return self.charge != 0.0

    @property
    def voltage_input(self) -> str:
        """Name of the input holding the voltage across this transporter's membrane."""
        return "v_mito" if self.compartment == "mito" else "vm"

    def inputs(self) -> tuple[str, ...]:
        """Input names this transporter's ΔG reads."""
        names: list[str] = ["temperature", self.voltage_input]
        for s, _ in self.stoichiometry:
            names += species_inputs(s, self.compartment)
        if self.atp:
            names.append("dG_atp")
        return tuple(dict.fromkeys(names))

    # --- the one generic kernel -------------------------------------------------
    def chemical(self, p: Mapping[str, Any]) -> Array:
        """RT Σ n_s ln([s]_in/[s]_out) + n_ATP ΔG_ATP, kJ/mol (the V-independent part).

        Parameters
        ----------
        p : mapping
            Input name -> scalar in stored units (concentrations mM, pH
            dimensionless, ``temperature`` K, ``dG_atp`` kJ/mol); see :meth:`inputs`.
        """
        rt = R * p["temperature"] / J_PER_KJ
        total = sum(n * log_ratio(p, s, self.compartment) for s, n in self.stoichiometry)
        out = rt * total
        if self.atp:
            out = out + self.atp * p["dG_atp"]
        return out

    def dG(self, p: Mapping[str, Any]) -> Array:
        """Free energy per forward cycle, kJ/mol (< 0: runs forward).

        Parameters
        ----------
        p : mapping
            Input name -> scalar in stored units (mM, mV, K, kJ/mol); the
            voltage is ``vm`` (plasma) or ``v_mito`` (mito), mV.
        """
        chem = self.chemical(p)
        if not self.electrogenic:
            return chem
        return chem + self.charge * KJ_PER_MOL_PER_MV * p[self.voltage_input]

    def v_rev(self, p: Mapping[str, Any]) -> Array:
        """Reversal potential, mV: the voltage at which ΔG = 0 (electrogenic only).

        Parameters
        ----------
        p : mapping
            Input name -> scalar in stored units (mM, K, kJ/mol).

        Raises
        ------
        ValueError
            The transporter is electroneutral.
        """
        if not self.electrogenic:
            raise ValueError(f"transporter {self.name!r} is electroneutral: it has no V_rev")
        return -self.chemical(p) / (self.charge * KJ_PER_MOL_PER_MV)

    def equilibrium_inside(self, p: Mapping[str, Any], species: str) -> Array:
        """Inside concentration of ``species`` at which ΔG = 0, all else fixed.

        Parameters
        ----------
        p : mapping
            Input name -> scalar in stored units (mM, mV, K, kJ/mol).
        species : str
            A species this transporter moves (e.g. ``"cl"``).

        Returns
        -------
        float
            Concentration in mM (for ``"h"``: [H⁺] in mM, not pH).

        Raises
        ------
        ValueError
            The transporter does not move ``species``.
        """
        n = dict(self.stoichiometry).get(species, 0)
        if n == 0:
            raise ValueError(f"transporter {self.name!r} does not move {species!r}")
        rt = R * p["temperature"] / J_PER_KJ
        rest = self.dG(p) - rt * n * log_ratio(p, species, self.compartment)
        return jnp.exp(_log_outside(p, species, self.compartment) - rest / (n * rt))


def species_inputs(species: str, compartment: str) -> tuple[str, str]:
    """(inside, outside) input names for ``species`` in ``compartment``.

    Parameters
    ----------
    species : str
        One of :data:`kernels.constants.VALENCE` (``"h"`` maps to the pH inputs).
    compartment : {"plasma", "mito"}
        ``plasma``: (``<s>_i``, ``<s>_o``); ``mito``: (``<s>_m``, ``<s>_i``).
    """
    if species == "h":
        if compartment == "mito":
            raise ValueError("species 'h' is not available in compartment 'mito'")
        return ("ph_i", "ph_o")
    if compartment == "mito":
        return (f"{species}_m", f"{species}_i")
    return (f"{species}_i", f"{species}_o")


def log_ratio(p: Mapping[str, Any], species: str, compartment: str) -> Array:
    """ln([s]_in/[s]_out), dimensionless; for H⁺ computed from pH without forming [H⁺].

    Parameters
    ----------
    p : mapping
        Input name -> scalar: concentrations in mM, pH dimensionless.
    species, compartment : str
        As in :func:`species_inputs`.
    """
    if species == "h":
        return (p["ph_o"] - p["ph_i"]) * LN10
    inside, outside = species_inputs(species, compartment)
    return jnp.log(p[inside]) - jnp.log(p[outside])


def _log_outside(p: Mapping[str, Any], species: str, compartment: str) -> Array:
    """ln([s]_out / 1 mM); for H⁺, [H⁺]_o = 10^(3 − pH_o) mM."""
    if species == "h":
        return (3.0 - p["ph_o"]) * LN10
    return jnp.log(p[species_inputs(species, compartment)[1]])


def _is_number(x: object) -> bool:
    # numbers.Real admits numpy scalars (np.int64 is not an int); bool is excluded
    # because `na: true` in a config is a typo, not a coefficient of 1.
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_)) and math.isfinite(x)


def make_transporter(
    name: str,
    stoichiometry: Mapping[str, float],
    atp: float = 0.0,
    compartment: str = "plasma",
    *,
    long_name: str = "",
    forward: str = "",
    reference: str = "",
    user: bool = True,
) -> Transporter:
    """Build a validated :class:`Transporter`.

    Parameters
    ----------
    name : str
        Lower-case identifier (letters, digits, ``_``; starts with a letter),
        used in output names ``dG_<name>``.
    stoichiometry : mapping of str to float
        Ions moved *in* per forward cycle, dimensionless counts (negative =
        out); species from :data:`kernels.constants.VALENCE` (``plasma``) or
        :data:`kernels.constants.MITO_SPECIES` (``mito``).
    atp : float
        ATP molecules hydrolysed per forward cycle, dimensionless (adds
        ``atp * dG_atp``, kJ/mol).
    compartment : {"plasma", "mito"}
        Membrane the transporter sits in.
    long_name, forward, reference : str
        Label, forward cycle in words, source of the stoichiometry.
    user : bool
        True for config-declared transporters.

    Returns
    -------
    Transporter

    Raises
    ------
    ValueError
        Unknown species (with the closest valid name), empty or all-zero
        stoichiometry, unknown compartment, species not present in the
        mitochondrial matrix, non-finite coefficients, or a bad name.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValueError(
            f"transporter name {name!r} is not allowed: use lower-case letters, digits and '_', "
            "starting with a letter"
        )
    if compartment not in COMPARTMENTS:
        raise ValueError(
            f"transporters.{name}.compartment = {compartment!r} is not allowed: "
            f"must be one of {', '.join(COMPARTMENTS)}"
        )
    if not isinstance(stoichiometry, Mapping) or not stoichiometry:
        raise ValueError(
            f"transporters.{name}.stoichiometry = {stoichiometry!r} is not allowed: "
            "must map species to ions moved in per cycle, e.g. {na: 3, ca: -1}"
        )
    allowed = MITO_SPECIES if compartment == "mito" else tuple(VALENCE)
    items: list[tuple[str, float]] = []
    for s, n in stoichiometry.items():
        if s not in allowed:
            close = difflib.get_close_matches(str(s), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"transporters.{name}.stoichiometry: unknown species {s!r} for compartment "
                f"{compartment!r}{hint}; allowed: {', '.join(allowed)}"
            )
        if not _is_number(n):
            raise ValueError(
                f"transporters.{name}.stoichiometry.{s} = {n!r} is not allowed: must be a finite number"
            )
        if n != 0:
            items.append((s, float(n)))
    if not items:
        raise ValueError(
            f"transporters.{name}.stoichiometry = {dict(stoichiometry)!r} is not allowed: "
            "at least one coefficient must be non-zero"
        )
    if not _is_number(atp):
        raise ValueError(
            f"transporters.{name}.atp = {atp!r} is not allowed: must be a finite number"
        )
    return Transporter(
        name=name,
        stoichiometry=tuple(items),
        atp=float(atp),
        compartment=compartment,
        long_name=long_name or f"{name} (user-defined)",
        forward=forward or _describe(items, compartment),
        reference=reference,
        user=user,
    )


def _describe(items: list[tuple[str, float]], compartment: str) -> str:
    where = "matrix" if compartment == "mito" else "cell"
    ins = [f"{n:g} {s}" for s, n in items if n > 0]
    outs = [f"{-n:g} {s}" for s, n in items if n < 0]
    parts = []
    if ins:
        parts.append(" + ".join(ins) + f" into the {where}")
    if outs:
        parts.append(" + ".join(outs) + " out")
    return "; ".join(parts)


def _builtin(name, stoich, atp=0.0, compartment="plasma", *, long_name, forward, reference):
    return make_transporter(
        name,
        stoich,
        atp,
        compartment,
        long_name=long_name,
        forward=forward,
        reference=reference,
        user=False,
    )


#: The transporters of physics.md, by name.
BUILTIN_TRANSPORTERS: dict[str, Transporter] = {
    t.name: t
    for t in (
        _builtin(
            "kcc2",
            {"k": -1, "cl": -1},
            long_name="KCC2 (SLC12A5) K⁺–Cl⁻ cotransporter",
            forward="1 K⁺ + 1 Cl⁻ out",
            reference="Payne et al. 2003 Trends Neurosci 26:199",
        ),
        _builtin(
            "nkcc1",
            {"na": 1, "k": 1, "cl": 2},
            long_name="NKCC1 (SLC12A2) Na⁺–K⁺–2Cl⁻ cotransporter",
            forward="1 Na⁺ + 1 K⁺ + 2 Cl⁻ in",
            reference="Russell 2000 Physiol Rev 80:211",
        ),
        _builtin(
            "ncx",
            {"na": 3, "ca": -1},
            long_name="NCX Na⁺/Ca²⁺ exchanger (plasma membrane)",
            forward="3 Na⁺ in, 1 Ca²⁺ out",
            reference="Blaustein & Lederer 1999 Physiol Rev 79:763",
        ),
        _builtin(
            "nclx",
            {"na": 3, "ca": -1},
            compartment="mito",
            long_name="NCLX (SLC8B1) mitochondrial Na⁺/Ca²⁺ exchanger",
            forward="3 Na⁺ cytosol→matrix, 1 Ca²⁺ matrix→cytosol",
            reference="Palty et al. 2010 PNAS 107:436",
        ),
        _builtin(
            "nka",
            {"na": -3, "k": 2},
            atp=1.0,
            long_name="Na⁺/K⁺-ATPase",
            forward="3 Na⁺ out, 2 K⁺ in, 1 ATP hydrolysed",
            reference="Skou 1957; Läuger 1991 Electrogenic Ion Pumps",
        ),
        _builtin(
            "eaat3",
            {"na": 3, "h": 1, "glu": 1, "k": -1},
            long_name="EAAT3 (SLC1A1) glutamate transporter",
            forward="3 Na⁺ + 1 H⁺ + 1 Glu⁻ in, 1 K⁺ out",
            reference="Zerangue & Kavanaugh 1996 Nature 383:634",
        ),
        _builtin(
            "gat1",
            {"na": 2, "cl": 1, "gaba": 1},
            long_name="GAT1 (SLC6A1) GABA transporter",
            forward="2 Na⁺ + 1 Cl⁻ + 1 GABA in",
            reference="Kanner 1994 J Exp Biol 196:237",
        ),
        _builtin(
            "nhe1",
            {"na": 1, "h": -1},
            long_name="NHE1 (SLC9A1) Na⁺/H⁺ exchanger",
            forward="1 Na⁺ in, 1 H⁺ out",
            reference="Orlowski & Grinstein 2004 Pflügers Arch 447:549",
        ),
        _builtin(
            "ae3",
            {"cl": 1, "hco3": -1},
            long_name="AE3 (SLC4A3) Cl⁻/HCO₃⁻ exchanger",
            forward="1 Cl⁻ in, 1 HCO₃⁻ out",
            reference="Romero et al. 2013 Mol Aspects Med 34:159",
        ),
        _builtin(
            "ndcbe",
            {"na": 1, "hco3": 2, "cl": -1},
            long_name="NDCBE (SLC4A8) Na⁺-driven Cl⁻/HCO₃⁻ exchanger",
            forward="1 Na⁺ + 2 HCO₃⁻ in, 1 Cl⁻ out",
            reference="Romero et al. 2013 Mol Aspects Med 34:159",
        ),
    )
}
