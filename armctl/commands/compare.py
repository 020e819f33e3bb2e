"""``armctl compare TASK --optimizers ahf,hf,lbfgs,adam [--seeds 0,1,2]``: the thesis's fig. 6.2.

Budgets and ``--batch-refresh`` take one value or one per optimizer (the thesis's DDN protocol:
``--function-calls ahf=100000,lbfgs=25000 --batch-refresh lbfgs=25``, which the thesis presets
give when neither is typed: :func:`preset_overrides`)."""

from __future__ import annotations

import argparse
import dataclasses

from armctl import compare, compare_seeds
from armctl.arm_experiment import ArmConfig
from armctl.commands import integer_list, positive_integer, positive_number
from armctl.commands.arguments import add_arguments, given_arguments

#: Config fields that take one value for every optimizer or one per optimizer (``NAME=V,...``):
#: the thesis gave each optimizer its own budget (DDN: AHF 100k calls, L-BFGS 25k) and kept
#: L-BFGS's DDN batch for 25 updates.
PER_OPTIMIZER = {
    "steps": positive_integer,
    "function_calls": positive_integer,
    "minutes": positive_number,
    "batch_refresh": positive_integer,
}
SKIP = ("optimizer", "out", *PER_OPTIMIZER)


def per_optimizer(one):
    """An argparse ``type``: ``V`` (every optimizer, parsed by ``one``) or ``NAME=V,NAME=V``
    (those optimizers; a dict)."""

    def parse(text: str):
        if "=" not in text:
            return one(text)
        values = {}
        for item in (part.strip() for part in text.split(",") if part.strip()):
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise argparse.ArgumentTypeError(f"expected V or NAME=V[,NAME=V], got {item!r} in {text!r}")
            if name.strip() in values:
                raise argparse.ArgumentTypeError(f"{name.strip()} is given twice in {text!r}")
            values[name.strip()] = one(value)
        return values

    parse.minimum = one.minimum
    parse.__name__ = f"{one.__name__}, or NAME=value per optimizer"
    return parse


def split_per_optimizer(given: dict) -> tuple[dict, dict[str, dict]]:
    """``given`` (as :func:`~armctl.commands.arguments.given_arguments` read it) without the per-optimizer
    values, and those values by optimizer. An optimizer's own budget replaces all of its
    budgets but the ones given for every optimizer (as any typed budget replaces the preset's
    default steps)."""
    given, overrides = dict(given), {}
    for field in PER_OPTIMIZER:
        value = given.pop(field, None)
        if isinstance(value, dict):
            for name, v in value.items():
                overrides.setdefault(name, {})[field] = v
        elif value is not None:
            given[field] = value
    for values in overrides.values():
        if set(ArmConfig.BUDGETS) & set(values):
            for budget in ArmConfig.BUDGETS:
                values.setdefault(budget, given.get(budget))
    return given, overrides


def preset_overrides(base: ArmConfig, given: dict, optimizers, overrides: dict[str, dict]) -> dict[str, dict]:
    """``overrides`` plus each optimizer's own preset defaults where they differ from ``base``'s
    (built for one optimizer) and nothing was typed for them: under the thesis presets AHF and
    L-BFGS get the thesis's budgets on postural and DDN, and L-BFGS its DDN batch refresh
    (the task record's ``protocol``: :mod:`armctl.tasks`)."""
    overrides = {name: dict(values) for name, values in overrides.items()}
    budgets = ArmConfig.BUDGETS
    for name in optimizers:
        own = overrides.get(name, {})
        default = dataclasses.replace(base, optimizer=name, **dict.fromkeys(budgets), batch_refresh=None)
        fields = (() if set(budgets) & (set(given) | set(own)) else budgets) + (
            () if "batch_refresh" in given or "batch_refresh" in own else ("batch_refresh",)
        )
        changed = {f: getattr(default, f) for f in fields if getattr(default, f) != getattr(base, f)}
        if changed:
            overrides[name] = {**own, **changed}
    return overrides


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
    fields = {f.name: f for f in dataclasses.fields(ArmConfig)}
    for name, one in PER_OPTIMIZER.items():
        p.add_argument(
            "--" + name.replace("_", "-"),
            type=per_optimizer(one),
            metavar="V|NAME=V,...",
            help=f"{fields[name].metadata['help']}; V for every optimizer, or NAME=V,... per optimizer",
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
    p.set_defaults(func=execute)


def execute(args) -> int:
    given = given_arguments(args, ArmConfig)
    optimizers = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    if args.at_calls is not None and args.seeds is None:
        raise ValueError("--at-calls sets the seed table's call counts; give --seeds too")
    compare.check_optimizers(optimizers)
    given, overrides = split_per_optimizer(given)
    base = ArmConfig(**given)
    overrides = preset_overrides(base, given, optimizers, overrides)
    if args.seeds is None:
        compare.compare(base, optimizers, args.out, overrides=overrides, force=args.force)
        return 0
    if "seed" in given:
        raise ValueError(f"--seed {given['seed']} and --seeds {args.seeds}: give one of them")
    compare_seeds.compare_seeds(
        base,
        optimizers,
        args.seeds,
        args.out,
        at_calls=args.at_calls,
        overrides=overrides,
        force=args.force,
    )
    return 0
