"""Mode-boundary mapping: where an output crosses a level, and where a mode map changes.

Two methods, one command (``sweep boundary``, contract: docs/config.md):

``--along AXIS`` (continuous outputs)
    For every point of the other axes, every crossing of ``output = level``
    along the continuous axis ``AXIS``. Crossings are *bracketed* between
    adjacent samples of the axis (the config's grid), then *refined on the
    kernel itself* by Brent's method (jit + vmap, ``lax.while_loop``) to
    ≤ 1e-12 · axis span (linear axes) or 1e-12 relative (log axes, solved in
    ln x), far inside the contract's 1e-9 · max(|x*|, span). Where a closed
    form exists (V_rev for ΔG along the voltage, the equilibrium [X]ᵢ along an
    inside concentration, E_X / E_GABA, the NCX zero-current potential) it is
    stored beside the roots with the maximum deviation as an attribute.

``--adaptive`` (mode maps: int8 outputs, or the sign of a float output)
    Quadtree/octree refinement generalised to N-D: start from a coarse lattice
    (stride 2^L grid steps), split only cells whose corners disagree, stop at
    the config's grid resolution. New corners are evaluated in vmapped batches.
    A point evaluated later that lands on the face of a cell already judged
    uniform and disagrees with it re-opens that cell (subdivided to the
    current level), so a boundary that pokes through a face between corners
    is not lost. What the method cannot see is a feature lying wholly inside a
    coarse cell without touching any evaluated point (an island smaller than
    the coarse step): choose ``--levels`` so the coarse grid resolves the
    map's topology.

Both methods are plain functions of a JAX scalar function, so they can be
driven with synthetic functions (:func:`find_crossings`, :func:`adaptive_cells`);
:func:`boundary_along` and :func:`boundary_adaptive` wrap them for a
:class:`~sweep.spec.SweepSpec` and :func:`write_boundary_store` stores the result.

One module per method: :mod:`.along` (brackets, Brent, closed forms),
:mod:`.adaptive` (the N-D refinement, dense boundary cells); :mod:`._common`
holds what both share (the output's kernel, argument checks, the result and
its store). This package re-exports the public API.

References
----------
Brent R. P. (1973) *Algorithms for Minimization without Derivatives*, ch. 4
(zeroin); Samet H. (1984) ACM Comput Surv 16:187 (quadtrees).
"""

from ._common import BoundaryResult as BoundaryResult
from ._common import default_store as default_store
from ._common import output_function as output_function
from ._common import write_boundary_store as write_boundary_store
from .adaptive import AdaptiveResult as AdaptiveResult
from .adaptive import adaptive_cells as adaptive_cells
from .adaptive import boundary_adaptive as boundary_adaptive
from .adaptive import boundary_cells as boundary_cells
from .adaptive import check_adaptive as check_adaptive
from .along import ClosedForm as ClosedForm
from .along import Crossings as Crossings
from .along import boundary_along as boundary_along
from .along import brent_root as brent_root
from .along import check_along as check_along
from .along import closed_form as closed_form
from .along import find_crossings as find_crossings

__all__ = [
    "Crossings",
    "ClosedForm",
    "AdaptiveResult",
    "BoundaryResult",
    "brent_root",
    "find_crossings",
    "check_along",
    "check_adaptive",
    "closed_form",
    "boundary_cells",
    "adaptive_cells",
    "output_function",
    "boundary_along",
    "boundary_adaptive",
    "write_boundary_store",
    "default_store",
]
