"""``armctl pathological``: train an RNN on one pathological problem, sweep problems x lengths, run
a campaign file, or export and check a trained network.

    armctl pathological addition --T 50 --optimizer hf --seed 0
    armctl pathological addition --T 50 --preset thesis             # the thesis's protocol as written
    armctl pathological --resume runs/pathological/addition-T50-hf-s0 --minutes 30
    armctl pathological sweep --problems addition,temporal_order --T 30,50 --out runs/patho
    armctl pathological campaign campaigns/fig4_1.toml --hours 8    # start or resume every run
    armctl pathological campaign campaigns/fig4_1.toml --status     # merge and show, train nothing
    armctl pathological export runs/pathological/addition-T50-hf-s0 --out addition-T50.npz
    armctl pathological eval docs/models/addition-T200-hf-s0.npz --T 200 --sequences 10000 --seed 1

Batch sizes default to the thesis's (10,000 / 1,000 sequences, test 10,000); ``--preset quick``
(1000 / 200, test 2000) makes reduced versions feasible on a laptop CPU. A single run exits with 1
when it fails; ``eval`` exits with 1 when the network misclassifies 1 % of the sequences or more.
"""

from __future__ import annotations

import argparse
import json

from armctl.commands import add_run_arguments, config_from, integer_list, positive_integer, positive_number
from armctl.commands.arguments import given_arguments, split_values
from armctl.config import field_default
from armctl.sequence import campaign, model_file, pathological
from armctl.sequence.pathological_experiment import PathologicalConfig, sweep, train

LISTS = ("T", "optimizer", "seed")
#: Modes that are not a problem's name, and the path each takes.
MODES = {
    "sweep": None,
    "campaign": "the campaign file (TOML)",
    "export": "the run directory",
    "eval": "the model file",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pathological",
        help="RNN on the pathological long-range problems (thesis sec. 4.3)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "problem", nargs="?", choices=[*pathological.PROBLEMS, *MODES], help="a problem, or one of the modes"
    )
    parser.add_argument(
        "path", nargs="?", help="campaign: the campaign file; export: the run directory; eval: the model file"
    )
    parser.add_argument("--problems", help="sweep: comma-separated problem names (default: addition)")
    add_run_arguments(parser, PathologicalConfig, listable=True)
    parser.add_argument(
        "--cores", type=integer_list(0), help="campaign: the cores to run on, one run each (default: all)"
    )
    parser.add_argument(
        "--hours", type=positive_number, help="campaign: stop (checkpointed) after this many hours"
    )
    parser.add_argument(
        "--status", action="store_true", help="campaign: merge and show the runs, train nothing"
    )
    parser.add_argument(
        "--sequences",
        type=positive_integer,
        default=10_000,
        help="eval: fresh sequences to score (default: 10000)",
    )
    parser.set_defaults(func=execute)


def _single(given: dict) -> dict:
    """A single run's values from the (list) arguments."""
    lists = [name for name in LISTS if len(given.get(name, [None])) != 1]
    if lists:
        raise ValueError(f"a single run takes one value of --{', --'.join(lists)} (use 'sweep' for lists)")
    return {k: v[0] if k in LISTS else v for k, v in given.items()}


def _refuse(args, mode: str, allowed: set[str], given: dict) -> None:
    """Refuse options that ``mode`` does not use (typed, they would be silently ignored)."""
    extra = {k for k in given if k not in allowed}
    extra |= {name for name in ("cores", "hours") if getattr(args, name) is not None and name not in allowed}
    if args.status and "status" not in allowed:
        extra.add("status")
    if args.problems is not None:
        extra.add("problems")
    if args.resume is not None:
        extra.add("resume")
    if args.force:
        extra.add("force")
    if extra:
        flags = ", ".join("--" + name.replace("_", "-") for name in sorted(extra))
        raise ValueError(f"{mode} does not take {flags}")


def _campaign(args, given: dict) -> int:
    _refuse(args, "campaign", {"out", "cores", "hours", "status"}, given)
    out = given.get("out") or campaign.default_out(args.path)
    planned = campaign.read(args.path, out)
    if args.status:
        rows = campaign.merge(planned, out)
    else:
        rows = campaign.execute(planned, out, cores=args.cores, hours=args.hours)
    for row in rows:
        best = row.get("best_test_error")
        print(
            f"{row['name']:<44} {row['state']:<10} {row.get('minibatches', 0):>9.0f} minibatches"
            + (f"  best test error {100 * best:6.2f} %" if best is not None else "")
        )
    print(f"results in {out}/results.json")
    return 0


def execute(args) -> int:
    given = given_arguments(args, PathologicalConfig, listable=True)
    if args.problem in ("campaign", "export", "eval"):
        if args.path is None:
            raise ValueError(f"{args.problem} needs {MODES[args.problem]}")
        if args.problem == "campaign":
            return _campaign(args, given)
        if args.problem == "export":
            _refuse(args, "export", {"out"}, given)
            if "out" not in given:
                raise ValueError("export needs --out FILE.npz")
            meta = model_file.export(args.path, given["out"])
            print(f"{meta['problem']} T={meta['T']}: network written to {given['out']}")
            return 0
        _refuse(args, "eval", {"T", "seed"}, given)
        values = _single(given)
        result = model_file.evaluate(
            args.path, T=values.get("T"), sequences=args.sequences, seed=values.get("seed", 0)
        )
        print(json.dumps(result, indent=2))
        return 0 if result["solved"] else 1
    if args.path is not None:
        raise ValueError(f"unexpected argument {args.path!r} (a path is for campaign, export and eval)")
    if args.problem == "sweep":
        if args.resume:
            raise ValueError(
                "a sweep resumes its unfinished runs by itself: run it again instead of --resume"
            )
        if "out" not in given:
            raise ValueError("sweep needs --out DIR")
        problems = split_values(
            args.problems or field_default(PathologicalConfig, "problem"),
            str,
            "problems",
            pathological.PROBLEMS,
        )
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
            f"name a problem ({', '.join(pathological.PROBLEMS)}), a mode ({', '.join(MODES)}), "
            "or give --resume RUN_DIR"
        )
    given = _single(given)
    if args.problem is not None:
        given["problem"] = args.problem
    report = train(
        config_from(args, PathologicalConfig, given), resume=args.resume is not None, force=args.force
    )
    return 0 if report["success"] else 1
