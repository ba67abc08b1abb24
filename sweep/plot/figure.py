"""Figures themselves: a new figure (Agg, no pyplot state) and saving one to a file."""

from __future__ import annotations

from pathlib import Path

from ..spec import ConfigError

FIGSIZE = (6.4, 4.8)


DEFAULT_DPI = 150


def _new_axes(ax):
    from matplotlib.figure import Figure  # lazy: see module note

    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    return fig, fig.add_subplot()


def save_figure(fig, path: str | Path, dpi: int = DEFAULT_DPI) -> Path:
    """Save ``fig`` (Agg) at ``dpi``; the format follows the file extension."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: see module note

    path = Path(path)
    if not isinstance(dpi, int) or isinstance(dpi, bool) or not 10 <= dpi <= 2400:
        raise ConfigError(f"--dpi {dpi!r} is not allowed: an integer 10..2400")
    canvas = FigureCanvasAgg(fig)
    ext = path.suffix.lower().lstrip(".")
    formats = canvas.get_supported_filetypes()
    if ext not in formats:
        raise ConfigError(
            f"-o {str(path)!r}: unknown image format {ext or '(none)'!r}; use one of "
            f"{', '.join(sorted(formats))}"
        )
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
