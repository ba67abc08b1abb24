"""What every benchmark shares: the machine line it prints first, and warm-up-first timing."""

from __future__ import annotations

import os
import platform
import statistics
import time
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


def timed(fn, repeats: int):
    """``(result, median s, compile s, all s)``: one warm-up call (compilation), then repeats."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return out, med, max(0.0, first - med), times
