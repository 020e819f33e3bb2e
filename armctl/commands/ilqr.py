"""``armctl ilqr TASK``: the iLQR baselines.

* ``center-out``: open-loop iLQR (float64) on every reach; writes ``ilqr_report.json`` (mean
  loss, per-reach costs, iterations, timings, torque magnitudes), ``ilqr_paths.png`` (hand
  paths on the target circle) and ``ilqr_torques.png`` (torque profiles), and fills the
  reference-loss cache the trainer reads.
* ``ddn`` / ``postural``: online (receding-horizon) iLQR on a sampled batch, scored with
  ``task.metrics`` next to a do-nothing controller; writes ``ilqr_report.json``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from armctl import plots
from armctl.tasks import CenterOut, make_task

TASK_CHOICES = ("center-out", "ddn", "postural")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ilqr",
        help="iLQR baselines: per-reach iLQR on center-out, online iLQR on ddn/postural",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("task", choices=TASK_CHOICES)
    p.add_argument("--out", required=True, type=pathlib.Path, help="output directory")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed of the sampled batch")
    p.add_argument("--preset", choices=("monkey", "human"), default="monkey", help="arm parameters")
    p.add_argument("--targets", type=int, default=64, help="center-out: number of targets")
    p.add_argument("--batch-size", type=int, default=None, help="ddn: episodes (default: the task's)")
    p.add_argument("--horizon", type=int, default=None, help="online: planning window (default: to the end)")
    p.add_argument("--iters-per-step", type=int, default=2, help="online: iLQR iterations per re-plan")
    p.add_argument(
        "--no-predict-delay",
        dest="predict_delay",
        action="store_false",
        help="online: plan from the delayed observation instead of predicting over the delay",
    )
    p.set_defaults(func=run)


def _mean_metrics(task, rollout, target) -> dict:
    return {
        f"mean_{k}": float(jnp.mean(v))
        for k, v in task.metrics(rollout.states, rollout.commands, target).items()
    }


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args, **kwargs))
    return out, time.perf_counter() - start


def _center_out(args) -> dict:
    from armctl.baselines.ilqr import reference_loss, solve_task

    task = CenterOut(arm=args.preset, n_targets=args.targets)
    batch = task.sample(jax.random.PRNGKey(args.seed))
    print(
        f"ilqr: center-out, {task.n_targets} reaches of radius {task.radius:.4f} m, "
        f"{args.preset} arm, float64"
    )
    result, first_s = _timed(solve_task, task, batch, dtype=jnp.float64)
    print(f"ilqr: solved in {first_s:.2f} s including compilation; timing a second solve")
    result, solve_s = _timed(solve_task, task, batch, dtype=jnp.float64)
    # NumPy from here on: float64 JAX arrays outside a 64-bit scope would be computed in float32.
    result = jax.tree_util.tree_map(np.asarray, result)
    costs, states, commands = result.cost, result.states, result.commands
    with jax.enable_x64(True):
        metrics = _mean_metrics(task, result, np.asarray(batch.target, np.float64))
    report = {
        "task": "center-out",
        "preset": args.preset,
        "n_targets": task.n_targets,
        "radius_m": task.radius,
        "mean_loss": float(costs.mean()),
        "costs": costs.tolist(),
        "iterations": result.iterations.tolist(),
        "iterations_mean": float(np.mean(result.iterations)),
        "all_converged": bool(np.all(result.converged)),
        "max_abs_torque": float(np.abs(commands).max()),
        "max_abs_torque_per_joint": np.abs(commands).max(axis=(0, 1)).tolist(),
        "metrics": metrics,
        "timings": {"first_call_s": first_s, "solve_s": solve_s, "per_reach_s": solve_s / task.n_targets},
        "reference_loss": reference_loss(task),
    }
    print(
        f"ilqr: mean loss {report['mean_loss']:.6g}, iterations {report['iterations_mean']:.2f}, "
        f"max |u| {report['max_abs_torque']:.4g} N m, {solve_s * 1000:.1f} ms for all reaches"
    )
    plots.hand_paths(
        args.out / "ilqr_paths.png",
        task.arm,
        states,
        batch.target,
        label="iLQR",
        title=f"iLQR center-out hand paths ({task.n_targets} reaches, {args.preset} arm)",
    )
    shown = range(0, task.n_targets, max(1, task.n_targets // 8))
    plots.profiles(
        args.out / "ilqr_torques.png",
        task.arm,
        states,
        commands,
        episodes=shown,
        title=f"iLQR center-out: {len(shown)} of {task.n_targets} reaches",
    )
    return report


def _online(args) -> dict:
    from armctl.baselines.ilqr import open_loop
    from armctl.baselines.online import online_ilqr

    overrides = {"arm": args.preset}
    if args.batch_size is not None:
        if args.task != "ddn":
            raise ValueError(f"--batch-size applies to ddn only; {args.task} batches are fixed")
        overrides["batch_size"] = args.batch_size
    task = make_task(args.task, **overrides)
    batch = task.sample(jax.random.PRNGKey(args.seed))
    print(
        f"ilqr: online iLQR on {args.task}, {batch.size} episodes, delay {task.delay}, "
        f"predict_delay={args.predict_delay}, {args.iters_per_step} iterations per step"
    )
    rollout, online_s = _timed(
        online_ilqr,
        task,
        batch,
        horizon=args.horizon,
        predict_delay=args.predict_delay,
        iters_per_step=args.iters_per_step,
    )
    idle = open_loop(task, batch, jnp.zeros((batch.size, task.horizon, 2)))
    report = {
        "task": args.task,
        "preset": args.preset,
        "seed": args.seed,
        "batch_size": batch.size,
        "horizon": args.horizon,
        "predict_delay": args.predict_delay,
        "iters_per_step": args.iters_per_step,
        "online_ilqr": _mean_metrics(task, rollout, batch.target),
        "do_nothing": _mean_metrics(task, idle, batch.target),
        "online_s": online_s,
    }
    for name in ("online_ilqr", "do_nothing"):
        m = report[name]
        print(f"ilqr: {name}: loss {m['mean_cost']:.5g}, final error {m['mean_final_error_mm']:.1f} mm")
    return report


def run(args) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    report = _center_out(args) if args.task == "center-out" else _online(args)
    path = args.out / "ilqr_report.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"ilqr: wrote {path}")
    return 0
