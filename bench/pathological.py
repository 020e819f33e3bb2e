"""Throughput of the pathological runs: counted minibatches per second, against the product's cost.

For each ``T``, a real run (``armctl.sequence.pathological_experiment.train``: HF with structural
damping, the preset's batches, the test set scored every 10 minibatches, checkpoints) trains for
``--steps`` HF iterations in a scratch directory; its history gives the counted minibatches
(Martens & Sutskever's unit: 1000 sequences per gradient or curvature product) per second of
wall time from the end of the first iteration (which compiles) to the last. In the same process
one G v product on a minibatch of the same problem (1000 sequences; the 5-bit problem's 32, which
it counts as one) with the model linearized once, as in CG, and one gradient on it are timed
(median of repeats), and the run's cost per minibatch is reported as a multiple of each:

* ``minibatches_per_s``, ``s_per_minibatch``;
* ``gv_minibatch_s`` / ``grad_minibatch_s``: one product / gradient on a minibatch
  (``product_sequences`` sequences);
* ``overhead_vs_gv``: ``s_per_minibatch / gv_minibatch_s``, 1 when a minibatch costs exactly one
  product (the rest of an HF iteration, its objective evaluations, the test set, checkpoints and
  host round trips, is then free). Issue #36's goal is at most 1.5.

    python bench/pathological.py --out patho.json        # addition T = 50, 100, 200; quick; 5-bit
    python bench/pathological.py --runs memorization_5bit:200,xor:100:quick --steps 20 --out m.json

Run it on a quiet core: the ratios are measured in one process, but a competing process changes
the run and the product timings at different moments. FLOPs: a G v product of the 100-unit RNN
does 4 matmuls of ``B x 100 x 100`` per step (see ``bench/gn_product.py``), reported with the
matmul peak of the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, matmul_peak_gflops, median_time, write_json  # noqa: E402

from armctl import provenance, runs, xla_cpu  # noqa: E402
from armctl.optim import gauss_newton_product  # noqa: E402
from armctl.optim.base import value_and_grad_jit  # noqa: E402
from armctl.sequence import pathological  # noqa: E402
from armctl.sequence.pathological_experiment import (  # noqa: E402
    PathologicalConfig,
    data_source,
    make_problem,
    model_for,
    train,
)


def product_costs(config: PathologicalConfig, repeats: int) -> dict:
    """Seconds of one G v (structural damping on, as in the runs) and one gradient on a minibatch
    of ``config``'s problem (1000 sequences, or the 5-bit problem's 32), at its initialization."""
    model = model_for(config.problem, config.T, config.hidden, config.input_std, config.recurrent_gain)
    problem = make_problem(config.problem, config.T, model)
    params = model.init_params(jax.random.key(config.seed))
    if config.all_sequences:
        batch = data_source(config)(jax.random.key(1))
    else:
        batch = pathological.sample(config.problem, jax.random.key(1), config.T, 1000)
    gnp = gauss_newton_product(problem, params, batch, damping=0.1, structural=1 / 30)
    v = jax.tree_util.tree_map(jnp.ones_like, params)
    return {
        "product_sequences": int(batch.inputs.shape[0]),
        "gv_minibatch_s": median_time(lambda: gnp(v), repeats=repeats),
        "grad_minibatch_s": median_time(lambda: value_and_grad_jit(problem, params, batch), repeats=repeats),
    }


def measure(problem: str, T: int, preset: str, steps: int, repeats: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        config = PathologicalConfig(
            problem=problem, T=T, preset=preset, seed=seed, steps=steps, out=str(Path(scratch) / "run")
        )
        train(config, log=lambda _: None)
        history = runs.read_history(config.run_dir())
    mb, wall = history["minibatches"], history["wall_time"]
    if len(mb) < 2:
        raise ValueError(f"{problem} T={T} ended after {len(mb)} iteration(s): give more --steps")
    rate = (mb[-1] - mb[0]) / (wall[-1] - wall[0])
    costs = product_costs(config, repeats)
    spec = pathological.spec(problem, T)
    gv_flops = spec.length * 4 * 2 * costs["product_sequences"] * config.hidden**2
    s_per_minibatch = 1.0 / rate
    return {
        "problem": problem,
        "T": T,
        "preset": preset,
        "batch_size": config.batch_size,
        "curvature_batch": config.curvature_sequences,
        "iterations_timed": len(mb) - 1,
        "minibatches_timed": mb[-1] - mb[0],
        "cg_iters": history["cg_iters"][1:],
        "minibatches_per_s": rate,
        "s_per_minibatch": s_per_minibatch,
        **costs,
        "gv_gflops": gv_flops / costs["gv_minibatch_s"] / 1e9,
        "overhead_vs_gv": s_per_minibatch / costs["gv_minibatch_s"],
        "overhead_vs_grad": s_per_minibatch / costs["grad_minibatch_s"],
    }


def parse_runs(text: str) -> list[tuple[str, int, str]]:
    """``PROBLEM:T[:PRESET],...`` -> ``[(problem, T, preset), ...]``."""
    runs_ = []
    for item in text.split(","):
        parts = item.strip().split(":")
        if len(parts) not in (2, 3) or parts[0] not in pathological.PROBLEMS or not parts[1].isdigit():
            raise SystemExit(f"--runs: expected PROBLEM:T[:PRESET], got {item!r}")
        runs_.append((parts[0], int(parts[1]), parts[2] if len(parts) == 3 else "default"))
    return runs_


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runs",
        default="addition:50,addition:100,addition:200,addition:50:quick,memorization_5bit:100",
        help="comma-separated PROBLEM:T[:PRESET] (preset default, thesis or quick)",
    )
    parser.add_argument("--steps", type=int, default=6, help="HF iterations per run (the first compiles)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="JSON file for the results")
    args = parser.parse_args()
    xla_cpu.prefer_single_threaded_ops()
    rows = [
        measure(problem, T, preset, args.steps, args.repeats, args.seed)
        for problem, T, preset in parse_runs(args.runs)
    ]
    peak = matmul_peak_gflops()
    header = ("problem", "T", "preset", "mb/s", "s/mb", "G v / mb", "grad / mb", "x G v", "G v peak")
    print("{:<18} {:>4} {:>8} {:>7} {:>7} {:>9} {:>9} {:>6} {:>8}".format(*header))
    for r in rows:
        print(
            f"{r['problem']:<18} {r['T']:>4} {r['preset']:>8} {r['minibatches_per_s']:>7.2f} "
            f"{r['s_per_minibatch']:>7.3f} {r['gv_minibatch_s']:>9.3f} {r['grad_minibatch_s']:>9.3f} "
            f"{r['overhead_vs_gv']:>6.2f} {100 * r['gv_gflops'] / peak:>7.0f}%"
        )
    write_json(
        args.out,
        {
            **provenance.stamp(),
            "machine": machine_info(),
            "devices": jax.device_count(),
            "matmul_peak_gflops": peak,
            "runs": rows,
        },
    )


if __name__ == "__main__":
    main()
