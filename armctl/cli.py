"""The ``armctl`` command line: one subcommand per module in :mod:`armctl.commands`.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a function of the parsed arguments returning an exit code.

Exit codes: 0 done; 1 the work failed (a diverged run, out of memory, a full disk, a failed
pathological run);
2 a usage error (one line naming the bad value and what is valid, before any work);
130 interrupted (Ctrl-C; training commands checkpoint first and say how to resume).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

import jax

from armctl import registry, runs, xla_cpu
from armctl.optim import parallel

COMMAND_MODULES = (
    "armctl.commands.train",
    "armctl.commands.evaluate",
    "armctl.commands.compare",
    "armctl.commands.robustness",
    "armctl.commands.ilqr",
    "armctl.commands.pathological",
    "armctl.commands.lm",
    "armctl.commands.rl",
    "armctl.commands.upgrade",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="armctl",
        description="Train recurrent controllers for a simulated arm with Hessian-free optimization.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Before JAX's first computation starts its backend: one single-threaded CPU device per core
    # (a multi-process launch keeps one device per process, its layout since it began).
    xla_cpu.prefer_single_threaded_ops()
    if not any(os.environ.get(name) for name in parallel.ENV_VARS):
        xla_cpu.one_device_per_core()
    registry.load_plugins()  # their tasks, controllers and optimizers are names the parser accepts
    args = build_parser().parse_args(argv)
    # Progress lines reach a log file or a pipe as they are written, not when the run ends.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)

    def fail(message: str, code: int) -> int:
        print(f"armctl {args.command}: {message}", file=sys.stderr)
        return code

    try:
        # A multi-process launch (ARMCTL_COORDINATOR etc.) joins before any computation.
        parallel.initialize_from_env()
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        return fail(f"error: {err}", 2)
    except runs.Diverged as err:
        return fail(f"error: {err}", 1)
    except runs.Interrupted as err:
        return fail(str(err), 130)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except OSError as err:  # a full disk, a file system gone read-only, a quota, an unreadable file
        where = f"{err.filename}: " if err.filename else ""
        hint = ""
        if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            hint = (
                "; the last checkpoint is intact (files are replaced atomically): resume the run once it "
                "can be written"
            )
        return fail(f"error: {where}{err.strerror or err}{hint}", 1)
    except jax.errors.JaxRuntimeError as err:
        if "RESOURCE_EXHAUSTED" not in str(err) and "out of memory" not in str(err).lower():
            raise
        first = str(err).strip().splitlines()[0]
        return fail(
            f"error: out of memory ({first[:200]}); use smaller batches or more devices (--devices), "
            "or rematerialize long sequences (--remat-block)",
            1,
        )


if __name__ == "__main__":
    sys.exit(main())
