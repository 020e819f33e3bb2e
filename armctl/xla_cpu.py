"""XLA's CPU settings for armctl's workloads, which are many small operations per time step.

XLA lets Eigen spread even a 4 x 4 Cholesky factorization or a 64 x 100 x 100 matmul over all
cores; for such sizes the threads' hand-offs cost more than the work. Measured on a 2-core
machine (bench/vs_peers.py, one run each way): one iLQR reach 1.72 -> 1.00 ms and 64 reaches
42.8 -> 11.9 ms with Eigen kept to one thread; training the thesis's center-out controller
about 10 % faster (3,000 calls: 48 -> 44 s), the numbers unchanged. The cores are better used
as one JAX device each, with the batch split over them (``--devices``,
:mod:`armctl.optim.parallel`): the ``armctl`` command makes one CPU device per core it may run on
(:func:`one_device_per_core`), and a run's ``devices`` defaults to as many of them as its batches
divide evenly.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

#: Keeps each XLA CPU operation on one thread (JAX still runs independent operations in parallel).
SINGLE_THREADED_OPS = "--xla_cpu_multi_thread_eigen=false"


def default_flag(flag: str, environ: MutableMapping[str, str] = os.environ) -> bool:
    """Add ``flag`` (``--name=value``) to ``XLA_FLAGS`` unless the user set that name already.

    Takes effect only when called before JAX creates its CPU backend (the first computation).
    Returns whether it added the flag.
    """
    flags = environ.get("XLA_FLAGS", "")
    if flag.lstrip("-").split("=")[0] in flags:
        return False
    environ["XLA_FLAGS"] = f"{flags} {flag}".strip()
    return True


def local_cores() -> int:
    """The cores this process may run on (its affinity mask, e.g. under ``taskset``)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def one_device_per_core(environ: MutableMapping[str, str] = os.environ) -> bool:
    """:func:`default_flag` of ``--xla_force_host_platform_device_count=<local cores>``: JAX's CPU
    platform gets one device per core this process may use (the ``armctl`` command calls it
    first; a device count the user set in ``XLA_FLAGS`` wins)."""
    return default_flag(f"--xla_force_host_platform_device_count={local_cores()}", environ)


def prefer_single_threaded_ops(environ: MutableMapping[str, str] = os.environ) -> bool:
    """:func:`default_flag` of :data:`SINGLE_THREADED_OPS`: the ``armctl`` command and the
    benchmarks call it first."""
    return default_flag(SINGLE_THREADED_OPS, environ)
