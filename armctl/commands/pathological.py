"""``armctl pathological``: train an RNN on one pathological problem, or sweep problems x lengths.

    armctl pathological addition --T 50 --optimizer hf --seed 0
    armctl pathological --resume runs/pathological/addition-T50-hf-s0 --minutes 30
    armctl pathological sweep --problems addition,temporal_order --T 30,50 --out runs/patho

Batch sizes default to the thesis's (10,000 / 1,000 sequences, test 10,000); smaller ones make
reduced versions feasible on a laptop CPU. A single run exits with 1 when it fails.
"""

from __future__ import annotations

import argparse

from armctl.commands import add_run_arguments, config_from
from armctl.config import field_default, given_arguments
from armctl.sequence import pathological
from armctl.sequence.train_pathological import PathologicalConfig, sweep, train

LISTS = ("T", "optimizer", "seed")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pathological",
        help="RNN on the pathological long-range problems (thesis sec. 4.3)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "problem", nargs="?", choices=[*pathological.PROBLEMS, "sweep"], help="a problem, or 'sweep'"
    )
    parser.add_argument("--problems", help="sweep: comma-separated problem names (default: addition)")
    add_run_arguments(parser, PathologicalConfig, listable=True)
    parser.set_defaults(func=run_command)


def _single(given: dict) -> dict:
    """A single run's values from the (list) arguments."""
    lists = [name for name in LISTS if len(given.get(name, [None])) != 1]
    if lists:
        raise ValueError(f"a single run takes one value of --{', --'.join(lists)} (use 'sweep' for lists)")
    return {k: v[0] if k in LISTS else v for k, v in given.items()}


def run_command(args) -> int:
    given = given_arguments(args, PathologicalConfig, listable=True)
    if args.problem == "sweep":
        if args.resume:
            raise ValueError(
                "a sweep resumes its unfinished runs by itself: run it again instead of --resume"
            )
        if "out" not in given:
            raise ValueError("sweep needs --out DIR")
        problems = [
            p.strip() for p in (args.problems or field_default(PathologicalConfig, "problem")).split(",")
        ]
        lists = {name: given.pop(name, [field_default(PathologicalConfig, name)]) for name in LISTS}
        sweep(
            problems,
            lists["T"],
            lists["optimizer"],
            lists["seed"],
            given.pop("out"),
            force=args.force,
            **given,
        )
        return 0
    if args.problem is None and args.resume is None:
        raise ValueError(
            f"name a problem ({', '.join(pathological.PROBLEMS)}) or 'sweep', or give --resume RUN_DIR"
        )
    given = _single(given)
    if args.problem is not None:
        given["problem"] = args.problem
    report = train(
        config_from(args, PathologicalConfig, given), resume=args.resume is not None, force=args.force
    )
    return 0 if report["success"] else 1
