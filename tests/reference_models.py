"""Independent float64 references of the time-course systems: plain numpy right-hand
sides for ``scipy.integrate.solve_ivp``, written from physics.md apart from the kernels.

Imported by tests/test_timecourse.py, tests/test_timecourse_engine.py and
benchmarks/bench_timecourse.py (which puts tests/ on ``sys.path``), so that the
tests and the benchmark's scipy baseline integrate the same equations.

References
----------
Grandi, Pasqualini & Bers (2010) J Mol Cell Cardiol 48:112 (NCX, PMCA);
Kay (2017) Front Cell Dev Biol 5:41 and Düsterwald et al. (2018) eLife 7:e39575
(pump–leak cell); physics.md "Calcium steady state", "Whole-cell steady state".
"""

from __future__ import annotations

import numpy as np

#: Gas constant, J/(mol K), and Faraday constant, C/mol (CODATA 2018, exact).
R, F = 8.31446261815324, 96485.3321233100184


def ca_rate(ca: float, q: dict) -> tuple[float, float]:
    """(d[Ca²⁺]ᵢ/dt in mM/s, I_NCX in µA/cm²) of the Ca²⁺ balance at fixed V_m.

    Parameters
    ----------
    ca : float
        Free cytosolic Ca²⁺, mM.
    q : dict
        Inputs in stored units (mV, mM, K, µA/cm², mS/cm², (mM/s)/(µA/cm²)).

    References
    ----------
    Grandi, Pasqualini & Bers (2010) J Mol Cell Cardiol 48:112.
    """
    rtf = R * q["temperature"] / F * 1e3
    u = q["vm"] / rtf
    nai, nao, cao = q["na_i"], q["na_o"], q["ca_o"]
    d = (
        q["km_cai"] * nao**3 * (1 + (nai / q["km_nai"]) ** 3)
        + q["km_nao"] ** 3 * ca * (1 + ca / q["km_cai"])
        + q["km_cao"] * nai**3
        + nai**3 * cao
        + nao**3 * ca
    )
    ka = 1.0 / (1.0 + (q["k_dact"] / ca) ** q["n_act"])
    nu = q["nu_ncx"]
    e1 = np.exp((nu - 1) * u)
    i_ncx = q["ibar_ncx"] * ka * (np.exp(nu * u) * nai**3 * cao - e1 * nao**3 * ca)
    i_ncx /= d * (1 + q["ksat_ncx"] * e1)
    e_ca = rtf / 2 * np.log(cao / ca)
    h = q["h_pmca"]
    i_pmca = q["ibar_pmca"] * ca**h / (q["k_pmca"] ** h + ca**h)
    net = 2 * i_ncx - q["g_ca_bg"] * (q["vm"] - e_ca) - i_pmca
    return q["beta_ca"] * q["gamma"] / 2 * net, i_ncx


def cell_volume(n: np.ndarray, q: dict) -> np.ndarray:
    """Cell volume relative to the reference from the amounts n = (Na⁺, K⁺, Cl⁻), mM."""
    return (n[0] + n[1] + n[2] + q["x_i_ref"]) / (q["osm_o"] - q["hco3_i"])


def cell_rhs(n: np.ndarray, q: dict) -> tuple[np.ndarray, float, float, float, float]:
    """The pump–leak balances in amounts (cubic pump, no drugs), V_m from zero net current.

    Parameters
    ----------
    n : array (3,)
        Amounts of Na⁺, K⁺, Cl⁻ per reference volume, mM.
    q : dict
        Inputs in stored units.

    Returns
    -------
    (dn/dt in mM/s, V_m in mV, [Na⁺]ᵢ mM, [Cl⁻]ᵢ mM, volume)

    References
    ----------
    Kay (2017) Front Cell Dev Biol 5:41; Düsterwald et al. (2018) eLife 7:e39575.
    """
    rtf = R * q["temperature"] / F * 1e3
    w = cell_volume(n, q)
    na, k, cl = n / w
    r = q["p_hco3_cl"]
    g_c, g_h = q["g_cl"] + q["g_gaba"] / (1 + r), q["g_gaba"] * r / (1 + r)
    e_na, e_k = rtf * np.log(q["na_o"] / na), rtf * np.log(q["k_o"] / k)
    e_cl, e_h = rtf * np.log(cl / q["cl_o"]), rtf * np.log(q["hco3_i"] / q["hco3_o"])
    j = q["u_nka"] * (na / q["na_o"]) ** 3
    v = (q["g_na"] * e_na + q["g_k"] * e_k + g_c * e_cl + g_h * e_h - j / q["gamma"]) / (
        q["g_na"] + q["g_k"] + g_c + g_h
    )
    u_k = q["u_kcc2"] * ((1 - q["p_kcc2"]) + q["p_kcc2"] * q["rho_kcc2"])
    u_n = q["u_nkcc1"] * (q["rho_nkcc1"] + (1 - q["rho_nkcc1"]) * q["p_nkcc1"])
    jk = u_k * np.log(k * cl / (q["k_o"] * q["cl_o"]))
    jn = u_n * np.log(q["na_o"] * q["k_o"] * q["cl_o"] ** 2 / (na * k * cl**2))
    g = q["gamma"]
    d_na = -g * q["g_na"] * (v - e_na) - 3 * j + jn - g * g_h * (v - e_h)
    d_k = -g * q["g_k"] * (v - e_k) + 2 * j - jk + jn
    d_cl = g * g_c * (v - e_cl) - jk + 2 * jn
    # [HCO3-]i stays clamped while the volume changes: the HCO3- made for it comes with
    # H+, exchanged by NHE1 for Na+; dw/dt = sum(dn/dt)/(osm - hco3), solved for dw/dt
    dw = (d_na + d_k + d_cl) / (q["osm_o"] - 2 * q["hco3_i"])
    return np.array([d_na + q["hco3_i"] * dw, d_k, d_cl]), v, na, cl, w
