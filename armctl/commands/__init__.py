"""One module per ``armctl`` subcommand (see :mod:`armctl.cli`), and what the training commands share.

A training command's arguments are derived from its config class
(:func:`armctl.config.add_arguments`), plus ``--resume RUN_DIR`` and ``--force``;
:func:`config_from` turns the parsed arguments into the config to run.
"""

from __future__ import annotations

from armctl import config as _config
from armctl import runs


def add_run_arguments(parser, cls, **kwargs) -> None:
    """The arguments of ``cls`` (see :func:`armctl.config.add_arguments`), ``--resume``, ``--force``."""
    _config.add_arguments(parser, cls, **kwargs)
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
    :func:`armctl.config.given_arguments`): a new one, or with ``--resume`` the saved one with
    the values given applied (checked against the run when it is resumed)."""
    given = _config.given_arguments(args, cls) if given is None else given
    if args.resume is None:
        return cls(**given)
    if "out" in given and given["out"] != args.resume:
        raise ValueError(f"--resume {args.resume} continues that directory; drop --out {given['out']}")
    return runs.read_config(args.resume, cls).resumed(given)
