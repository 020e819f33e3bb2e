"""Benchmark iLQR on center-out: ``python bench/ilqr.py --out FILE.json [--preset P] [--quick]``.

Measures, after compilation: wall time of one reach solved alone (``per_reach_s``), of all 64
reaches vmapped in one call (``batch64_s``), iterations to converge and the mean loss. Times
are medians over ``--repeats`` calls. With ``--trajax`` and ``--trajax-src`` (see
``bench/peer_scripts/README.md``) google/trajax's iLQR solves 40-step center-out reaches of the
monkey arm (its script's own cost and 8 targets) in the same run and precision: ``peers.trajax``
and ``speedup_over_trajax`` (per reach). With more than one JAX device, ``data_parallel`` times
the 64 reaches split over all of them.
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
import peers  # noqa: E402
from armctl.baselines.ilqr import solve_task  # noqa: E402
from common import machine_info, median_time, write_json  # noqa: E402

from armctl.optim import parallel  # noqa: E402
from armctl.tasks import CenterOut  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", help="JSON file to write")
    parser.add_argument("--preset", choices=("monkey", "human"), default="monkey")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 repeats (proves the script runs)")
    peers.add_arguments(parser, "trajax")
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
    devices = len(jax.devices())
    if devices > 1:
        # The 64 reaches split over the devices (each solves its own reaches: no communication).
        spread = parallel.shard_batch(batch, parallel.batch_mesh(devices))
        report["data_parallel"] = {
            "devices": devices,
            "batch64_s": median_time(
                lambda: solve_task(task, spread, dtype=dtype).cost, repeats=repeats, warmup=1
            ),
        }
    if args.trajax:
        if not args.trajax_src or args.preset != "monkey":
            parser.error("--trajax needs --trajax-src and the monkey preset (the peer script's arm)")
        peer = peers.trajax(args.trajax, args.trajax_src, x64=args.dtype == "float64")
        report["peers"] = {"trajax": peer}
        report["speedup_over_trajax"] = {"per_reach": peer["per_reach_s"] / report["per_reach_s"]}
    write_json(args.out, report)
    return report


if __name__ == "__main__":
    main()
