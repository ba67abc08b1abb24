"""Equilibrium electrochemistry: Nernst, electrochemical ΔG, GHK E_GABA, signs.

All functions take scalars (or arrays, elementwise) in the stored units
(mM, mV, K, kJ/mol) and are pure JAX, so they can be ``jit``-ed and ``vmap``-ped.

References
----------
Hille B. (2001) *Ion Channels of Excitable Membranes*, 3rd ed., ch. 1 and 14.
Goldman D. E. (1943) J Gen Physiol 27:37; Hodgkin A. L. & Katz B. (1949) J Physiol 108:37.
Bormann J., Hamill O. P. & Sakmann B. (1987) J Physiol 385:243 (HCO₃⁻ permeability of GABA_A).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from ._checks import check_finite, check_positive, check_range
from .constants import (
    CO2_SOLUBILITY,
    J_PER_KJ,
    KJ_PER_MOL_PER_MV,
    LN10,
    MV_PER_V,
    PK_CO2,
    T_DEFAULT,
    T_Q10_REF,
    F,
    R,
)

__all__ = [
    "nernst",
    "dG_ion",
    "h_from_ph",
    "hco3_from_co2",
    "dG_atp_hydrolysis",
    "q10_factor",
    "e_gaba",
    "sign_mode",
    "polarity",
    "tolerance_mv",
]


def _rt_f_mv(temperature: ArrayLike) -> Array:
    return R * jnp.asarray(temperature) / F * MV_PER_V


def nernst(
    *, c_in: ArrayLike, c_out: ArrayLike, z: int, temperature: ArrayLike = T_DEFAULT
) -> Array:
    """Nernst equilibrium potential E_X = (RT/zF) ln([X]_o/[X]_i).

    Every argument is keyword-only (``nernst(c_in=5.0, c_out=130.0, z=-1)``), as
    in :func:`dG_ion`: a positional call cannot swap inside and outside silently.

    Parameters
    ----------
    c_in, c_out : float
        Inside and outside concentrations, mM (> 0, finite).
    z : int
        Valence, elementary charges (non-zero).
    temperature : float
        Absolute temperature, K (> 0).

    Returns
    -------
    float
        E_X in mV (ψ_in − ψ_out at which the ion is at equilibrium).

    Raises
    ------
    ValueError
        ``z == 0``, or a concrete argument outside its range (checked only
        outside ``jit``/``vmap``).

    References
    ----------
    Nernst W. (1889) Z Phys Chem 4:129; Hille B. (2001) *Ion Channels of
    Excitable Membranes*, 3rd ed., ch. 1.
    """
    check_positive("c_out", c_out)
    check_positive("c_in", c_in)
    check_range("temperature", temperature, lower=0.0, lower_open=True, unit="K")
    if z == 0:
        raise ValueError("z = 0 is not allowed: a Nernst potential needs a charged species")
    return _rt_f_mv(temperature) / z * (jnp.log(c_out) - jnp.log(c_in))


def dG_ion(
    *,
    c_in: ArrayLike,
    c_out: ArrayLike,
    z: int,
    vm: ArrayLike,
    temperature: ArrayLike = T_DEFAULT,
) -> Array:
    """Electrochemical ΔG of moving 1 mol of X from out to in.

    ΔG_X = RT ln([X]_i/[X]_o) + zFV_m. Every argument is keyword-only
    (``dG_ion(c_in=12.0, c_out=145.0, z=1, vm=-65.0)``), as in :func:`nernst`.

    Parameters
    ----------
    c_in, c_out : float
        Inside and outside concentrations, mM (> 0, finite).
    z : int
        Valence, elementary charges (0 allowed: neutral solutes).
    vm : float
        Membrane potential ψ_in − ψ_out, mV (finite).
    temperature : float
        Absolute temperature, K (> 0).

    Returns
    -------
    float
        ΔG in kJ/mol (< 0: influx is downhill). Equals zF(V_m − E_X).

    Raises
    ------
    ValueError
        A concrete argument outside its range (checked only outside ``jit``/``vmap``).

    References
    ----------
    Hille B. (2001) *Ion Channels of Excitable Membranes*, 3rd ed., ch. 14.
    Chapter "The Electrochemical Driving Force": Na⁺ at 310 K, 145/12 mM and
    −65 mV gives ≈ −12.7 kJ/mol.
    """
    check_positive("c_in", c_in)
    check_positive("c_out", c_out)
    check_finite("vm", vm, "mV")
    check_range("temperature", temperature, lower=0.0, lower_open=True, unit="K")
    rt = R * jnp.asarray(temperature) / J_PER_KJ
    return rt * (jnp.log(c_in) - jnp.log(c_out)) + z * KJ_PER_MOL_PER_MV * jnp.asarray(vm)


def h_from_ph(ph: ArrayLike) -> Array:
    """[H⁺] from pH: [H⁺] = 10^(3 − pH) mM (pH 7.2 → 6.31e-5 mM).

    Parameters
    ----------
    ph : float
        pH, dimensionless (finite).

    Returns
    -------
    float
        [H⁺] in mM (the 10³ converts mol/L to mM).

    References
    ----------
    Sørensen S. P. L. (1909) Biochem Z 21:131 (pH = −log₁₀[H⁺], [H⁺] in mol/L).
    """
    check_finite("ph", ph)
    return jnp.exp((3.0 - jnp.asarray(ph)) * LN10)


def _hco3_from_co2(ph, pco2):
    return CO2_SOLUBILITY * pco2 * jnp.exp((ph - PK_CO2) * LN10)


def hco3_from_co2(ph: ArrayLike, pco2: ArrayLike) -> Array:
    """[HCO₃⁻] in equilibrium with CO₂ (Henderson–Hasselbalch): α pCO₂ 10^(pH − pK′).

    With α = 0.0307 mM/mmHg and pK′ = 6.1 (37 °C), pCO₂ = 40 mmHg gives
    24.50 mM at pH 7.4 and 15.46 mM at pH 7.2.

    Parameters
    ----------
    ph : float
        pH of the compartment, dimensionless (finite).
    pco2 : float
        Partial pressure of CO₂, mmHg (> 0).

    Returns
    -------
    float
        [HCO₃⁻] in mM.

    References
    ----------
    Henderson L. J. (1908) Am J Physiol 21:173; Hasselbalch K. A. (1916) Biochem Z
    78:112; Severinghaus J. W., Stupfel M. & Bradley A. F. (1956) J Appl Physiol
    9:197 (pK′ = 6.1 at 37 °C); Austin W. H. et al. (1963) J Appl Physiol 18:301
    (α = 0.0307 mM/mmHg at 37 °C).
    """
    check_finite("ph", ph)
    check_positive("pco2", pco2, "mmHg")
    return _hco3_from_co2(jnp.asarray(ph), jnp.asarray(pco2))


def _dG_atp_hydrolysis(atp, adp, pi, dG0, temperature):
    # concentrations in mM; the standard state is 1 M = 1e3 mM
    rt = R * temperature / J_PER_KJ
    return dG0 + rt * (jnp.log(adp) + jnp.log(pi) - jnp.log(atp) - jnp.log(1e3))


def dG_atp_hydrolysis(
    atp: ArrayLike,
    adp: ArrayLike,
    pi: ArrayLike,
    dG0: ArrayLike = -30.5,
    temperature: ArrayLike = T_DEFAULT,
) -> Array:
    """Free energy of ATP hydrolysis, ΔG_ATP = ΔG°′ + RT ln([ADP][Pi]/[ATP]) (1 M standard state).

    With ΔG°′ = −30.5 kJ/mol, [ATP] = 2 mM, free [ADP] = 50 µM and [Pi] = 3 mM
    at 310 K: −54.98 kJ/mol, the engine's default ``dG_atp`` (−55 kJ/mol).

    Parameters
    ----------
    atp, adp, pi : float
        Free cytosolic ATP, ADP and inorganic phosphate, mM (> 0).
    dG0 : float
        Standard transformed free energy ΔG°′ (pH 7, excess Mg²⁺), kJ/mol (finite).
    temperature : float
        Absolute temperature, K (> 0).

    Returns
    -------
    float
        ΔG_ATP in kJ/mol (< 0: hydrolysis is downhill).

    References
    ----------
    Alberty R. A. & Goldberg R. N. (1992) Biochemistry 31:10610 (ΔG°′ of the ATP
    series); −30.5 kJ/mol is the textbook ΔG°′ (25 °C, pH 7, excess Mg²⁺; e.g.
    Nelson & Cox, *Lehninger Principles of Biochemistry*). Veech R. L. et al.
    (1979) J Biol Chem 254:6538 (cytosolic phosphorylation potential).
    """
    for name, v in (("atp", atp), ("adp", adp), ("pi", pi)):
        check_positive(name, v)
    check_finite("dG0", dG0, "kJ/mol")
    check_range("temperature", temperature, lower=0.0, lower_open=True, unit="K")
    return _dG_atp_hydrolysis(atp, adp, pi, dG0, jnp.asarray(temperature))


def _q10_factor(q10, temperature):
    # q10 ** ((T − 310)/10): exactly 1 at 310 K (x**0 == 1 in IEEE arithmetic).
    return jnp.power(q10, (temperature - T_Q10_REF) / 10.0)


def q10_factor(q10: ArrayLike, temperature: ArrayLike) -> Array:
    """Temperature factor of a rate, Q10^((T − 310 K)/10 K); exactly 1 at 310 K.

    Parameters
    ----------
    q10 : float
        Q10 coefficient, dimensionless (> 0); GPB 2010 use 1.57 (NCX), 2.35 (PMCA).
    temperature : float
        Absolute temperature, K (> 0).

    Returns
    -------
    float
        The factor, dimensionless.

    References
    ----------
    Grandi, Pasqualini & Bers (2010) J Mol Cell Cardiol 48:112 (reference 310 K).
    """
    check_positive("q10", q10, "")
    check_range("temperature", temperature, lower=0.0, lower_open=True, unit="K")
    return _q10_factor(jnp.asarray(q10), jnp.asarray(temperature))


def e_gaba(
    cl_i: ArrayLike,
    cl_o: ArrayLike,
    hco3_i: ArrayLike,
    hco3_o: ArrayLike,
    p_hco3_cl: ArrayLike = 0.2,
    temperature: ArrayLike = T_DEFAULT,
) -> Array:
    """GABA_A reversal potential from the Goldman–Hodgkin–Katz equation for two anions.

    E_GABA = (RT/F) ln(([Cl]_i + r[HCO₃]_i) / ([Cl]_o + r[HCO₃]_o)), r = P_HCO3/P_Cl.

    Parameters
    ----------
    cl_i, cl_o, hco3_i, hco3_o : float
        Cytosolic and extracellular Cl⁻ and HCO₃⁻ concentrations, mM (> 0).
    p_hco3_cl : float
        Permeability ratio P_HCO3/P_Cl, dimensionless (≥ 0); 0 gives E_Cl.
    temperature : float
        Absolute temperature, K (> 0).

    Returns
    -------
    float
        E_GABA in mV.

    References
    ----------
    Bormann et al. (1987) J Physiol 385:243; Kaila K. & Voipio J. (1987) Nature 330:163.
    """
    for name, v in (("cl_i", cl_i), ("cl_o", cl_o), ("hco3_i", hco3_i), ("hco3_o", hco3_o)):
        check_positive(name, v)
    check_range("p_hco3_cl", p_hco3_cl, lower=0.0, unit="")
    check_range("temperature", temperature, lower=0.0, lower_open=True, unit="K")
    r = jnp.asarray(p_hco3_cl)
    return _rt_f_mv(temperature) * (jnp.log(cl_i + r * hco3_i) - jnp.log(cl_o + r * hco3_o))


def sign_mode(dG: ArrayLike, tolerance: ArrayLike) -> Array:
    """Transport mode from a cycle's ΔG: +1 forward (ΔG < −tol), −1 reverse (ΔG > tol), else 0.

    Parameters
    ----------
    dG : float
        Free energy per forward cycle, kJ/mol.
    tolerance : float
        Half-width of the equilibrium band, kJ/mol (≥ 0).

    Returns
    -------
    int8
        +1, −1 or 0. A NaN ``dG`` gives 0 (no comparison holds).

    References
    ----------
    physics.md, "Thermodynamics": mode = +1 (ΔG < −tol), −1 (ΔG > tol), 0 otherwise.
    """
    dG = jnp.asarray(dG)
    out = jnp.where(dG < -tolerance, 1, jnp.where(dG > tolerance, -1, 0))
    return out.astype(jnp.int8)


def polarity(driving_force: ArrayLike, tolerance_mv: ArrayLike) -> Array:
    """GABA polarity from E_GABA − V_m: +1 depolarizing (> tol), −1 hyperpolarizing (< −tol), else 0.

    Parameters
    ----------
    driving_force : float
        E_GABA − V_m, mV.
    tolerance_mv : float
        Half-width of the neutral band, mV (≥ 0); see :func:`tolerance_mv`.

    Returns
    -------
    int8
        +1, −1 or 0. A NaN driving force gives 0.

    References
    ----------
    Kaila K. & Voipio J. (1987) Nature 330:163; Ben-Ari Y. (2002) Nat Rev
    Neurosci 3:728 (depolarizing GABA when E_GABA > V_m).
    """
    df = jnp.asarray(driving_force)
    out = jnp.where(df > tolerance_mv, 1, jnp.where(df < -tolerance_mv, -1, 0))
    return out.astype(jnp.int8)


def tolerance_mv(mode_tolerance: ArrayLike) -> Array:
    """Convert a free-energy tolerance to a potential tolerance: tol/F.

    Parameters
    ----------
    mode_tolerance : float
        Free-energy tolerance, kJ/mol (per elementary charge moved).

    Returns
    -------
    float
        Tolerance in mV; the default 1e-3 kJ/mol gives 0.010364 mV
        (1e-3 kJ/mol / 96485.33 C/mol = 1.0364e-5 V).

    References
    ----------
    physics.md, "E_GABA": polarity tolerance = ``mode_tolerance``/F.
    """
    return jnp.asarray(mode_tolerance) / KJ_PER_MOL_PER_MV
