"""``armctl train TASK``: train a recurrent controller through the plant."""

from __future__ import annotations

from armctl.commands import add_run_arguments, config_from
from armctl.train import ArmConfig, train


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a controller on an arm task (default: AHF on center-out, compared with iLQR)",
        description="Train the thesis's 2 x 100 recurrent controller through the plant. Writes a run "
        "directory (default runs/TASK-OPTIMIZER-sSEED) with config, checkpoint, history, report.json "
        "and PNG figures; --resume continues it. Without --steps, --function-calls or --minutes a "
        "run takes its preset's steps (armctl.presets.STEP_PRESETS; center-out: 600 quick, 2000 thesis).",
    )
    add_run_arguments(p, ArmConfig)
    p.set_defaults(func=run)


def run(args) -> int:
    train(config_from(args, ArmConfig), resume=args.resume is not None, force=args.force)
    return 0
