"""Physical constants, species and the unit conventions shared by every kernel.

Kernels take and return the *stored* units of the product (the same units the
zarr store and ``sweep list`` use), so a kernel call reads like the store:

============== ===========
quantity       unit
============== ===========
concentration  mM
potential      mV
free energy    kJ/mol
temperature    K
current        µA/cm² (C_m = 1 µF/cm²)
flux           mM/s
conductance    mS/cm²
============== ===========

References
----------
CODATA 2018 recommended values (Tiesinga et al. 2021, Rev Mod Phys 93:025010,
doi:10.1103/RevModPhys.93.025010): R = N_A k and F = N_A e are exact.
"""

from __future__ import annotations

import math

#: Molar gas constant, J mol⁻¹ K⁻¹ (CODATA 2018, exact).
R: float = 8.31446261815324
#: Faraday constant, C mol⁻¹ (CODATA 2018, exact).
F: float = 96485.3321233100184
#: Default absolute temperature, K (the chapter's worked examples).
T_DEFAULT: float = 310.0

#: mV per V.
MV_PER_V: float = 1e3
#: J per kJ.
J_PER_KJ: float = 1e3
#: F · 1 mV expressed in kJ/mol: z F V[mV] · KJ_PER_MOL_PER_MV = kJ/mol.
KJ_PER_MOL_PER_MV: float = F / MV_PER_V / J_PER_KJ
#: Natural log of 10 (pH → [H⁺]).
LN10: float = math.log(10.0)

#: CO₂ solubility in plasma/extracellular fluid at 37 °C, mM per mmHg of pCO₂
#: (Austin et al. 1963 J Appl Physiol 18:301; the Henderson–Hasselbalch α).
CO2_SOLUBILITY: float = 0.0307
#: Apparent pK′ of CO₂ + H₂O ⇌ H⁺ + HCO₃⁻ at 37 °C (Severinghaus, Stupfel &
#: Bradley 1956 J Appl Physiol 9:197): [HCO₃⁻] = α pCO₂ 10^(pH − pK′).
PK_CO2: float = 6.1

#: Reference temperature of the GPB 2010 Q10 factors, K (I × Q10^((T − 310 K)/10 K)).
T_Q10_REF: float = 310.0

#: Valence of every species a stoichiometry may name.
VALENCE: dict[str, int] = {
    "na": 1,
    "k": 1,
    "cl": -1,
    "ca": 2,
    "hco3": -1,
    "h": 1,
    "glu": -1,
    "gaba": 0,
}

#: Species with a Nernst potential output ``e_<s>`` and ``dG_<s>``.
NERNST_SPECIES: tuple[str, ...] = ("na", "k", "cl", "ca", "hco3", "h")

#: Species present in the mitochondrial matrix (``<s>_m`` inputs).
MITO_SPECIES: tuple[str, ...] = ("na", "ca")


def rt_over_f_mv(temperature: float) -> float:
    """RT/F in mV at ``temperature`` (K); 26.71 mV at 310 K."""
    return R * temperature / F * MV_PER_V


def rt_kj(temperature: float) -> float:
    """RT in kJ/mol at ``temperature`` (K); 2.5775 kJ/mol at 310 K."""
    return R * temperature / J_PER_KJ
