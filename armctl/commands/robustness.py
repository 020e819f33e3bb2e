"""``armctl robustness ddn``: robust vs non-robust controller vs online iLQR (thesis fig. 6.4)."""

from __future__ import annotations

from armctl import robustness
from armctl.arm_experiment import ArmConfig
from armctl.commands.arguments import add_arguments, given_arguments

#: The command's own defaults: a disturbed task.
DEFAULTS = {"task": "ddn"}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "robustness",
        help="controllers trained with and without disturbances, and online iLQR, on the same episodes",
    )
    add_arguments(
        p, ArmConfig, skip=("out",), choices={"task": tuple(robustness.UNDISTURBED)}, defaults=DEFAULTS
    )
    p.add_argument("--out", help="output directory (default runs/robustness-TASK-sSEED)")
    p.add_argument("--force", action="store_true", help="replace sub-runs trained with other settings")
    p.set_defaults(func=execute)


def execute(args) -> int:
    config = ArmConfig(**given_arguments(args, ArmConfig, defaults=DEFAULTS))
    robustness.robustness(config, args.out, force=args.force)
    return 0
