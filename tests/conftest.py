"""Test configuration: float64 truth and strict rank promotion, as in the house style."""

import jax

import sweep.execute  # noqa: F401  (sets the engine's XLA flags before the backend starts)

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
