"""``armctl robustness ddn``: robust vs non-robust controller vs online iLQR (thesis fig. 6.4)."""

from __future__ import annotations

from pathlib import Path

from armctl.commands.train import parse_options
from armctl.robustness import UNDISTURBED, robustness
from armctl.train import OPTIMIZERS, TrainConfig


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "robustness",
        help="controllers trained with and without disturbances, and online iLQR, on the same episodes",
    )
    p.add_argument("task", nargs="?", default="ddn", choices=sorted(UNDISTURBED))
    p.add_argument("--optimizer", default="ahf", choices=OPTIMIZERS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", default="quick", choices=["quick", "thesis"])
    p.add_argument("--steps", type=int)
    p.add_argument("--budget", type=int, dest="max_function_calls")
    p.add_argument("--minutes", type=float, help="minutes per controller")
    p.add_argument("--task-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", type=Path, help="output directory (default runs/robustness-TASK-sSEED)")
    p.set_defaults(func=run)


def run(args) -> int:
    config = TrainConfig(
        task=args.task,
        optimizer=args.optimizer,
        seed=args.seed,
        preset=args.preset,
        steps=args.steps,
        max_function_calls=args.max_function_calls,
        minutes=args.minutes,
        task_options=parse_options(args.task_option),
    )
    robustness(config, args.out or Path("runs") / f"robustness-{config.task}-s{config.seed}")
    return 0
