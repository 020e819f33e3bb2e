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

_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
CACHE_DIR = Path(tempfile.gettempdir()) / f"armctl-tests-xla-cache-{_RUN}"
# Environment variables, read when jax is imported: this process and every subprocess it starts.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(CACHE_DIR))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.1")


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("PYTEST_XDIST_WORKER") is None:  # the controller, after every worker ended
        shutil.rmtree(CACHE_DIR, ignore_errors=True)
