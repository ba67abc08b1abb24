"""transporter-sweep physics kernels: pure JAX, scalar in, scalar out.

Units are the stored units of the product: mM, mV, K, kJ/mol, µA/cm², mM/s,
mS/cm². This package imports only jax and numpy (and numerical JAX
libraries); the sweep engine batches these functions with nested ``vmap``.

Float64 for truth: importing ``kernels`` enables ``jax_enable_x64`` (as the
sweep engine does), so Python numbers passed to any kernel are computed in
float64; float32 is chosen explicitly, by passing float32 arrays (the
engine's ``precision: float32`` sweeps do).
"""

from . import _precision  # noqa: F401  (enables float64 before any kernel runs)
from . import constants as constants
from .registry import REGISTRY as REGISTRY
from .registry import Registry as Registry
from .registry import evaluate as evaluate
from .thermo import dG_atp_hydrolysis as dG_atp_hydrolysis
from .thermo import dG_ion as dG_ion
from .thermo import e_gaba as e_gaba
from .thermo import h_from_ph as h_from_ph
from .thermo import hco3_from_co2 as hco3_from_co2
from .thermo import nernst as nernst
from .thermo import polarity as polarity
from .thermo import sign_mode as sign_mode
from .transporters import BUILTIN_TRANSPORTERS as BUILTIN_TRANSPORTERS
from .transporters import Transporter as Transporter
from .transporters import make_transporter as make_transporter

__all__ = [
    "REGISTRY",
    "Registry",
    "evaluate",
    "nernst",
    "dG_ion",
    "e_gaba",
    "h_from_ph",
    "hco3_from_co2",
    "dG_atp_hydrolysis",
    "polarity",
    "sign_mode",
    "Transporter",
    "BUILTIN_TRANSPORTERS",
    "make_transporter",
    "constants",
]
