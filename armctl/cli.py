"""The ``armctl`` command line: one subcommand per module in :mod:`armctl.commands`.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a function of the parsed arguments returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from armctl.optim import parallel

COMMAND_MODULES = (
    "armctl.commands.train",
    "armctl.commands.evaluate",
    "armctl.commands.compare",
    "armctl.commands.robustness",
    "armctl.commands.ilqr",
    "armctl.commands.pathological",
    "armctl.commands.lm",
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
    args = build_parser().parse_args(argv)
    try:
        # A multi-process launch (ARMCTL_COORDINATOR etc.) joins before any computation.
        parallel.initialize_from_env()
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as err:
        print(f"armctl {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
