"""Test configuration: float64 truth and strict rank promotion, as in the house style."""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
