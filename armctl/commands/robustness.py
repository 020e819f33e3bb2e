"""``armctl robustness ddn``: robust vs non-robust controller vs online iLQR (thesis fig. 6.4)."""

from __future__ import annotations

from pathlib import Path

from armctl.commands.train import add_config_arguments, config_from_args
from armctl.robustness import UNDISTURBED, robustness


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "robustness",
        help="controllers trained with and without disturbances, and online iLQR, on the same episodes",
    )
    add_config_arguments(p, tasks=UNDISTURBED, default_task="ddn")
    p.add_argument("--out", type=Path, help="output directory (default runs/robustness-TASK-sSEED)")
    p.set_defaults(func=run)


def run(args) -> int:
    config = config_from_args(args)
    robustness(config, args.out or Path("runs") / f"robustness-{config.task}-s{config.seed}")
    return 0
