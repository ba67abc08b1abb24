"""Process set-up on importing :mod:`kernels`: float64 enabled, runtime checks without host callbacks.

Float64 for truth: ``jax_enable_x64`` is enabled. The sweep engine enables it
too (``sweep.batching.configure_jax``); float32 is then an explicit choice,
made by passing float32 arrays (``precision: float32`` sweeps do), and Python
numbers are computed in float64.

``EQX_ON_ERROR=nan`` unless the environment already sets it: the runtime
checks inside diffrax/optimistix/lineax (equinox ``error_if``) then give NaN
instead of raising through a host callback. A compiled function with a host
callback is never written to JAX's persistent compilation cache, so every
process recompiled each time-course kernel (~8 s of XLA compilation for the
whole cell, measured). The kernels check their own inputs and turn a
non-finite result into a status (``Status.NON_FINITE``), which is what a NaN
from such a check becomes. Set before equinox is first imported (it reads
the variable then); ``kernels`` imports it lazily, with the time courses.
"""

import os

import jax

jax.config.update("jax_enable_x64", True)
os.environ.setdefault("EQX_ON_ERROR", "nan")
