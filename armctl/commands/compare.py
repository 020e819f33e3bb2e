"""``armctl compare TASK --optimizers ahf,hf,lbfgs,adam [--seeds 0,1,2] [--batch-refresh lbfgs=25]``:
the thesis's fig. 6.2."""

from __future__ import annotations

import argparse

from armctl import compare, compare_seeds
from armctl.commands import integer_list, positive_integer
from armctl.config import add_arguments, given_arguments
from armctl.train import ArmConfig

# --batch-refresh is the config's field, widened here to one value per optimizer.
SKIP = ("optimizer", "out", "batch_refresh")


def batch_refresh_values(text: str) -> int | dict[str, int]:
    """An argparse ``type``: ``K`` (every optimizer) or ``NAME=K,NAME=K`` (those optimizers;
    the others get a fresh batch every step)."""
    if "=" not in text:
        return positive_integer(text)
    values = {}
    for item in (part.strip() for part in text.split(",") if part.strip()):
        name, sep, k = item.partition("=")
        if not sep or not name.strip():
            raise argparse.ArgumentTypeError(f"expected K or NAME=K[,NAME=K], got {item!r} in {text!r}")
        values[name.strip()] = positive_integer(k)
    return values


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compare",
        help="run several optimizers on identical batches and initializations",
        description="Train one controller per optimizer (sub-runs OUT/NAME, reused or resumed when "
        "they exist) and compare their losses against function calls and time (thesis fig. 6.2). "
        "With --seeds, one sub-run per optimizer and seed (OUT/NAME-sSEED), summarized as the "
        "median and range over the seeds.",
    )
    add_arguments(p, ArmConfig, skip=SKIP)
    p.add_argument(
        "--batch-refresh",
        type=batch_refresh_values,
        metavar="K|NAME=K,...",
        help="keep each training batch for K steps, for every optimizer or per optimizer (1, the "
        "default: a fresh batch every step; the thesis kept L-BFGS's DDN batch for 25: lbfgs=25)",
    )
    p.add_argument("--optimizers", default="ahf,hf,lbfgs,adam", help="comma-separated optimizer names")
    p.add_argument(
        "--seeds",
        type=integer_list(0),
        help="compare over these seeds (e.g. 0,1,2,3,4) instead of the one --seed: median and "
        "best-to-worst band (compare_seeds.png), table at --at-calls (seeds.json)",
    )
    p.add_argument(
        "--at-calls",
        type=integer_list(1),
        help="with --seeds: the function-call counts of the table (default: the largest every run reached)",
    )
    p.add_argument(
        "--out",
        help="output directory (default runs/compare-TASK-sSEED, with --seeds "
        "runs/compare-seeds-TASK-PRESET)",
    )
    p.add_argument("--force", action="store_true", help="replace sub-runs trained with other settings")
    p.set_defaults(func=run)


def run(args) -> int:
    given = given_arguments(args, ArmConfig)
    optimizers = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    # given_arguments took --batch-refresh as typed: one value stays a config field, a dict of
    # values becomes per-optimizer settings.
    refresh, overrides = given.pop("batch_refresh", None), {}
    if isinstance(refresh, int):
        given["batch_refresh"] = refresh
    elif refresh:
        overrides = {name: {"batch_refresh": k} for name, k in refresh.items()}
    if args.at_calls is not None and args.seeds is None:
        raise ValueError("--at-calls sets the seed table's call counts; give --seeds too")
    if args.seeds is None:
        compare.compare(ArmConfig(**given), optimizers, args.out, overrides=overrides, force=args.force)
        return 0
    if "seed" in given:
        raise ValueError(f"--seed {given['seed']} and --seeds {args.seeds}: give one of them")
    compare_seeds.compare_seeds(
        ArmConfig(**given),
        optimizers,
        args.seeds,
        args.out,
        at_calls=args.at_calls,
        overrides=overrides,
        force=args.force,
    )
    return 0
