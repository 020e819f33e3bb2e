"""Helpers shared by the benchmark scripts: timing after compile, a matmul peak, JSON output."""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp

from armctl import xla_cpu
from armctl.optim import parallel

#: Set in the processes :func:`run_processes` starts: the CPU the process pins itself to, and
#: where process 0 writes its result.
CPU_VAR, RESULT_VAR = "ARMCTL_BENCH_CPU", "ARMCTL_BENCH_RESULT"

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_processes(script: str, argv: list[str], processes: int, timeout_s: float = 3600) -> dict:
    """Run ``python script argv`` as ``processes`` processes joined by ``jax.distributed`` on
    loopback (one CPU device each, process ``i`` pinned to the ``i``-th CPU this process may use);
    returns the result process 0 passed to :func:`write_result`.

    Why processes: the devices of one process (``--xla_force_host_platform_device_count``) share
    XLA's one CPU thread pool, so each device's per-step kernels hop between cores and the two
    devices' scans slow each other down; a pinned process per core keeps each device on its core.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if not 2 <= processes <= len(cpus):
        raise ValueError(f"processes must be in 2..{len(cpus)} (the CPUs this run may use), got {processes}")
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        # Each process has one device: a forced device count in XLA_FLAGS (bench/vs_peers.py sets
        # one) is left out of theirs.
        flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if "device_count" not in f]
        env = os.environ | {"XLA_FLAGS": " ".join(flags)}
        # stderr goes to files, not pipes: a pipe read only at the end can fill up and stall
        # a process that logs much.
        logs = [open(Path(tmp) / f"stderr-{i}", "w+") for i in range(processes)]
        procs = [
            subprocess.Popen(
                [sys.executable, script, *argv],
                env=env
                | {
                    "ARMCTL_COORDINATOR": f"127.0.0.1:{port}",
                    "ARMCTL_NUM_PROCESSES": str(processes),
                    "ARMCTL_PROCESS_ID": str(i),
                    CPU_VAR: str(cpus[i]),
                    RESULT_VAR: str(result),
                },
                stdout=None if i == 0 else subprocess.DEVNULL,
                stderr=logs[i],
            )
            for i in range(processes)
        ]
        # Watch all of them: the others of a failed process would wait at jax.distributed's
        # join or collectives until its own timeout (minutes) before anything shows.
        deadline = time.monotonic() + timeout_s
        while (codes := [p.poll() for p in procs]).count(None) and not any(codes):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for p in procs:
            p.kill()
            p.wait()
        errors = []
        for i, (code, log) in enumerate(zip(codes, logs, strict=True)):
            log.seek(0)
            if code is None:
                why = "another process failed" if any(codes) else f"still running after {timeout_s:.0f} s"
                errors.append(f"process {i} stopped: {why}")
            elif code:
                errors.append(f"process {i} exited with {code}:\n{log.read()[-2000:]}")
            log.close()
        if errors:
            raise RuntimeError("\n".join(errors))
        return json.loads(result.read_text())


def join_processes() -> bool:
    """In a process :func:`run_processes` started, pin it to its CPU and join the others (call it
    before any computation) and return True; elsewhere do nothing and return False."""
    if CPU_VAR not in os.environ:
        return False
    os.sched_setaffinity(0, {int(os.environ[CPU_VAR])})
    parallel.initialize_from_env()
    return True


def write_result(result: dict) -> None:
    """Hand ``result`` to :func:`run_processes` (process 0 of such a run; elsewhere nothing)."""
    if RESULT_VAR in os.environ and jax.process_index() == 0:
        Path(os.environ[RESULT_VAR]).write_text(json.dumps(result))
