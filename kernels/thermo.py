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
from .constants import J_PER_KJ, KJ_PER_MOL_PER_MV, LN10, MV_PER_V, T_DEFAULT, F, R

__all__ = [
    "nernst",
    "dG_ion",
    "h_from_ph",
    "e_gaba",
    "sign_mode",
    "polarity",
    "tolerance_mv",
]


def _rt_f_mv(temperature: ArrayLike) -> Array:
    return R * jnp.asarray(temperature) / F * MV_PER_V


def nernst(c_out: ArrayLike, c_in: ArrayLike, z: int, temperature: ArrayLike = T_DEFAULT) -> Array:
    """Nernst equilibrium potential E_X = (RT/zF) ln([X]_o/[X]_i).

    Parameters
    ----------
    c_out, c_in : float
        Outside and inside concentrations, mM (> 0, finite).
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
    c_in: ArrayLike,
    c_out: ArrayLike,
    z: int,
    vm: ArrayLike,
    temperature: ArrayLike = T_DEFAULT,
) -> Array:
    """Electrochemical ΔG of moving 1 mol of X from out to in.

    ΔG_X = RT ln([X]_i/[X]_o) + zFV_m.

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
