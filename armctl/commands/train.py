"""``armctl train TASK``: train a recurrent controller through the plant."""

from __future__ import annotations

import json
from pathlib import Path

from armctl.train import OPTIMIZERS, TASK_PRESETS, TrainConfig, resume, train


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a controller on an arm task (default: AHF on center-out, compared with iLQR)",
        description="Train the thesis's 2 x 100 recurrent controller through the plant. Writes a run "
        "directory with checkpoint, history, report.json and PNG figures; --resume continues it.",
    )
    p.add_argument("task", nargs="?", default="center-out", choices=sorted(TASK_PRESETS))
    p.add_argument("--optimizer", default="ahf", choices=OPTIMIZERS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--preset",
        default="quick",
        choices=["quick", "thesis"],
        help="quick: minutes on 2 CPU cores; thesis: the thesis's batch sizes and budgets",
    )
    p.add_argument("--arm", default="monkey", choices=["monkey", "human"])
    p.add_argument("--steps", type=int, help="optimizer iterations")
    p.add_argument(
        "--budget", type=int, dest="max_function_calls", help="stop after this many function calls"
    )
    p.add_argument("--minutes", type=float, help="stop after this many minutes")
    p.add_argument("--hidden", type=int, nargs=2, metavar=("H1", "H2"), help="hidden layer sizes")
    p.add_argument(
        "--task-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a task field, e.g. n_targets=64 (repeatable; values are JSON)",
    )
    p.add_argument(
        "--optimizer-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an optimizer setting, e.g. lambda_init=1.0 (repeatable; values are JSON)",
    )
    p.add_argument(
        "--dtype",
        default="float64",
        choices=["float64", "float32"],
        help="float64 (default) resolves the last fraction of a percent near iLQR's optimum",
    )
    p.add_argument(
        "--devices",
        type=int,
        default=1,
        help="shard every batch over this many devices (data-parallel; see README)",
    )
    p.add_argument("--out", type=Path, help="run directory (default runs/TASK-OPTIMIZER-sSEED)")
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR (budgets given here replace its own)",
    )
    p.set_defaults(func=run)


def parse_options(pairs: list[str]) -> dict:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"option {pair!r} is not KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def run(args) -> int:
    if args.resume:
        resume(
            args.resume, steps=args.steps, max_function_calls=args.max_function_calls, minutes=args.minutes
        )
        return 0
    config = TrainConfig(
        task=args.task,
        optimizer=args.optimizer,
        seed=args.seed,
        preset=args.preset,
        arm=args.arm,
        steps=args.steps,
        max_function_calls=args.max_function_calls,
        minutes=args.minutes,
        hidden=tuple(args.hidden) if args.hidden else None,
        task_options=parse_options(args.task_option),
        optimizer_options=parse_options(args.optimizer_option),
        dtype=args.dtype,
        devices=args.devices,
    )
    out = args.out or Path("runs") / f"{config.task}-{config.optimizer}-s{config.seed}"
    train(config, out)
    return 0
