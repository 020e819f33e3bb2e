"""``armctl ilqr TASK``: the iLQR baselines (:mod:`armctl.ilqr_report`).

* ``center-out``: open-loop iLQR (float64) on every reach: report, hand paths, torque profiles;
  fills the reference-loss cache the trainer reads.
* ``ddn`` / ``postural``: online (receding-horizon) iLQR on a sampled batch, beside doing nothing.
"""

from __future__ import annotations

import argparse
import functools

from armctl.commands import positive_integer
from armctl.ilqr_report import TASKS, ilqr_report


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ilqr",
        help="iLQR baselines: per-reach iLQR on center-out, online iLQR on ddn/postural",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("task", choices=TASKS)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--force", action="store_true", help="replace an earlier report in --out")
    # Defaults live in armctl.ilqr_report's functions: only what is typed is passed on.
    option = functools.partial(p.add_argument, default=argparse.SUPPRESS)
    option("--seed", type=int, help="PRNG seed of the sampled batch (default 0)")
    option("--arm", choices=("monkey", "human"), help="limb parameters (default monkey)")
    option(
        "--targets",
        dest="n_targets",
        type=positive_integer,
        help="center-out: number of targets (default 64)",
    )
    option("--batch-size", type=positive_integer, help="ddn: episodes (default: the task's)")
    option("--horizon", type=positive_integer, help="online: planning window (default: to the end)")
    option("--iters-per-step", type=positive_integer, help="online: iLQR iterations per re-plan (default 2)")
    option(
        "--no-predict-delay",
        dest="predict_delay",
        action="store_false",
        help="online: plan from the delayed observation instead of predicting over the delay",
    )
    p.set_defaults(func=execute)


OPTIONS = ("seed", "arm", "n_targets", "batch_size", "horizon", "iters_per_step", "predict_delay")


def execute(args) -> int:
    options = {name: getattr(args, name) for name in OPTIONS if hasattr(args, name)}
    ilqr_report(args.task, args.out, force=args.force, **options)
    return 0
