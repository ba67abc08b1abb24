"""transporter-sweep engine: YAML config → validated spec → plan → dask execution → zarr.

Data flows one way: :mod:`.spec` (validated, units converted) → :mod:`.design`
and :mod:`.plan` (rows, blocks, shards) → :mod:`.execute` (the one point
function, batching and dispatcher) → :mod:`.store` (zarr). The analyses in
:mod:`.analysis` (boundaries, local and global sensitivity) consume the
engine; :mod:`.report` formats text, :mod:`.plot` draws figures and
:mod:`.cli` is the command line over all of them.

Python API (the CLI ``sweep`` is a thin layer over it)::

    import sweep
    spec = sweep.load_spec("configs/quickstart.yaml")
    sweep.run(spec, overwrite=True)
    ds = xarray.open_zarr(spec.store)
"""

from .analysis.boundary import boundary_adaptive as boundary_adaptive
from .analysis.boundary import boundary_along as boundary_along
from .analysis.boundary import find_crossings as find_crossings
from .analysis.boundary import write_boundary_store as write_boundary_store
from .analysis.global_sensitivity import UnusableOutputError as UnusableOutputError
from .analysis.global_sensitivity import analyze as analyze
from .analysis.global_sensitivity import global_sensitivity as global_sensitivity
from .analysis.local_sensitivity import local_sensitivity as local_sensitivity
from .design import GlobalProblem as GlobalProblem
from .design import global_problem as global_problem
from .design import sample as sample
from .driver import init as init
from .driver import run as run
from .execute import evaluate_function as evaluate_function
from .execute import evaluate_grid as evaluate_grid
from .execute import evaluate_points as evaluate_points
from .manifest import StoreError as StoreError
from .manifest import store_status as store_status
from .plan import Plan as Plan
from .plan import make_plan as make_plan
from .plot import open_store as open_store
from .plot import plot as plot
from .plot import plot_bars as plot_bars
from .plot import plot_bifurcation as plot_bifurcation
from .plot import plot_line as plot_line
from .plot import plot_map as plot_map
from .plot import plot_morris as plot_morris
from .plot import plot_samples as plot_samples
from .plot import plot_sobol as plot_sobol
from .plot import save_figure as save_figure
from .report import local_summary as local_summary
from .report import ranked_table as ranked_table
from .report import registry_table as registry_table
from .spec import ConfigError as ConfigError
from .spec import SweepSpec as SweepSpec
from .spec import load_config as load_config
from .spec import load_spec as load_spec
from .spec import parse_config as parse_config
from .units import derivative as derivative
from .units import display_unit as display_unit

__all__ = [
    "ConfigError",
    "GlobalProblem",
    "Plan",
    "StoreError",
    "SweepSpec",
    "UnusableOutputError",
    "analyze",
    "boundary_adaptive",
    "boundary_along",
    "evaluate_function",
    "evaluate_grid",
    "evaluate_points",
    "find_crossings",
    "global_problem",
    "global_sensitivity",
    "init",
    "load_config",
    "load_spec",
    "local_sensitivity",
    "local_summary",
    "make_plan",
    "open_store",
    "parse_config",
    "plot",
    "plot_bars",
    "plot_bifurcation",
    "plot_line",
    "plot_map",
    "plot_morris",
    "plot_samples",
    "plot_sobol",
    "derivative",
    "display_unit",
    "ranked_table",
    "registry_table",
    "run",
    "sample",
    "save_figure",
    "store_status",
    "write_boundary_store",
]
