"""Analyses: consumers of the engine (spec → plan → execute → store), never copies of it.

Each module takes a :class:`~sweep.spec.SweepSpec`, computes through
:mod:`sweep.execute` (the one point function, batching and dispatcher) and
writes its result with :func:`sweep.store.write_dataset`:

- :mod:`.boundary`: where an output crosses a level along an axis; adaptive
  boundary cells of mode maps.
- :mod:`.local_sensitivity`: elasticities by autodiff at every point.
- :mod:`.global_sensitivity`: Sobol' indices and Morris screening (SALib) over
  the rows of a ``saltelli | morris`` design.

Their entry points are re-exported by :mod:`sweep` (``from sweep import
boundary_along, local_sensitivity, global_sensitivity``); this package does
not re-export them, so that each module stays importable by its name.
"""
