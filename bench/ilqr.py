"""Benchmark iLQR on center-out: ``python bench/ilqr.py --out FILE.json [--preset P] [--quick]``.

Measures, after compilation: wall time of one reach solved alone (``per_reach_s``), of all 64
reaches vmapped in one call (``batch64_s``), iterations to converge and the mean loss. Times
are medians over ``--repeats`` calls. Reference: trajax iLQR takes ~2-9 ms per 40-step solve
in 3-4 iterations; the goal is no slower per reach and under 0.5 s for the batch of 64.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from armctl.baselines.ilqr import solve_task  # noqa: E402
from common import machine_info, median_time, write_json  # noqa: E402

from armctl.tasks import CenterOut  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--preset", choices=("monkey", "human"), default="monkey")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 repeats (proves the script runs)")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    dtype = jnp.dtype(args.dtype)

    task = CenterOut(arm=args.preset, n_targets=64)
    batch = task.sample(jax.random.PRNGKey(0))
    single_task = CenterOut(arm=args.preset, n_targets=1)
    single = jax.tree_util.tree_map(lambda a: a[:1], batch)
    result = jax.tree_util.tree_map(np.asarray, solve_task(task, batch, dtype=dtype))
    report = {
        "per_reach_s": median_time(
            lambda: solve_task(single_task, single, dtype=dtype).cost, repeats=repeats, warmup=1
        ),
        "batch64_s": median_time(
            lambda: solve_task(task, batch, dtype=dtype).cost, repeats=repeats, warmup=1
        ),
        "iterations_mean": float(np.mean(result.iterations)),
        "iterations_max": int(np.max(result.iterations)),
        "mean_loss": float(np.mean(result.cost)),
        "all_converged": bool(np.all(result.converged)),
        "max_abs_torque": float(np.max(np.abs(result.commands))),
        "preset": args.preset,
        "dtype": args.dtype,
        "repeats": repeats,
        # The iLQR timings were taken on a shared machine: the load says how shared.
        "machine": {**machine_info(), "load_avg": os.getloadavg()},
    }
    write_json(args.out, report)
    return report


if __name__ == "__main__":
    main()
