"""Shared test configuration. Compiled functions live in module-scoped fixtures so each compiles once.

One XLA compilation cache serves the whole run: both xdist workers and the command-line
subprocesses the tests start. Many tests compile the same programs at the same shapes (a task's
rollout, its gradient, a G v product), and the persistent cache is keyed by the program, not by
the Python function, so each compiles once per run instead of once per test. The cache starts
empty in every run and is removed at its end: no test can see a previous run's programs.
"""

import os
import shutil
import tempfile
from pathlib import Path

from armctl.xla_cpu import default_flag  # imports neither JAX nor gymnasium

CACHE_DIR = Path(tempfile.gettempdir()) / f"armctl-tests-xla-cache-{os.getpid()}"
# Set by the run's first process (xdist's controller, or the only one) before any JAX import;
# the workers and every subprocess inherit the environment, so they share its directory.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(CACHE_DIR)
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.1"

# One CPU device in every test process and the subprocesses that inherit its environment. The
# armctl command (which tests call in-process) gives a process one device per core when it is the
# first to start JAX there, so runs without --devices would otherwise split their batches in some
# xdist workers and not in others. Tests of the multi-device layout set their own count.
default_flag("--xla_force_host_platform_device_count=1")


def pytest_sessionfinish(session, exitstatus):
    if os.environ["JAX_COMPILATION_CACHE_DIR"] == str(CACHE_DIR):  # the process that made it
        shutil.rmtree(CACHE_DIR, ignore_errors=True)
