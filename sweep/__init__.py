"""transporter-sweep engine: YAML config → validated spec → plan → dask execution → zarr.

Python API (the CLI ``sweep`` is a thin layer over it)::

    import sweep
    spec = sweep.load_spec("configs/quickstart.yaml")
    sweep.run(spec, overwrite=True)
    ds = xarray.open_zarr(spec.store)
"""

from .driver import init as init
from .driver import run as run
from .execute import evaluate_grid as evaluate_grid
from .execute import evaluate_points as evaluate_points
from .plan import Plan as Plan
from .plan import make_plan as make_plan
from .spec import ConfigError as ConfigError
from .spec import SweepSpec as SweepSpec
from .spec import load_spec as load_spec
from .spec import parse_config as parse_config
from .store import StoreError as StoreError
from .store import store_status as store_status

__all__ = [
    "ConfigError",
    "Plan",
    "StoreError",
    "SweepSpec",
    "evaluate_grid",
    "evaluate_points",
    "init",
    "load_spec",
    "make_plan",
    "parse_config",
    "run",
    "store_status",
]
