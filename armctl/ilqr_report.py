"""The iLQR baselines as an experiment (``armctl ilqr TASK``).

* center-out: open-loop iLQR (float64) on every reach; writes ``ilqr_report.json`` (mean loss,
  per-reach costs, iterations, timings, torque magnitudes), ``ilqr_paths.png`` (hand paths on
  the target circle) and ``ilqr_torques.png`` (torque profiles), and fills the reference-loss
  cache the trainer reads.
* ddn / postural: online (receding-horizon) iLQR on a sampled batch, scored with
  ``task.metrics`` next to a do-nothing controller; writes ``ilqr_report.json``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from armctl import checkpoint, plots, runs
from armctl.options import check_options, signature_parameters
from armctl.tasks import CenterOut, make_task

TASKS = ("center-out", "ddn", "postural")
REPORT = "ilqr_report.json"


def _mean_metrics(task, rollout, target) -> dict:
    return {
        f"mean_{k}": float(jnp.mean(v))
        for k, v in task.metrics(rollout.states, rollout.commands, target).items()
    }


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args, **kwargs))
    return out, time.perf_counter() - start


def center_out(
    out: Path, *, arm: str = "monkey", n_targets: int = 64, seed: int = 0, log: Callable = print
) -> dict:
    """Open-loop iLQR on every center-out reach: the report, hand paths and torque profiles."""
    from armctl.baselines.ilqr import reference_loss, solve_task

    task = CenterOut(arm=arm, n_targets=n_targets)
    batch = task.sample(jax.random.PRNGKey(seed))
    log(f"ilqr: center-out, {task.n_targets} reaches of radius {task.radius:.4f} m, {arm} arm, float64")
    result, first_s = _timed(solve_task, task, batch, dtype=jnp.float64)
    log(f"ilqr: solved in {first_s:.2f} s including compilation; timing a second solve")
    result, solve_s = _timed(solve_task, task, batch, dtype=jnp.float64)
    # NumPy from here on: float64 JAX arrays outside a 64-bit scope would be computed in float32.
    result = jax.tree_util.tree_map(np.asarray, result)
    costs, states, commands = result.cost, result.states, result.commands
    with jax.enable_x64(True):
        metrics = _mean_metrics(task, result, np.asarray(batch.target, np.float64))
    report = {
        "task": "center-out",
        "arm": arm,
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
    log(
        f"ilqr: mean loss {report['mean_loss']:.6g}, iterations {report['iterations_mean']:.2f}, "
        f"max |u| {report['max_abs_torque']:.4g} N m, {solve_s * 1000:.1f} ms for all reaches"
    )
    plots.hand_paths(
        out / "ilqr_paths.png",
        task.arm,
        states,
        batch.target,
        label="iLQR",
        title=f"iLQR center-out hand paths ({task.n_targets} reaches, {arm} arm)",
    )
    shown = range(0, task.n_targets, max(1, task.n_targets // 8))
    plots.profiles(
        out / "ilqr_torques.png",
        task.arm,
        states,
        commands,
        episodes=shown,
        title=f"iLQR center-out: {len(shown)} of {task.n_targets} reaches",
    )
    report["figures"] = ["ilqr_paths.png", "ilqr_torques.png"]
    return report


def online(
    task_name: str,
    *,
    arm: str = "monkey",
    seed: int = 0,
    batch_size: int | None = None,
    horizon: int | None = None,
    iters_per_step: int = 2,
    predict_delay: bool = True,
    log: Callable = print,
) -> dict:
    """Online (receding-horizon) iLQR on a sampled batch of ``task_name``, beside doing nothing."""
    from armctl.baselines.ilqr import open_loop
    from armctl.baselines.online import online_ilqr

    task = make_task(task_name, arm=arm, **({} if batch_size is None else {"batch_size": batch_size}))
    batch = task.sample(jax.random.PRNGKey(seed))
    log(
        f"ilqr: online iLQR on {task_name}, {batch.size} episodes, delay {task.delay}, "
        f"predict_delay={predict_delay}, {iters_per_step} iterations per step"
    )
    rollout, online_s = _timed(
        online_ilqr, task, batch, horizon=horizon, predict_delay=predict_delay, iters_per_step=iters_per_step
    )
    idle = open_loop(task, batch, jnp.zeros((batch.size, task.horizon, 2)))
    report = {
        "task": task_name,
        "arm": arm,
        "seed": seed,
        "batch_size": batch.size,
        "horizon": horizon,
        "predict_delay": predict_delay,
        "iters_per_step": iters_per_step,
        "online_ilqr": _mean_metrics(task, rollout, batch.target),
        "do_nothing": _mean_metrics(task, idle, batch.target),
        "online_s": online_s,
    }
    for name in ("online_ilqr", "do_nothing"):
        m = report[name]
        log(f"ilqr: {name}: loss {m['mean_cost']:.5g}, final error {m['mean_final_error_mm']:.1f} mm")
    return report


def ilqr_report(task: str, out: str | Path, *, force: bool = False, log: Callable = print, **options) -> dict:
    """The iLQR baseline of ``task`` into ``out`` (see the module); returns the report.

    ``options`` are those of :func:`center_out` (center-out) or :func:`online` (the others).
    Checked before any work: the task, the options (names and kinds), and ``out`` (an earlier
    report there is replaced only with ``force``).
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {list(TASKS)}")
    experiment = center_out if task == "center-out" else online
    parameters = signature_parameters(experiment)
    check_options(
        f"{task} iLQR", options, {k: v for k, v in parameters.items() if k not in ("out", "task_name", "log")}
    )
    if options.get("batch_size") is not None and task != "ddn":
        raise ValueError(f"batch_size applies to ddn only; {task} batches are fixed")
    if options.get("arm", "monkey") not in ("monkey", "human"):
        raise ValueError(f"unknown arm {options['arm']!r}; expected 'monkey' or 'human'")
    out = Path(out)
    runs.check_writable(out)
    if (out / REPORT).exists() and not force:
        raise ValueError(f"{out} already holds an iLQR report ({REPORT}); replace it with --force")
    out.mkdir(parents=True, exist_ok=True)
    report = center_out(out, log=log, **options) if task == "center-out" else online(task, log=log, **options)
    checkpoint.atomic_write_json(out / REPORT, report)
    log(f"ilqr: wrote {out / REPORT}")
    return report
