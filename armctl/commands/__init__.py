"""One module per ``armctl`` subcommand (see :mod:`armctl.cli`), and the arguments they share."""

from __future__ import annotations


def add_scale_arguments(p) -> None:
    """``--devices`` and ``--remat-block``, the same on every training command (see README, More devices)."""
    p.add_argument(
        "--devices",
        type=int,
        default=1,
        help="shard every batch over this many devices, all processes together (data-parallel); default 1",
    )
    p.add_argument(
        "--remat-block",
        type=int,
        default=0,
        help="rematerialize the scan over time in blocks of this many steps (~sqrt(T)); 0: off",
    )
