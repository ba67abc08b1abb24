"""What every benchmark prints first: cores, CPU model, JAX version and device."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    """e.g. ``2 cores, AMD EPYC, JAX 0.10.2 on cpu:cpu``."""
    import jax

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dev = jax.devices()[0]
    return (
        f"{os.cpu_count()} cores, {cpu}, JAX {jax.__version__} on {dev.platform}:{dev.device_kind}"
    )
