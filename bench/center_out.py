"""Center-out: loss against function calls and wall time for several optimizers, as ratios to iLQR.

    python bench/center_out.py --out center_out.json [--full] [--budget CALLS] [--optimizers LIST]

Quick mode: 8 targets; ``--full``: the thesis's 64. Every optimizer starts from the same
initialization and trains with the same function-call budget (objective evaluations +
gradients + Gauss-Newton products); the run directories, ``compare.png`` (fig. 6.2) and
``compare_paths.png`` (fig. 6.5) land in ``--runs``. JSON: ``optimizers`` -> {name:
{``final_loss``, ``ratio_to_ilqr``, ``calls``, ``wall_s``, ``final_error_mm``}}, ``ilqr_loss``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, write_json  # noqa: E402

from armctl.arm_experiment import ArmConfig  # noqa: E402
from armctl.compare import compare  # noqa: E402


def main(argv=None) -> dict:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--out", help="write the JSON result here")
    parser.add_argument("--full", action="store_true", help="64 targets (default 8)")
    parser.add_argument("--budget", type=int, default=20000, help="function calls per optimizer")
    parser.add_argument("--optimizers", default="ahf,hf,lbfgs,adam")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=Path, default=Path("runs/bench-center-out"))
    args = parser.parse_args(argv)
    n_targets = 64 if args.full else 8
    runs = args.runs / f"{n_targets}-targets"
    shutil.rmtree(runs, ignore_errors=True)
    config = ArmConfig(
        task="center-out",
        seed=args.seed,
        function_calls=args.budget,
        task_options={"n_targets": n_targets},
        checkpoint_every=50,
    )
    summary = compare(config, args.optimizers.split(","), runs)
    result = {
        "n_targets": n_targets,
        "budget_calls": args.budget,
        "ilqr_loss": summary["ilqr_loss"],
        "optimizers": summary["optimizers"],
        "runs": str(runs),
        "machine": machine_info(),
    }
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
