"""``armctl compare TASK --optimizers ahf,hf,lbfgs,adam``: the thesis's fig. 6.2."""

from __future__ import annotations

from pathlib import Path

from armctl.commands.train import parse_options
from armctl.compare import compare
from armctl.train import TASK_PRESETS, TrainConfig


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compare", help="run several optimizers on identical batches and initializations"
    )
    p.add_argument("task", nargs="?", default="center-out", choices=sorted(TASK_PRESETS))
    p.add_argument("--optimizers", default="ahf,hf,lbfgs,adam", help="comma-separated optimizer names")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", default="quick", choices=["quick", "thesis"])
    p.add_argument("--arm", default="monkey", choices=["monkey", "human"])
    p.add_argument("--steps", type=int)
    p.add_argument("--budget", type=int, dest="max_function_calls", help="function calls per optimizer")
    p.add_argument("--minutes", type=float, help="minutes per optimizer")
    p.add_argument("--task-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", type=Path, help="output directory (default runs/compare-TASK-sSEED)")
    p.set_defaults(func=run)


def run(args) -> int:
    base = TrainConfig(
        task=args.task,
        seed=args.seed,
        preset=args.preset,
        arm=args.arm,
        steps=args.steps,
        max_function_calls=args.max_function_calls,
        minutes=args.minutes,
        task_options=parse_options(args.task_option),
    )
    out = args.out or Path("runs") / f"compare-{base.task}-s{base.seed}"
    compare(base, [o.strip() for o in args.optimizers.split(",") if o.strip()], out)
    return 0
