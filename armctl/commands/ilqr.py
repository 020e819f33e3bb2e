"""``armctl ilqr TASK``: the iLQR baselines.

* ``center-out``: open-loop iLQR (float64) on every reach; writes ``ilqr_report.json`` (mean
  loss, per-reach costs, iterations, timings, torque magnitudes), ``ilqr_paths.png`` (hand
  paths on the target circle) and ``ilqr_torques.png`` (torque profiles), and fills the
  reference-loss cache the trainer reads.
* ``ddn`` / ``postural``: online (receding-horizon) iLQR on a sampled batch, scored with
  ``task.metrics`` next to a do-nothing controller; writes ``ilqr_report.json``.
"""

from __future__ import annotations

import json
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from armctl import plant
from armctl.tasks import CenterOut, make_task

TASK_CHOICES = ("center-out", "ddn", "postural")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ilqr",
        help="iLQR baselines: per-reach iLQR on center-out, online iLQR on ddn/postural",
        description=__doc__,
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


def _plot_center_out(task: CenterOut, states: np.ndarray, commands: np.ndarray, out: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = plt.cm.hsv(np.linspace(0, 1, len(states), endpoint=False))
    hands = np.asarray(plant.forward_kinematics(task.arm, jnp.asarray(states[..., :2], jnp.float32)))
    center, goals = task.center_hand(), task.target_hands()
    fig, ax = plt.subplots(figsize=(5, 5))
    ring = np.linspace(0, 2 * np.pi, 200)
    ax.plot(center[0] + task.radius * np.cos(ring), center[1] + task.radius * np.sin(ring), "k:", lw=0.8)
    for path, goal, c in zip(hands, goals, colors, strict=True):
        ax.plot(path[:, 0], path[:, 1], color=c, lw=1)
        ax.plot(*goal, "o", color=c, ms=3)
    ax.set_aspect("equal")
    ax.set_xlabel("hand x (m)")
    ax.set_ylabel("hand y (m)")
    ax.set_title(f"iLQR center-out hand paths ({len(states)} reaches)")
    fig.tight_layout()
    fig.savefig(out / "ilqr_paths.png", dpi=120)
    plt.close(fig)

    time_ms = 1000 * task.arm.dt * np.arange(commands.shape[1])
    fig, axes = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    for joint, ax in enumerate(axes):
        for u, c in zip(commands, colors, strict=True):
            ax.plot(time_ms, u[:, joint], color=c, lw=0.8)
        ax.set_ylabel(f"{('shoulder', 'elbow')[joint]} torque (N m)")
    axes[-1].set_xlabel("time (ms)")
    axes[0].set_title("iLQR center-out torque profiles")
    fig.tight_layout()
    fig.savefig(out / "ilqr_torques.png", dpi=120)
    plt.close(fig)


def _center_out(args) -> dict:
    from baselines.ilqr import reference_loss, solve_task

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
    _plot_center_out(task, states, commands, args.out)
    return report


def _online(args) -> dict:
    from baselines.ilqr import open_loop
    from baselines.online import online_ilqr

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
    if args.targets < 1:
        raise ValueError(f"--targets must be >= 1, got {args.targets}")
    args.out.mkdir(parents=True, exist_ok=True)
    report = _center_out(args) if args.task == "center-out" else _online(args)
    path = args.out / "ilqr_report.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"ilqr: wrote {path}")
    return 0
