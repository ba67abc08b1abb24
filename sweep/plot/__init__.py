"""Phase maps, line plots and sensitivity bars from sweep stores (``sweep plot``).

What is drawn follows from the variable and the dimensions left after ``sel``:

- two dimensions: a phase map (``pcolormesh``). Mode and polarity codes (int8)
  get a categorical colour map with labelled ticks (reverse / equilibrium /
  forward; hyperpolarizing / neutral / depolarizing); counts (int, no flags:
  ``ca_i_ss_count``, ``*_nroots``, ``n_states_cell``) one colour of a
  sequential map per integer with a tick at each; ΔG, driving forces,
  currents and fluxes a diverging map centred on 0; other quantities a
  sequential map. The boundary is overlaid: the 0 contour of a signed
  quantity, or the mode change of a code, as a labelled line ("(grid)") that
  later ``ax.legend()`` calls keep and the legend avoids. A boundary store
  (``sweep boundary --along``) can be overlaid as the refined boundary line
  (below the grid line) with ``side_*`` markers.
- one dimension: a line plot (one line per crossing for boundary variables,
  with the closed form when the store has it).
- an ``input`` dimension (global sensitivity indices S1 / ST / mu_star with
  dims (output, input)): a ranked bar plot, error bars from ``<VAR>_conf``.

Selections (``sel``) take the nearest coordinate value for float coordinates
(values may carry units: ``ca_i=100nM``). Matplotlib's Agg backend is used
through :class:`matplotlib.figure.Figure` (no pyplot state), so plotting is
safe in threads and headless. matplotlib is imported inside the functions
that draw: it takes ~0.5 s to load, which the other commands should not pay.
Text reports live in :mod:`sweep.report`, the command in :mod:`sweep.cli.plot`.

One module per job: :mod:`.data` (open a store, ``--sel``), :mod:`._common`
(labels, display units, scales, colours, dimensions), :mod:`.figure` (a new
figure, saving one), :mod:`.dispatch` (:func:`plot`: which kind),
:mod:`.maps`, :mod:`.lines`, :mod:`.sensitivity` (bars, Sobol', Morris),
:mod:`.samples` and :mod:`.bifurcation`.
"""

from .bifurcation import plot_bifurcation as plot_bifurcation
from .data import open_store as open_store
from .data import parse_sel as parse_sel
from .data import select as select
from .dispatch import plot as plot
from .figure import DEFAULT_DPI as DEFAULT_DPI
from .figure import save_figure as save_figure
from .lines import plot_line as plot_line
from .maps import plot_map as plot_map
from .samples import plot_samples as plot_samples
from .sensitivity import plot_bars as plot_bars
from .sensitivity import plot_morris as plot_morris
from .sensitivity import plot_sobol as plot_sobol

__all__ = [
    "open_store",
    "parse_sel",
    "select",
    "plot",
    "plot_map",
    "plot_line",
    "plot_bars",
    "save_figure",
]
