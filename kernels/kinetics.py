"""Kinetic flux laws: KCC2 and NKCC1 (linear-thermodynamic) and NCX (GPB 2010, allosteric).

Every function is a pure JAX scalar kernel in the stored units (mM, mV, K,
mM/s, µA/cm²), safe under ``jit``/``vmap``. Public functions check *concrete*
arguments (``ValueError`` naming the argument, as in :mod:`kernels.thermo`);
the registry's output functions call the unchecked private forms, so nothing
raises inside a sweep.

Sign conventions
----------------
- ``J_KCC2`` counts cycles *out* (1 K⁺ + 1 Cl⁻ extruded), ``J_NKCC1`` cycles
  *in* (1 Na⁺ + 1 K⁺ + 2 Cl⁻ taken up); both in mM/s. Each is proportional to
  minus its cycle ΔG (``J = −U ΔG/RT`` in the forward direction), so its sign is
  the transporter's ``mode`` and it vanishes exactly where ΔG does.
- ``I_NCX`` is the exchanger current, outward positive (reverse mode: 3 Na⁺
  out, 1 Ca²⁺ in). ``sign(I_NCX) = sign(ΔG_NCX)`` (forward mode, ΔG < 0, is an
  inward current) and ``I_NCX = 0`` exactly where ΔG_NCX = 0, i.e. at
  V_rev = 3E_Na − 2E_Ca: the driving term is written as
  ``expm1(ΔG_NCX/RT)`` with ΔG_NCX the *same* float the ``dG_ncx`` output and
  the mode use (:meth:`kernels.transporters.Transporter.dG`), and ``expm1``
  keeps the sign of its argument. Every other factor is positive, so the sign
  is exact wherever no factor under- or overflows (|V_m| below ~3 V in float32).
  For ΔG/RT > 1 the drive is formed as e^{ln(reverse term) + ΔG/RT} − reverse
  term, which is the published forward term e^{νu}[Na]_i³[Ca]_o and stays
  finite where ``expm1`` alone would overflow (ΔG/RT > 88.7 in float32).
- GPB's temperature factors: I_NCX × q10_ncx^((T − 310 K)/10 K), q10_ncx = 1.57
  (and I_PMCA × 2.35^(…) in :mod:`kernels.steady_state`); exactly 1 at 310 K.
- AE3 (1 Cl⁻ in, 1 HCO₃⁻ out) and NDCBE (1 Na⁺ + 2 HCO₃⁻ in, 1 Cl⁻ out) have
  the same linear-thermodynamic law, ``J = −U ΔG/RT`` in cycles forward, with
  capacities ``u_ae3``, ``u_ndcbe`` (default 0: not part of the default balance).

Regulation never moves a reversal potential: phosphorylation (``p_*``,
``rho_*``) and drugs (``bumetanide``, ``vu0463271``) scale the capacities U only;
the allosteric factor Ka and the optional Na⁺-dependent inactivation factor
scale I_NCX only.

References
----------
Doyon N. et al. (2011) PLoS Comput Biol 7:e1002149 (flux ∝ driving force).
Wei Y., Ullah G. & Schiff S. J. (2014) J Neurosci 34:11733 (capacities, γ, g_Cl).
Düsterwald K. M. et al. (2018) eLife 7:e39575 (KCC2-only E_Cl steady state).
Grandi E., Pasqualini F. S. & Bers D. M. (2010) J Mol Cell Cardiol 48:112 (I_NCX).
Weber C. R. et al. (2001) J Gen Physiol 117:119 (allosteric Ca²⁺ activation, K_dact).
Hilgemann D. W. et al. (1992) J Gen Physiol 100:905 (Na⁺-dependent inactivation).
Romero M. F., Chen A.-P., Parker M. D. & Boron W. F. (2013) Mol Aspects Med 34:159
(SLC4: AE3, NDCBE stoichiometries).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from ._checks import check_finite, check_positive, check_range
from ._spec import InputSpec, OutputSpec
from .constants import J_PER_KJ, MV_PER_V, F, R
from .thermo import _q10_factor
from .transporters import BUILTIN_TRANSPORTERS

__all__ = [
    "NCXParams",
    "block",
    "capacities",
    "kcc2_capacity",
    "nkcc1_capacity",
    "j_kcc2",
    "j_nkcc1",
    "j_ae3",
    "j_ndcbe",
    "nkcc1_ko_factor",
    "ncx_activation",
    "ncx_inactivation",
    "i_ncx",
    "INPUTS",
    "OUTPUTS",
]

_WEI = "Wei, Ullah & Schiff 2014 J Neurosci 34:11733"
_GPB = "Grandi, Pasqualini & Bers 2010 J Mol Cell Cardiol 48:112"

# Defaults used both by INPUTS and by keyword defaults below (one place each).
_IC50_BUMETANIDE = 2e-4  # mM (0.2 µM)
_IC50_VU0463271 = 6.1e-5  # mM (61 nM)
_F_INACT, _K_INACT, _N_INACT = 0.0, 20.0, 2.0  # Na⁺-dependent NCX inactivation: off
_Q10_NCX = 1.57  # GPB 2010, reference 310 K

_REF_BUMETANIDE = (
    "Isenring et al. 1998 J Biol Chem 273:11295 (bumetanide Ki ≈ 0.1–0.2 µM at NKCC1, "
    "⁸⁶Rb⁺ uptake in HEK-293 cells); Löscher, Puskarjov & Kaila 2013 Neuropharmacology "
    "69:62 (review: IC50 ≈ 0.1–0.5 µM at NKCC1, ≥ 10-fold above at KCC2)"
)
_REF_VU0463271 = (
    "Delpire et al. 2012 Bioorg Med Chem Lett 22:4532 (VU0463271: IC50 61 nM at KCC2, "
    "Tl⁺ flux; > 100-fold selective over NKCC1)"
)
_REF_U_NKCC1 = (
    "calibration (not a measured capacity): with u_kcc2, g_cl and gamma it sets the "
    "default chloride steady state to [Cl⁻]ᵢ,ss = 5.61 mM (mature neuron, E_GABA,ss = "
    "−73.0 mV) and, with p_nkcc1 = 1 and KCC2 off, to 45.0 mM (immature neuron); the "
    "number is Wei et al. 2014's U_NKCC1, but their f([K]ₒ) gate (≈ 3.7e-6 at 3.5 mM) is "
    "off by default (ko_gate_nkcc1), so the effective capacity is not theirs"
)


# --------------------------------------------------------------------------- helpers
def _rt_f_mv(temperature: ArrayLike) -> Array:
    """RT/F in mV."""
    return R * jnp.asarray(temperature) / F * MV_PER_V


def _remaining(c: ArrayLike, ic50: ArrayLike) -> Array:
    # 1 − c/(c + IC50) written without the cancellation at high c.
    return ic50 / (c + ic50)


def block(c: ArrayLike, ic50: ArrayLike) -> Array:
    """Fraction of transporters blocked by a drug, c / (c + IC50).

    Parameters
    ----------
    c : float
        Drug concentration, mM (≥ 0).
    ic50 : float
        Half-blocking concentration, mM (> 0).

    Returns
    -------
    float
        Blocked fraction, dimensionless, in [0, 1).
    """
    check_range("c", c, lower=0.0, unit="mM")
    check_positive("ic50", ic50)
    return c / (c + ic50)


def _kcc2_capacity(u, p, rho, drug, ic50):
    return u * ((1.0 - p) + p * rho) * _remaining(drug, ic50)


def _nkcc1_capacity(u, p, rho, drug, ic50):
    return u * (rho + (1.0 - rho) * p) * _remaining(drug, ic50)


def kcc2_capacity(
    u_kcc2: ArrayLike,
    p_kcc2: ArrayLike,
    rho_kcc2: ArrayLike,
    vu0463271: ArrayLike = 0.0,
    ic50_vu0463271: ArrayLike = _IC50_VU0463271,
) -> Array:
    """Effective KCC2 capacity U_K = u·[(1 − p) + p·ρ]·(1 − block).

    Phosphorylation at T906/T1007 (WNK–SPAK/OSR1) inhibits KCC2: a fraction
    ``p_kcc2`` runs at relative activity ``rho_kcc2``.

    Parameters
    ----------
    u_kcc2 : float
        Capacity of unphosphorylated, unblocked KCC2, mM/s (≥ 0).
    p_kcc2 : float
        Phosphorylated fraction, dimensionless, in [0, 1].
    rho_kcc2 : float
        Relative activity of phosphorylated KCC2, dimensionless, in [0, 1].
    vu0463271 : float
        VU0463271 concentration, mM (≥ 0).
    ic50_vu0463271 : float
        Its IC50, mM (> 0).

    Returns
    -------
    float
        U_K in mM/s.

    References
    ----------
    Wei et al. (2014) J Neurosci 34:11733; Moore Y. E. et al. (2018) PNAS 115:10166.
    """
    for name, v in (("p_kcc2", p_kcc2), ("rho_kcc2", rho_kcc2)):
        check_range(name, v, lower=0.0, upper=1.0)
    check_range("u_kcc2", u_kcc2, lower=0.0, unit="mM/s")
    check_range("vu0463271", vu0463271, lower=0.0, unit="mM")
    check_positive("ic50_vu0463271", ic50_vu0463271)
    return _kcc2_capacity(u_kcc2, p_kcc2, rho_kcc2, vu0463271, ic50_vu0463271)


def nkcc1_capacity(
    u_nkcc1: ArrayLike,
    p_nkcc1: ArrayLike,
    rho_nkcc1: ArrayLike,
    bumetanide: ArrayLike = 0.0,
    ic50_bumetanide: ArrayLike = _IC50_BUMETANIDE,
) -> Array:
    """Effective NKCC1 capacity U_N = u·[ρ + (1 − ρ)·p]·(1 − block).

    SPAK/OSR1 phosphorylation activates NKCC1: unphosphorylated NKCC1 runs at
    relative activity ``rho_nkcc1``, the phosphorylated fraction ``p_nkcc1`` at 1.

    Parameters
    ----------
    u_nkcc1 : float
        Capacity of fully phosphorylated, unblocked NKCC1, mM/s (≥ 0).
    p_nkcc1 : float
        Phosphorylated fraction, dimensionless, in [0, 1].
    rho_nkcc1 : float
        Relative activity of unphosphorylated NKCC1, dimensionless, in [0, 1].
    bumetanide : float
        Bumetanide concentration, mM (≥ 0).
    ic50_bumetanide : float
        Its IC50, mM (> 0).

    Returns
    -------
    float
        U_N in mM/s.

    References
    ----------
    Wei et al. (2014) J Neurosci 34:11733.
    """
    for name, v in (("p_nkcc1", p_nkcc1), ("rho_nkcc1", rho_nkcc1)):
        check_range(name, v, lower=0.0, upper=1.0)
    check_range("u_nkcc1", u_nkcc1, lower=0.0, unit="mM/s")
    check_range("bumetanide", bumetanide, lower=0.0, unit="mM")
    check_positive("ic50_bumetanide", ic50_bumetanide)
    return _nkcc1_capacity(u_nkcc1, p_nkcc1, rho_nkcc1, bumetanide, ic50_bumetanide)


def _nkcc1_ko_factor(k_o, w):
    # (1 − w) + w·f([K]_o), f = 1/(1 + e^{16 − [K]_o}); exactly 1 when w = 0.
    return (1.0 - w) + w * jax.nn.sigmoid(k_o - 16.0)


def nkcc1_ko_factor(k_o: ArrayLike, ko_gate_nkcc1: ArrayLike) -> Array:
    """Optional [K⁺]ₒ gate of NKCC1 of Wei et al. 2014, (1 − w) + w/(1 + e^{16 − [K]_o}).

    Wei et al. multiply their NKCC1 flux by f([K]ₒ) = 1/(1 + exp(16 − [K]ₒ/mM))
    (≈ 3.7e-6 at 3.5 mM: NKCC1 nearly silent at rest, active in high [K⁺]ₒ).
    The engine's default w = 0 leaves the capacity unchanged; w = 1 is their form.

    Parameters
    ----------
    k_o : float
        Extracellular K⁺, mM (> 0).
    ko_gate_nkcc1 : float
        Weight w of the gate, dimensionless, in [0, 1].

    Returns
    -------
    float
        Factor on U_N, dimensionless, in (0, 1].

    References
    ----------
    Wei, Ullah & Schiff (2014) J Neurosci 34:11733.
    """
    check_positive("k_o", k_o)
    check_range("ko_gate_nkcc1", ko_gate_nkcc1, lower=0.0, upper=1.0)
    return _nkcc1_ko_factor(jnp.asarray(k_o), jnp.asarray(ko_gate_nkcc1))


# ------------------------------------------------------------------ KCC2 / NKCC1
def _j_kcc2_log(ln_k_i, ln_k_o, ln_cl_i, ln_cl_o, u_k):
    return u_k * ((ln_k_i - ln_k_o) + (ln_cl_i - ln_cl_o))


def _j_nkcc1_log(ln_na_i, ln_na_o, ln_k_i, ln_k_o, ln_cl_i, ln_cl_o, u_n):
    return u_n * ((ln_na_o - ln_na_i) + (ln_k_o - ln_k_i) + 2.0 * (ln_cl_o - ln_cl_i))


def j_kcc2(
    k_i: ArrayLike, k_o: ArrayLike, cl_i: ArrayLike, cl_o: ArrayLike, u_k: ArrayLike
) -> Array:
    """KCC2 cycle rate J_KCC2 = U_K·ln([K]_i[Cl]_i / ([K]_o[Cl]_o)), cycles *out*.

    Parameters
    ----------
    k_i, k_o, cl_i, cl_o : float
        K⁺ and Cl⁻ inside / outside, mM (> 0).
    u_k : float
        Effective capacity U_K (:func:`kcc2_capacity`), mM/s (≥ 0).

    Returns
    -------
    float
        J_KCC2 in mM/s (> 0: K⁺ and Cl⁻ extruded). Equals −U_K·ΔG_KCC2/RT, so it
        vanishes exactly at [Cl]_i = [K]_o[Cl]_o/[K]_i whatever U_K is.

    References
    ----------
    Doyon et al. (2011) PLoS Comput Biol 7:e1002149; Wei et al. (2014) J Neurosci 34:11733.
    """
    for name, v in (("k_i", k_i), ("k_o", k_o), ("cl_i", cl_i), ("cl_o", cl_o)):
        check_positive(name, v)
    check_range("u_k", u_k, lower=0.0, unit="mM/s")
    return _j_kcc2_log(jnp.log(k_i), jnp.log(k_o), jnp.log(cl_i), jnp.log(cl_o), u_k)


def j_nkcc1(
    na_i: ArrayLike,
    na_o: ArrayLike,
    k_i: ArrayLike,
    k_o: ArrayLike,
    cl_i: ArrayLike,
    cl_o: ArrayLike,
    u_n: ArrayLike,
) -> Array:
    """NKCC1 cycle rate J_NKCC1 = U_N·ln([Na]_o[K]_o[Cl]_o² / ([Na]_i[K]_i[Cl]_i²)), cycles *in*.

    Parameters
    ----------
    na_i, na_o, k_i, k_o, cl_i, cl_o : float
        Na⁺, K⁺, Cl⁻ inside / outside, mM (> 0).
    u_n : float
        Effective capacity U_N (:func:`nkcc1_capacity`), mM/s (≥ 0).

    Returns
    -------
    float
        J_NKCC1 in mM/s (> 0: 1 Na⁺ + 1 K⁺ + 2 Cl⁻ taken up). Equals
        −U_N·ΔG_NKCC1/RT.

    References
    ----------
    Doyon et al. (2011) PLoS Comput Biol 7:e1002149; Wei et al. (2014) J Neurosci 34:11733
    (their factor f([K]_o) is dropped, see physics.md).
    """
    for name, v in (
        ("na_i", na_i),
        ("na_o", na_o),
        ("k_i", k_i),
        ("k_o", k_o),
        ("cl_i", cl_i),
        ("cl_o", cl_o),
    ):
        check_positive(name, v)
    check_range("u_n", u_n, lower=0.0, unit="mM/s")
    logs = [jnp.log(c) for c in (na_i, na_o, k_i, k_o, cl_i, cl_o)]
    return _j_nkcc1_log(*logs, u_n)


# --------------------------------------------------------------------- AE3 / NDCBE
def _j_ae3_log(ln_cl_i, ln_cl_o, ln_hco3_i, ln_hco3_o, u_a):
    return u_a * ((ln_cl_o - ln_cl_i) + (ln_hco3_i - ln_hco3_o))


def _j_ndcbe_log(ln_na_i, ln_na_o, ln_hco3_i, ln_hco3_o, ln_cl_i, ln_cl_o, u_d):
    return u_d * ((ln_na_o - ln_na_i) + 2.0 * (ln_hco3_o - ln_hco3_i) + (ln_cl_i - ln_cl_o))


def j_ae3(
    cl_i: ArrayLike, cl_o: ArrayLike, hco3_i: ArrayLike, hco3_o: ArrayLike, u_a: ArrayLike
) -> Array:
    """AE3 cycle rate J_AE3 = U_A·ln([Cl]_o[HCO₃]_i / ([Cl]_i[HCO₃]_o)), cycles forward (Cl⁻ in).

    Parameters
    ----------
    cl_i, cl_o, hco3_i, hco3_o : float
        Cl⁻ and HCO₃⁻ inside / outside, mM (> 0).
    u_a : float
        AE3 capacity, mM/s (≥ 0).

    Returns
    -------
    float
        J_AE3 in mM/s (> 0: 1 Cl⁻ in, 1 HCO₃⁻ out). Equals −U_A·ΔG_AE3/RT, so it
        vanishes exactly at E_Cl = E_HCO3.

    References
    ----------
    Romero et al. (2013) Mol Aspects Med 34:159 (stoichiometry); the flux law is
    that of KCC2/NKCC1 here (Doyon et al. 2011 PLoS Comput Biol 7:e1002149).
    """
    for name, v in (("cl_i", cl_i), ("cl_o", cl_o), ("hco3_i", hco3_i), ("hco3_o", hco3_o)):
        check_positive(name, v)
    check_range("u_a", u_a, lower=0.0, unit="mM/s")
    logs = [jnp.log(c) for c in (cl_i, cl_o, hco3_i, hco3_o)]
    return _j_ae3_log(*logs, u_a)


def j_ndcbe(
    na_i: ArrayLike,
    na_o: ArrayLike,
    hco3_i: ArrayLike,
    hco3_o: ArrayLike,
    cl_i: ArrayLike,
    cl_o: ArrayLike,
    u_d: ArrayLike,
) -> Array:
    """NDCBE cycle rate J = U_D·ln([Na]_o[HCO₃]_o²[Cl]_i / ([Na]_i[HCO₃]_i²[Cl]_o)), cycles forward.

    Parameters
    ----------
    na_i, na_o, hco3_i, hco3_o, cl_i, cl_o : float
        Na⁺, HCO₃⁻, Cl⁻ inside / outside, mM (> 0).
    u_d : float
        NDCBE capacity, mM/s (≥ 0).

    Returns
    -------
    float
        J_NDCBE in mM/s (> 0: 1 Na⁺ + 2 HCO₃⁻ in, 1 Cl⁻ out). Equals
        −U_D·ΔG_NDCBE/RT: zero at E_Cl = 2E_HCO3 − E_Na.

    References
    ----------
    Grichtchenko I. I. et al. (2001) J Biol Chem 276:8358 (NDCBE, SLC4A8);
    Romero et al. (2013) Mol Aspects Med 34:159.
    """
    for name, v in (
        ("na_i", na_i),
        ("na_o", na_o),
        ("hco3_i", hco3_i),
        ("hco3_o", hco3_o),
        ("cl_i", cl_i),
        ("cl_o", cl_o),
    ):
        check_positive(name, v)
    check_range("u_d", u_d, lower=0.0, unit="mM/s")
    logs = [jnp.log(c) for c in (na_i, na_o, hco3_i, hco3_o, cl_i, cl_o)]
    return _j_ndcbe_log(*logs, u_d)


# ------------------------------------------------------------------------- NCX
class NCXParams(NamedTuple):
    """Parameters of the GPB 2010 NCX current (a pytree; fields are scalars).

    Attributes
    ----------
    ibar : float
        Maximal current Ī, µA/cm² (≥ 0).
    nu : float
        Voltage-dependence position ν, dimensionless, in [0, 1].
    ksat : float
        Saturation factor k_sat at negative potentials, dimensionless (≥ 0).
    km_cai, km_cao, km_nai, km_nao : float
        Transport-site affinities, mM (> 0).
    k_dact : float
        Allosteric Ca²⁺ activation constant K_dact, mM (> 0).
    n_act : float
        Hill coefficient of allosteric activation, dimensionless (≥ 0).
    f_inact : float
        Maximal fraction lost to Na⁺-dependent inactivation, dimensionless in
        [0, 1]; 0 (default) leaves I_NCX unchanged.
    k_inact : float
        [Na⁺]ᵢ of half-maximal inactivation, mM (> 0).
    n_inact : float
        Hill coefficient of inactivation, dimensionless (≥ 0).
    q10 : float
        GPB temperature coefficient, dimensionless (> 0): I_NCX scales by
        q10^((T − 310 K)/10 K); 1.57 in GPB 2010.
    """

    ibar: Any
    nu: Any
    ksat: Any
    km_cai: Any
    km_cao: Any
    km_nai: Any
    km_nao: Any
    k_dact: Any
    n_act: Any
    f_inact: Any = _F_INACT
    k_inact: Any = _K_INACT
    n_inact: Any = _N_INACT
    q10: Any = _Q10_NCX

    @classmethod
    def from_inputs(cls, p: Mapping[str, Any]) -> NCXParams:
        """Build from a registry input mapping (``ibar_ncx``, ``nu_ncx``, ...)."""
        return cls(
            ibar=p["ibar_ncx"],
            nu=p["nu_ncx"],
            ksat=p["ksat_ncx"],
            km_cai=p["km_cai"],
            km_cao=p["km_cao"],
            km_nai=p["km_nai"],
            km_nao=p["km_nao"],
            k_dact=p["k_dact"],
            n_act=p["n_act"],
            f_inact=p["f_inact_ncx"],
            k_inact=p["k_inact_ncx"],
            n_inact=p["n_inact_ncx"],
            q10=p["q10_ncx"],
        )

    def check(self) -> None:
        """Raise ``ValueError`` for a concrete field outside its range."""
        check_range("ibar", self.ibar, lower=0.0, unit="uA/cm**2")
        check_range("nu", self.nu, lower=0.0, upper=1.0)
        check_range("ksat", self.ksat, lower=0.0)
        for name in ("km_cai", "km_cao", "km_nai", "km_nao", "k_dact", "k_inact"):
            check_positive(name, getattr(self, name))
        check_range("n_act", self.n_act, lower=0.0)
        check_range("f_inact", self.f_inact, lower=0.0, upper=1.0)
        check_range("n_inact", self.n_inact, lower=0.0)
        check_positive("q10", self.q10, "")

    def valid(self) -> Array:
        """Traced range check: True where every field is finite and in range."""
        conds = [
            self.ibar >= 0,
            (self.nu >= 0) & (self.nu <= 1),
            self.ksat >= 0,
            self.km_cai > 0,
            self.km_cao > 0,
            self.km_nai > 0,
            self.km_nao > 0,
            self.k_dact > 0,
            self.n_act >= 0,
            (self.f_inact >= 0) & (self.f_inact <= 1),
            self.k_inact > 0,
            self.n_inact >= 0,
            self.q10 > 0,
        ]
        out = conds[0]
        for c in conds[1:]:
            out = out & c
        for v in self:
            out = out & jnp.isfinite(v)
        return out


def _ncx_activation(ln_ca_i, k_dact, n_act):
    # 1/(1 + (K/Ca)^n) as a logistic in ln Ca: no overflow for tiny Ca or large n.
    return jax.nn.sigmoid(n_act * (ln_ca_i - jnp.log(k_dact)))


def _ncx_inactivation(ln_na_i, f_inact, k_inact, n_inact):
    # (1 − f) + f·K^n/(K^n + Na^n); exactly 1 when f = 0.
    return (1.0 - f_inact) + f_inact * jax.nn.sigmoid(n_inact * (jnp.log(k_inact) - ln_na_i))


def ncx_activation(ca_i: ArrayLike, k_dact: ArrayLike, n_act: ArrayLike) -> Array:
    """Allosteric activation of NCX by cytosolic Ca²⁺, Ka = 1 / (1 + (K_dact/[Ca]_i)^n).

    Parameters
    ----------
    ca_i : float
        Cytosolic free Ca²⁺, mM (> 0).
    k_dact : float
        Activation constant, mM (> 0); 0.15 µM = 1.5e-4 mM in GPB 2010.
    n_act : float
        Hill coefficient, dimensionless (≥ 0).

    Returns
    -------
    float
        Ka, dimensionless, in [0, 1].

    References
    ----------
    Weber et al. (2001) J Gen Physiol 117:119; GPB (2010) J Mol Cell Cardiol 48:112.
    """
    check_positive("ca_i", ca_i)
    check_positive("k_dact", k_dact)
    check_range("n_act", n_act, lower=0.0)
    return _ncx_activation(jnp.log(ca_i), k_dact, n_act)


def ncx_inactivation(
    na_i: ArrayLike, f_inact: ArrayLike, k_inact: ArrayLike, n_inact: ArrayLike
) -> Array:
    """Optional Na⁺-dependent inactivation factor, (1 − f) + f·K^n / (K^n + [Na]_i^n).

    The default ``f_inact = 0`` gives exactly 1 (I_NCX unchanged). The factor is
    positive and voltage independent, so it never moves V_rev or flips the sign
    of I_NCX.

    Parameters
    ----------
    na_i : float
        Cytosolic Na⁺, mM (> 0).
    f_inact : float
        Maximal inactivated fraction, dimensionless, in [0, 1].
    k_inact : float
        [Na⁺]ᵢ of half-maximal inactivation, mM (> 0).
    n_inact : float
        Hill coefficient, dimensionless (≥ 0).

    Returns
    -------
    float
        Available fraction, dimensionless, in [1 − f_inact, 1].

    References
    ----------
    Hilgemann D. W., Matsuoka S., Nagel G. A. & Collins A. (1992) J Gen Physiol 100:905.
    """
    check_positive("na_i", na_i)
    check_range("f_inact", f_inact, lower=0.0, upper=1.0)
    check_positive("k_inact", k_inact)
    check_range("n_inact", n_inact, lower=0.0)
    return _ncx_inactivation(jnp.log(na_i), f_inact, k_inact, n_inact)


_NCX = BUILTIN_TRANSPORTERS["ncx"]


def _ncx_drive(x, ln_rev, rev):
    """e^{νu}[Na]_i³[Ca]_o − e^{(ν−1)u}[Na]_o³[Ca]_i written from x = ΔG_NCX/RT.

    ``rev`` = e^{(ν−1)u}[Na]_o³[Ca]_i and ``ln_rev`` its log. For x ≤ 1,
    rev·expm1(x) (no cancellation, exact sign); for x > 1, e^{ln_rev + x} − rev
    (the forward term, finite where expm1(x) overflows). The unused branch is
    fed a harmless argument so that gradients stay finite (double ``where``).
    """
    big = x > 1.0
    x_small = jnp.where(big, 0.0, x)
    x_big = jnp.where(big, x, 1.0)
    return jnp.where(big, jnp.exp(ln_rev + x_big) - rev, rev * jnp.expm1(x_small))


def _i_ncx(vm, na_i, na_o, ca_i, ca_o, temperature, ncx: NCXParams):
    u = vm / _rt_f_mv(temperature)
    ln_na_i, ln_na_o = jnp.log(na_i), jnp.log(na_o)
    ln_ca_i = jnp.log(ca_i)
    e_out = jnp.exp((ncx.nu - 1.0) * u)
    na_i3, na_o3 = na_i**3, na_o**3
    d = (
        ncx.km_cai * na_o3 * (1.0 + (na_i / ncx.km_nai) ** 3)
        + ncx.km_nao**3 * ca_i * (1.0 + ca_i / ncx.km_cai)
        + ncx.km_cao * na_i3
        + na_i3 * ca_o
        + na_o3 * ca_i
    )
    # ΔG_NCX exactly as dG_ncx and mode_ncx compute it, so sign(I) = sign(ΔG).
    pt = {"temperature": temperature, "vm": vm, "na_i": na_i, "na_o": na_o}
    dG = _NCX.dG({**pt, "ca_i": ca_i, "ca_o": ca_o})
    x = dG / (R * temperature / J_PER_KJ)
    rev = e_out * na_o3 * ca_i
    ln_rev = (ncx.nu - 1.0) * u + 3.0 * ln_na_o + ln_ca_i
    drive = _ncx_drive(x, ln_rev, rev)
    ka = _ncx_activation(ln_ca_i, ncx.k_dact, ncx.n_act)
    inact = _ncx_inactivation(ln_na_i, ncx.f_inact, ncx.k_inact, ncx.n_inact)
    ibar = ncx.ibar * _q10_factor(ncx.q10, temperature)  # × 1.0 exactly at 310 K
    return ibar * ka * inact * drive / (d * (1.0 + ncx.ksat * e_out))


def i_ncx(
    vm: ArrayLike,
    na_i: ArrayLike,
    na_o: ArrayLike,
    ca_i: ArrayLike,
    ca_o: ArrayLike,
    temperature: ArrayLike,
    ncx: NCXParams,
) -> Array:
    """Na⁺/Ca²⁺ exchanger current (GPB 2010 with allosteric Ca²⁺ activation).

    I = Ī·Q·Ka·h_Na·(e^{νu}[Na]_i³[Ca]_o − e^{(ν−1)u}[Na]_o³[Ca]_i) / (D·(1 + k_sat e^{(ν−1)u})),
    u = V_m F/RT, Q = q10^((T − 310 K)/10 K) (GPB's temperature factor, 1 at
    310 K), Ka = 1/(1 + (K_dact/[Ca]_i)^n_act), h_Na the optional inactivation
    factor (1 by default) and D the GPB denominator (physics.md).

    Parameters
    ----------
    vm : float
        Membrane potential ψ_in − ψ_out, mV.
    na_i, na_o, ca_i, ca_o : float
        Na⁺ and Ca²⁺ inside / outside, mM (> 0).
    temperature : float
        Absolute temperature, K (> 0).
    ncx : NCXParams
        Exchanger parameters (µA/cm², mM, dimensionless; see :class:`NCXParams`).

    Returns
    -------
    float
        I_NCX in µA/cm², outward positive (reverse mode: Ca²⁺ influx). Its sign
        is that of ΔG_NCX as ``dG_ncx`` computes it, and it is exactly 0 where
        that ΔG is 0; it stays finite for any ΔG/RT (no expm1 overflow).

    References
    ----------
    Grandi, Pasqualini & Bers (2010) J Mol Cell Cardiol 48:112;
    Weber et al. (2001) J Gen Physiol 117:119.
    """
    check_finite("vm", vm, "mV")
    for name, v in (("na_i", na_i), ("na_o", na_o), ("ca_i", ca_i), ("ca_o", ca_o)):
        check_positive(name, v)
    check_positive("temperature", temperature, "K")
    ncx.check()
    return _i_ncx(vm, na_i, na_o, ca_i, ca_o, temperature, ncx)


# ------------------------------------------------------------------- registry
def _capacities(p: Mapping[str, Any]) -> tuple[Array, Array]:
    u_k = _kcc2_capacity(
        p["u_kcc2"], p["p_kcc2"], p["rho_kcc2"], p["vu0463271"], p["ic50_vu0463271"]
    )
    u_n = _nkcc1_capacity(
        p["u_nkcc1"], p["p_nkcc1"], p["rho_nkcc1"], p["bumetanide"], p["ic50_bumetanide"]
    )
    u_n = u_n * _nkcc1_ko_factor(p["k_o"], p["ko_gate_nkcc1"])  # × 1.0 exactly by default
    return u_k, u_n


def capacities(p: Mapping[str, Any], cache: dict | None = None) -> tuple[Array, Array]:
    """(U_K, U_N) in mM/s from a registry input mapping, memoised in ``cache``.

    U_N includes the optional [K⁺]ₒ gate (``ko_gate_nkcc1``, default 0: factor 1).
    """
    if cache is None:
        return _capacities(p)
    if "cc_capacities" not in cache:
        cache["cc_capacities"] = _capacities(p)
    return cache["cc_capacities"]


def _fraction(name, default, long_name, description, reference=""):
    return InputSpec(
        name, "", default, long_name, description, lower=0.0, upper=1.0, reference=reference
    )


def _nonneg(name, unit, default, long_name, description, reference=""):
    return InputSpec(name, unit, default, long_name, description, lower=0.0, reference=reference)


def _conc(name, default, long_name, description, reference="", lower_open=True):
    return InputSpec(
        name,
        "mM",
        default,
        long_name,
        description,
        lower=0.0,
        lower_open=lower_open,
        reference=reference,
        concentration=True,
    )


INPUTS: list[InputSpec] = [
    _nonneg(
        "u_kcc2",
        "mM/s",
        0.3,
        "KCC2 capacity",
        "KCC2 cycle rate per unit ln([K]_i[Cl]_i/([K]_o[Cl]_o)), unphosphorylated and unblocked",
        _WEI,
    ),
    _nonneg(
        "u_nkcc1",
        "mM/s",
        0.1,
        "NKCC1 capacity",
        "NKCC1 cycle rate per unit ln([Na]_o[K]_o[Cl]_o²/([Na]_i[K]_i[Cl]_i²)), "
        "fully phosphorylated and unblocked",
        _REF_U_NKCC1,
    ),
    _fraction(
        "ko_gate_nkcc1",
        0.0,
        "NKCC1 [K⁺]ₒ gate",
        "weight w of Wei et al.'s NKCC1 gate: U_N × ((1 − w) + w/(1 + e^(16 − [K]ₒ/mM))); "
        "0 (default) no gate, 1 their form",
        "Wei, Ullah & Schiff 2014 J Neurosci 34:11733 (their f([K]ₒ)); off by default "
        "(assumption: u_nkcc1 is calibrated without it)",
    ),
    _nonneg(
        "u_ae3",
        "mM/s",
        0.0,
        "AE3 capacity",
        "AE3 (Cl⁻/HCO₃⁻ exchanger) cycle rate per unit ln([Cl]ₒ[HCO₃]ᵢ/([Cl]ᵢ[HCO₃]ₒ)); "
        "a term of the chloride balance",
        "assumption: 0 (off) by default — no neuronal capacity in these units is "
        "measured; set it to add AE3 to the chloride steady state",
    ),
    _nonneg(
        "u_ndcbe",
        "mM/s",
        0.0,
        "NDCBE capacity",
        "NDCBE (Na⁺-driven Cl⁻/HCO₃⁻ exchanger) cycle rate per unit "
        "ln([Na]ₒ[HCO₃]ₒ²[Cl]ᵢ/([Na]ᵢ[HCO₃]ᵢ²[Cl]ₒ)); a term of the chloride balance",
        "assumption: 0 (off) by default — no neuronal capacity in these units is "
        "measured; set it to add NDCBE to the chloride steady state",
    ),
    _fraction(
        "p_kcc2",
        0.0,
        "phosphorylated KCC2",
        "fraction of KCC2 phosphorylated at T906/T1007 by WNK–SPAK/OSR1 (inhibitory)",
        "Moore et al. 2018 PNAS 115:10166",
    ),
    _fraction(
        "p_nkcc1",
        0.0,
        "phosphorylated NKCC1",
        "fraction of NKCC1 phosphorylated by SPAK/OSR1 (activating)",
        "assumption: 0 (unphosphorylated) by default, to sweep",
    ),
    _fraction(
        "rho_kcc2",
        0.2,
        "activity of phosphorylated KCC2",
        "relative activity of fully phosphorylated KCC2",
        "assumption, to sweep (evidence is qualitative: Moore et al. 2018; Friedel et al. 2015)",
    ),
    _fraction(
        "rho_nkcc1",
        0.1,
        "activity of unphosphorylated NKCC1",
        "relative activity of unphosphorylated NKCC1",
        "assumption, to sweep: basal activity of unphosphorylated NKCC1 is low but not "
        "measured in these units (SPAK/OSR1 phosphorylation activates it: Dowd & Forbush "
        "2003 J Biol Chem 278:27347)",
    ),
    _conc(
        "bumetanide",
        0.0,
        "bumetanide",
        "bumetanide concentration (blocks NKCC1: block = c/(c + IC50))",
        "assumption: drug-free by default (an experiment's choice)",
        lower_open=False,
    ),
    _conc(
        "vu0463271",
        0.0,
        "VU0463271",
        "VU0463271 concentration (blocks KCC2: block = c/(c + IC50))",
        "assumption: drug-free by default (an experiment's choice)",
        lower_open=False,
    ),
    _conc(
        "ic50_bumetanide",
        _IC50_BUMETANIDE,
        "bumetanide IC50",
        "bumetanide concentration blocking half of NKCC1 (0.2 µM)",
        _REF_BUMETANIDE,
    ),
    _conc(
        "ic50_vu0463271",
        _IC50_VU0463271,
        "VU0463271 IC50",
        "VU0463271 concentration blocking half of KCC2 (61 nM)",
        _REF_VU0463271,
    ),
    _nonneg(
        "ibar_ncx",
        "uA/cm**2",
        4.5,
        "NCX Ī",
        "maximal NCX current at 310 K",
        _GPB + " — cardiac (ventricular myocyte); assumption for neurons: no neuronal "
        "NCX density in these units is established (see physics.md)",
    ),
    InputSpec(
        "q10_ncx",
        "",
        _Q10_NCX,
        "NCX Q10",
        "temperature coefficient of I_NCX: I × q10_ncx^((T − 310 K)/10 K) (1 at 310 K)",
        lower=0.0,
        lower_open=True,
        reference=_GPB + " (Q10 = 1.57, reference 310 K)",
    ),
    _fraction("nu_ncx", 0.27, "NCX ν", "position of the NCX voltage-dependent step", _GPB),
    _nonneg("ksat_ncx", "", 0.32, "NCX k_sat", "NCX saturation factor at negative V_m", _GPB),
    _conc("km_cai", 3.59e-3, "NCX K_mCai", "NCX transport-site affinity for cytosolic Ca²⁺", _GPB),
    _conc("km_cao", 1.3, "NCX K_mCao", "NCX transport-site affinity for extracellular Ca²⁺", _GPB),
    _conc("km_nai", 12.29, "NCX K_mNai", "NCX transport-site affinity for cytosolic Na⁺", _GPB),
    _conc("km_nao", 87.5, "NCX K_mNao", "NCX transport-site affinity for extracellular Na⁺", _GPB),
    _conc(
        "k_dact",
        1.5e-4,
        "NCX K_dact",
        "[Ca²⁺]ᵢ of half-maximal allosteric NCX activation (CBD1/CBD2)",
        "Weber et al. 2001 J Gen Physiol 117:119; " + _GPB,
    ),
    _nonneg(
        "n_act",
        "",
        2.0,
        "NCX n_act",
        "Hill coefficient of allosteric NCX activation by Ca²⁺",
        _GPB,
    ),
    _fraction(
        "f_inact_ncx",
        _F_INACT,
        "NCX Na⁺ inactivation",
        "maximal fraction of NCX lost to Na⁺-dependent inactivation; factor "
        "(1 − f) + f/(1 + ([Na]_i/k_inact_ncx)^n_inact_ncx); 0 leaves I_NCX unchanged",
        "Hilgemann et al. 1992 J Gen Physiol 100:905 (optional; default off)",
    ),
    _conc(
        "k_inact_ncx",
        _K_INACT,
        "NCX inactivation K",
        "[Na⁺]ᵢ of half-maximal Na⁺-dependent NCX inactivation",
        "assumption, to sweep (only used when f_inact_ncx > 0)",
    ),
    _nonneg(
        "n_inact_ncx",
        "",
        _N_INACT,
        "NCX inactivation Hill coefficient",
        "Hill coefficient of Na⁺-dependent NCX inactivation",
        "assumption, to sweep (only used when f_inact_ncx > 0)",
    ),
]


def _j_kcc2_fn(p, cache):
    u_k, _ = capacities(p, cache)
    logs = [jnp.log(p[n]) for n in ("k_i", "k_o", "cl_i", "cl_o")]
    return _j_kcc2_log(*logs, u_k)


def _j_nkcc1_fn(p, cache):
    _, u_n = capacities(p, cache)
    logs = [jnp.log(p[n]) for n in ("na_i", "na_o", "k_i", "k_o", "cl_i", "cl_o")]
    return _j_nkcc1_log(*logs, u_n)


def _j_ae3_fn(p, cache):
    logs = [jnp.log(p[n]) for n in ("cl_i", "cl_o", "hco3_i", "hco3_o")]
    return _j_ae3_log(*logs, p["u_ae3"])


def _j_ndcbe_fn(p, cache):
    logs = [jnp.log(p[n]) for n in ("na_i", "na_o", "hco3_i", "hco3_o", "cl_i", "cl_o")]
    return _j_ndcbe_log(*logs, p["u_ndcbe"])


def _i_ncx_fn(p, cache):
    return _i_ncx(
        p["vm"],
        p["na_i"],
        p["na_o"],
        p["ca_i"],
        p["ca_o"],
        p["temperature"],
        NCXParams.from_inputs(p),
    )


OUTPUTS: list[OutputSpec] = [
    OutputSpec(
        "j_kcc2",
        "mM/s",
        "J_KCC2",
        "KCC2 cycle rate at the given concentrations, cycles out (> 0: K⁺ + Cl⁻ extruded)",
        _j_kcc2_fn,
        attrs={"reference": "Doyon et al. 2011; " + _WEI},
    ),
    OutputSpec(
        "j_nkcc1",
        "mM/s",
        "J_NKCC1",
        "NKCC1 cycle rate at the given concentrations, cycles in (> 0: Na⁺ + K⁺ + 2Cl⁻ taken up)",
        _j_nkcc1_fn,
        attrs={"reference": "Doyon et al. 2011; " + _WEI},
    ),
    OutputSpec(
        "j_ae3",
        "mM/s",
        "J_AE3",
        "AE3 cycle rate at the given concentrations, cycles forward (> 0: Cl⁻ in, HCO₃⁻ out)",
        _j_ae3_fn,
        attrs={"reference": "Romero et al. 2013 Mol Aspects Med 34:159; Doyon et al. 2011"},
    ),
    OutputSpec(
        "j_ndcbe",
        "mM/s",
        "J_NDCBE",
        "NDCBE cycle rate at the given concentrations, cycles forward "
        "(> 0: Na⁺ + 2HCO₃⁻ in, Cl⁻ out)",
        _j_ndcbe_fn,
        attrs={"reference": "Grichtchenko et al. 2001 J Biol Chem 276:8358; Doyon et al. 2011"},
    ),
    OutputSpec(
        "i_ncx",
        "uA/cm**2",
        "I_NCX",
        "NCX current at the given [Ca²⁺]ᵢ, outward positive (> 0: reverse mode, Ca²⁺ influx)",
        _i_ncx_fn,
        attrs={"reference": _GPB + "; Weber et al. 2001 J Gen Physiol 117:119"},
    ),
]
