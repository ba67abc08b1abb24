"""Float64 for truth: importing :mod:`kernels` enables ``jax_enable_x64``.

The sweep engine enables it too (``sweep.batching.configure_jax``); float32 is
then an explicit choice, made by passing float32 arrays (``precision:
float32`` sweeps do), and Python numbers are computed in float64.
"""

import jax

jax.config.update("jax_enable_x64", True)
