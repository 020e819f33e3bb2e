"""``armctl compare TASK --optimizers ahf,hf,lbfgs,adam``: the thesis's fig. 6.2."""

from __future__ import annotations

from pathlib import Path

from armctl.commands.train import add_config_arguments, config_from_args
from armctl.compare import compare


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compare", help="run several optimizers on identical batches and initializations"
    )
    add_config_arguments(p, optimizer=False)
    p.add_argument("--optimizers", default="ahf,hf,lbfgs,adam", help="comma-separated optimizer names")
    p.add_argument("--out", type=Path, help="output directory (default runs/compare-TASK-sSEED)")
    p.set_defaults(func=run)


def run(args) -> int:
    base = config_from_args(args)
    out = args.out or Path("runs") / f"compare-{base.task}-s{base.seed}"
    compare(base, [o.strip() for o in args.optimizers.split(",") if o.strip()], out)
    return 0
