"""Reports of arm runs: the evaluation-batch loss and metrics, the ratio to iLQR, the figures.

What a task shows is its record's view (:class:`armctl.registry.TaskView`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from armctl import plots, runs
from armctl.registry import task_record
from armctl.rollout import simulate
from armctl.tasks import Task

_simulate = jax.jit(simulate, static_argnums=(0, 2))


def rollout(setup, params, batch):
    """The controller of ``setup`` on ``batch`` (jitted)."""
    return _simulate(setup.controller, params, setup.task, batch)


def reference_loss(task: Task) -> float | None:
    """iLQR's mean loss on the task when it is the task's yardstick (center-out), else ``None``."""
    if not task_record(task.name).view.ilqr_reference:
        return None
    from armctl.baselines import reference_loss as ilqr_reference

    return float(ilqr_reference(task))


def ilqr_states(task: Task, batch) -> np.ndarray | None:
    """iLQR's optimal state trajectories for the batch, where iLQR is the task's yardstick."""
    if not task_record(task.name).view.ilqr_reference:
        return None
    from armctl.baselines import solve_task

    return np.asarray(solve_task(task, batch).states)


def describe(reference: float | None) -> Callable[[dict], str]:
    """The progress text of a history row: loss, evaluation loss, ratio to iLQR, calls, lambda."""

    def text(record: dict) -> str:
        loss = record["eval_loss"] if record["eval_loss"] is not None else record["loss"]
        parts = [f"loss {record['loss']:.6g}", f"eval {loss:.6g}"]
        if reference:
            parts.append(f"x iLQR {loss / reference:.4f}")
        parts.append(f"calls {record['function_calls']}")
        if record.get("lambda") is not None:
            parts.append(f"lambda {record['lambda']:.3g}")
        return "  ".join(parts)

    return text


def evaluation_losses(history) -> list[float]:
    """Per-step evaluation loss (training-batch loss where no evaluation batch was used)."""
    return [e if e is not None else l for e, l in zip(history["eval_loss"], history["loss"], strict=True)]


def write(run_dir: Path, setup, params, history, eval_batch, reference, *, log: Callable = print) -> dict:
    """Evaluate on the evaluation batch, draw the figures, write ``report.json``; return the report."""
    task = setup.task
    r = rollout(setup, params, eval_batch)
    metrics = {k: np.asarray(v) for k, v in task.metrics(r.states, r.commands, eval_batch.target).items()}
    loss = float(metrics["cost"].mean())
    figures = figures_of(run_dir, setup, r, eval_batch, history, reference)
    summary = {
        "task": task.name,
        "loss": loss,
        "ilqr_loss": reference,
        "ratio_to_ilqr": loss / reference if reference else None,
        "metrics": {f"mean_{k}": float(v.mean()) for k, v in metrics.items()},
        "iterations": len(history),
        "function_calls": history["function_calls"][-1] if len(history) else 0,
        "wall_s": history["wall_time"][-1] if len(history) else 0.0,
        "figures": [str(p.name) for p in figures],
    }
    runs.write_report(run_dir, summary)
    ratio = f", {summary['ratio_to_ilqr']:.4f} x iLQR" if reference else ""
    log(
        f"{task.name}: loss {loss:.6g}{ratio}; final hand error "
        f"{summary['metrics']['mean_final_error_mm']:.2f} mm; report and figures in {run_dir}"
    )
    return summary


def figures_of(run_dir: Path, setup, r, batch, history, reference) -> list[Path]:
    """Hand paths (iLQR's dashed where it is the yardstick), profiles, the loss curve, and the
    task's own figures."""
    task, arm, view = setup.task, setup.task.arm, task_record(setup.task.name).view
    states, commands = np.asarray(r.states), np.asarray(r.commands)
    ref_states = ilqr_states(task, batch)
    shown = slice(view.shown)
    highlight = [(int(o), task.horizon) for o in np.asarray(batch.onset)] if view.disturbance else None
    figs = [
        plots.hand_paths(
            run_dir / "hand_paths.png",
            arm,
            states[shown],
            np.asarray(batch.target)[shown],
            reference_states=None if ref_states is None else ref_states[shown],
            title=f"{task.name}: hand paths" + (" (iLQR dashed)" if ref_states is not None else ""),
            highlight=None if highlight is None else highlight[shown],
        ),
        plots.profiles(
            run_dir / "profiles.png", arm, states, commands, episodes=(0,), title=f"{task.name}: episode 0"
        ),
    ]
    if len(history):
        figs.append(
            plots.loss_curves(
                run_dir / "loss.png",
                {task.name: (history["function_calls"], evaluation_losses(history))},
                reference=reference,
                title=f"{task.name}: evaluation loss",
            )
        )
    if view.joint_episodes:
        figs.append(
            plots.joint_trajectories(
                run_dir / f"{task.name}_joints.png",
                arm,
                states,
                np.asarray(batch.target),
                episodes=view.joint_episodes,
                title=f"{task.name}: held against constant forces",
            )
        )
    return figs
