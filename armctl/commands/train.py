"""``armctl train TASK``: train a recurrent controller through the plant."""

from __future__ import annotations

from armctl.arm_experiment import ArmConfig, train
from armctl.commands import add_run_arguments, config_from


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a controller on an arm task (default: AHF on center-out, compared with iLQR)",
        description="Train the thesis's 2 x 100 recurrent controller through the plant. Writes a run "
        "directory (default runs/TASK-OPTIMIZER-sSEED) with config, checkpoint, history, report.json "
        "and PNG figures; --resume continues it. Without --steps, --function-calls or --minutes a "
        "run takes its preset's budget: under the thesis presets the thesis's function calls for AHF "
        "and L-BFGS on postural and DDN (the task's protocol, armctl.tasks), else the preset's steps "
        "(the task's record; center-out: 600 quick, 2000 thesis).",
    )
    add_run_arguments(p, ArmConfig)
    p.add_argument(
        "--until-ratio",
        type=float,
        metavar="R",
        help="also stop once the evaluation loss is within R x iLQR's (e.g. 1.01; center-out only)",
    )
    p.set_defaults(func=execute)


def execute(args) -> int:
    config = config_from(args, ArmConfig)
    train(config, resume=args.resume is not None, force=args.force, until_ratio=args.until_ratio)
    return 0
