"""``armctl compare TASK --optimizers ahf,hf,lbfgs,adam``: the thesis's fig. 6.2."""

from __future__ import annotations

from armctl import compare
from armctl.config import add_arguments, given_arguments
from armctl.train import ArmConfig

SKIP = ("optimizer", "out")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compare",
        help="run several optimizers on identical batches and initializations",
        description="Train one controller per optimizer (sub-runs OUT/NAME, reused or resumed when "
        "they exist) and compare their losses against function calls and time (thesis fig. 6.2).",
    )
    add_arguments(p, ArmConfig, skip=SKIP)
    p.add_argument("--optimizers", default="ahf,hf,lbfgs,adam", help="comma-separated optimizer names")
    p.add_argument("--out", help="output directory (default runs/compare-TASK-sSEED)")
    p.add_argument("--force", action="store_true", help="replace sub-runs trained with other settings")
    p.set_defaults(func=run)


def run(args) -> int:
    base = ArmConfig(**given_arguments(args, ArmConfig))
    optimizers = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    compare.compare(base, optimizers, args.out, force=args.force)
    return 0
