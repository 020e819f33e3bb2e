"""One module per ``armctl`` subcommand (see :mod:`armctl.cli`), and what the training commands share.

A training command's arguments are derived from its config class
(:func:`armctl.commands.arguments.add_arguments`), plus ``--resume RUN_DIR`` and ``--force``;
:func:`config_from` turns the parsed arguments into the config to run.
"""

from __future__ import annotations

import argparse
import math

from armctl import runs
from armctl.commands import arguments as _arguments


def integer_at_least(minimum: int):
    """An argparse ``type``: an integer >= ``minimum``. argparse turns its error into a usage
    error (exit 2) naming the option and the value; ``.minimum`` lets tests find such options."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    parse.minimum = minimum
    parse.__name__ = f"integer >= {minimum}"
    return parse


def positive_number(text: str) -> float:
    """An argparse ``type``: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


positive_number.minimum = 0.0
positive_integer = integer_at_least(1)


def integer_list(minimum: int):
    """An argparse ``type``: comma-separated integers, each >= ``minimum`` (``0,1,2``)."""
    one = integer_at_least(minimum)

    def parse(text: str) -> list[int]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"expected comma-separated integers >= {minimum}, got {text!r}")
        values = [one(item) for item in items]
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise argparse.ArgumentTypeError(f"{', '.join(map(str, twice))} given twice in {text!r}")
        return values

    parse.minimum = minimum
    parse.__name__ = f"list of integers >= {minimum}"
    return parse


def add_run_arguments(parser, cls, **kwargs) -> None:
    """The arguments of ``cls`` (:func:`armctl.commands.arguments.add_arguments`), ``--resume`` and
    ``--force``."""
    _arguments.add_arguments(parser, cls, **kwargs)
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR to the budgets given here (totals over the whole run); "
        "its other settings may not change",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace the run already in the output directory"
    )


def config_from(args, cls, given: dict | None = None):
    """The config the arguments ask for (``given``: the typed values, default
    :func:`armctl.commands.arguments.given_arguments`): a new one, or with ``--resume`` the saved
    one with the values given applied (checked against the run when it is resumed)."""
    given = _arguments.given_arguments(args, cls) if given is None else given
    if args.resume is None:
        return cls(**given)
    if "out" in given and given["out"] != args.resume:
        raise ValueError(f"--resume {args.resume} continues that directory; drop --out {given['out']}")
    return runs.read_config(args.resume, cls).resumed(given)
