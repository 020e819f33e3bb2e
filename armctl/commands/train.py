"""``armctl train TASK``: train a recurrent controller through the plant.

Also home of the run-configuration arguments that ``compare`` and ``robustness`` share.
"""

from __future__ import annotations

import json
from pathlib import Path

from armctl.commands import add_scale_arguments
from armctl.train import OPTIMIZERS, TASK_PRESETS, TrainConfig, resume, train


def add_config_arguments(p, tasks=None, default_task: str = "center-out", optimizer: bool = True) -> None:
    """The arguments that build a :class:`~armctl.train.TrainConfig`."""
    p.add_argument("task", nargs="?", default=default_task, choices=sorted(tasks or TASK_PRESETS))
    if optimizer:
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
        "--batch-refresh",
        type=int,
        default=1,
        metavar="K",
        help="keep each training batch for K iterations (default 1: a fresh batch every iteration; "
        "the thesis refreshed L-BFGS's DDN batch every 25)",
    )
    add_scale_arguments(p)


def config_from_args(args) -> TrainConfig:
    return TrainConfig(
        task=args.task,
        optimizer=getattr(args, "optimizer", "ahf"),
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
        remat_block=args.remat_block,
        batch_refresh=args.batch_refresh,
    )


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a controller on an arm task (default: AHF on center-out, compared with iLQR)",
        description="Train the thesis's 2 x 100 recurrent controller through the plant. Writes a run "
        "directory with checkpoint, history, report.json and PNG figures; --resume continues it.",
    )
    add_config_arguments(p)
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
    config = config_from_args(args)
    train(config, args.out or Path("runs") / f"{config.task}-{config.optimizer}-s{config.seed}")
    return 0
