"""Helpers shared by the benchmark scripts: timing after compile, a matmul peak, JSON output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp

from armctl import xla_cpu
from armctl.optim import parallel

# The armctl command's CPU setting (one thread per XLA operation), so that the benchmarks measure
# what users run; set before the first computation starts JAX's backend.
xla_cpu.prefer_single_threaded_ops()


def median_time(fn: Callable[[], object], repeats: int = 7, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` (blocking on its result) after ``warmup`` calls (which compile)."""
    for _ in range(warmup):
        jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_peak_gflops(n: int = 2048, dtype=jnp.float32, repeats: int = 7) -> float:
    """GFLOP/s of a large square matmul over all devices (the rows of the left factor split between
    them): the machine's peak that other rates are compared with, whether the cores are one JAX
    device or one device each."""
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), dtype)
    b = jax.random.normal(jax.random.PRNGKey(1), (n, n), dtype)
    if len(jax.devices()) > 1 and n % len(jax.devices()) == 0:
        mesh = parallel.batch_mesh()
        a, b = parallel.shard_batch(a, mesh), parallel.replicate(b, mesh)
    f = jax.jit(jnp.matmul)
    return 2 * n**3 / median_time(lambda: f(a, b), repeats=repeats) / 1e9


def cpu_model() -> str:
    """The CPU's model name (Linux), else what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    return {
        "cpu_model": cpu_model(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "devices": len(jax.devices()),
        "device": str(jax.devices()[0]),
        "backend": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "jax": jax.__version__,
    }


def write_json(path: str | None, result: dict) -> None:
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text + "\n")
