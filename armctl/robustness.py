"""Robust vs non-robust controllers and online iLQR on the same disturbed episodes (thesis fig. 6.4).

The thesis's ablation: a controller trained *with* the task's disturbances (and noise) is
compared with one trained on the same task *without* them, both evaluated on the same
disturbed episodes; online (receding-horizon) iLQR, which re-plans every step from the
delayed observation but does not know the disturbance, runs on those episodes too.
Each controller also runs the same episodes with the disturbance taken out (noise kept), and the
hand's distance between the two runs measures how it handles the push: the figure's "takes about 7
timesteps to detect and correct for the disturbance" is the number of steps from the onset to the
largest deviation (:func:`correction_steps`), after which the controller is bringing the hand back.
Writes ``OUT/robust`` and ``OUT/non-robust`` (normal run directories), ``OUT/robustness.json``
(a metrics table) and ``OUT/robustness_paths.png`` (hand paths, disturbance period in red).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from armctl import checkpoint, plant, plots, report, runs
from armctl.arm_experiment import ArmConfig, build_task, evaluation_batch, train
from armctl.baselines import online_ilqr
from armctl.rollout import simulate

#: Task options that switch a task's disturbances and noise off.
UNDISTURBED = {
    "ddn": {"disturbance_std": 0.0, "command_noise_std": 0.0},
    "postural": {"force": 0.0},
}
SHOWN = 12  # episodes drawn in the figure


def without_push(batch):
    """``batch`` with its disturbance taken out (joint torques and hand force zero), everything
    else, the noise included, kept: the reference against which a push is measured."""
    no_push = {name: np.zeros_like(getattr(batch, name)) for name in ("joint_disturbance", "hand_force")}
    return batch._replace(**no_push)


def ablations(task, batch) -> dict:
    """``batch`` with parts of its randomness switched off, to measure what each part costs a
    trained controller: ``as_trained``; the command noise off in the last step
    (``no_noise_last_step``) and in the last ``delay + 1`` steps (``no_unseen_noise``: noise the
    delayed controller cannot see before the episode ends, so no controller can correct it);
    ``no_command_noise``; ``no_disturbance`` (:func:`without_push`); ``neither``."""
    noise = np.asarray(batch.command_noise)
    steps = np.arange(noise.shape[1])

    def noise_off_in_last(k):
        return batch._replace(command_noise=np.where((steps < len(steps) - k)[None, :, None], noise, 0))

    no_noise = batch._replace(command_noise=np.zeros_like(noise))
    return {
        "as_trained": batch,
        "no_noise_last_step": noise_off_in_last(1),
        "no_unseen_noise": noise_off_in_last(task.delay + 1),
        "no_command_noise": no_noise,
        "no_disturbance": without_push(batch),
        "neither": without_push(no_noise),
    }


def ablation_losses(run_dir: str | Path) -> dict[str, float]:
    """The saved arm run's mean loss on its evaluation batch under each of :func:`ablations`."""
    config, setup, params, *_ = runs.load_run(run_dir, ArmConfig)
    with config.scope():
        batch = evaluation_batch(setup.task, config.seed)
        losses = {}
        for name, variant in ablations(setup.task, batch).items():
            r = report.rollout(setup, params, variant)
            losses[name] = float(setup.task.loss(r.states, r.commands, variant.target))
    return losses


def correction_steps(arm, states, calm_states, onset) -> tuple[np.ndarray, np.ndarray]:
    """Per episode: the steps from the disturbance's onset to the hand's largest deviation from
    the same episode without the disturbance, and that deviation (mm).

    ``states`` and ``calm_states`` are (B, T+1, 4) rollouts of one controller with and without the
    disturbance (everything else equal), ``onset`` (B,) the first disturbed step: state ``k`` has
    had ``k - onset`` disturbed steps. A controller that never turns the push around peaks at the
    horizon (``T - onset`` steps).
    """
    states, calm_states, onset = np.asarray(states), np.asarray(calm_states), np.asarray(onset)
    if states.shape != calm_states.shape or states.ndim != 3 or onset.shape != states.shape[:1]:
        raise ValueError(
            f"expected states and calm_states of one shape (B, T+1, 4) and onset (B,); got "
            f"{states.shape}, {calm_states.shape} and {onset.shape}"
        )
    gap = np.linalg.norm(
        np.asarray(plant.forward_kinematics(arm, states[..., :2]))
        - np.asarray(plant.forward_kinematics(arm, calm_states[..., :2])),
        axis=-1,
    )
    k = np.arange(states.shape[1])
    gap = np.where(k[None, :] > onset[:, None], gap, -np.inf)
    peak = np.argmax(gap, axis=1)
    return peak - onset, 1000.0 * gap[np.arange(len(peak)), peak]


def default_out(config: ArmConfig) -> Path:
    return Path("runs") / f"robustness-{config.task}-s{config.seed}"


def robustness(
    config: ArmConfig, out: str | Path | None = None, *, force: bool = False, log: Callable = print
) -> dict:
    """Train both controllers from ``config`` into ``out/robust`` and ``out/non-robust`` (reused,
    resumed or refused as in :func:`armctl.compare.compare`) and evaluate them and online iLQR on
    the robust controller's evaluation episodes."""
    if config.task not in UNDISTURBED:
        raise ValueError(
            f"robustness needs a disturbed task, one of {sorted(UNDISTURBED)}; got {config.task!r}"
        )
    out = Path(out) if out is not None else default_out(config)
    runs.check_writable(out)
    calm = dataclasses.replace(config, task_options={**config.task_options, **UNDISTURBED[config.task]})
    configs = {
        name: dataclasses.replace(cfg, out=str(out / name))
        for name, cfg in (("robust", config), ("non-robust", calm))
    }
    plans = {name: runs.plan(cfg, force=force) for name, cfg in configs.items()}
    for name, cfg in configs.items():
        if plans[name] != "done":
            log(f"=== training the {name} controller ===")
            train(cfg, resume=plans[name] == "resume", force=force, log=log)

    with config.scope():
        task = build_task(config)
        batch = evaluation_batch(task, config.seed)
        unpushed = without_push(batch)
        rollouts, unpushed_rollouts = {}, {}
        for name in ("robust", "non-robust"):
            _, setup, params, *_ = runs.load_run(out / name, ArmConfig)
            rollouts[name] = simulate(setup.controller, params, task, batch)
            unpushed_rollouts[name] = simulate(setup.controller, params, task, unpushed)
        log("=== online iLQR on the same episodes, with and without the disturbance ===")
        rollouts["online iLQR"] = online_ilqr(task, batch)
        unpushed_rollouts["online iLQR"] = online_ilqr(task, unpushed)
        table = {}
        for name, r in rollouts.items():
            metrics = task.metrics(r.states, r.commands, batch.target)
            table[name] = {f"mean_{k}": float(np.mean(v)) for k, v in metrics.items()}
            steps, deviation = correction_steps(
                task.arm, r.states, unpushed_rollouts[name].states, batch.onset
            )
            table[name]["median_correction_steps"] = float(np.median(steps))
            table[name]["mean_peak_deviation_mm"] = float(np.mean(deviation))
    onset = np.asarray(batch.onset)[:SHOWN]
    panels = {
        name: {"states": np.asarray(r.states)[:SHOWN], "highlight": [(int(o), task.horizon) for o in onset]}
        for name, r in rollouts.items()
    }
    plots.hand_paths_panels(out / "robustness_paths.png", task.arm, panels, np.asarray(batch.target)[:SHOWN])
    summary = {
        "task": task.name,
        "episodes": batch.size,
        "results": table,
        "config": configs["robust"].to_json(),
    }
    checkpoint.atomic_write_json(out / "robustness.json", summary)
    log(format_table(table))
    return summary


def format_table(table: dict) -> str:
    cols = (
        "mean_cost",
        "mean_final_error_mm",
        "mean_final_speed",
        "mean_energy",
        "median_correction_steps",
        "mean_peak_deviation_mm",
    )
    lines = [f"{'controller':12s}" + "".join(f"{c.split('_', 1)[1]:>18s}" for c in cols)]
    for name, row in table.items():
        lines.append(f"{name:12s}" + "".join(f"{row[c]:18.6g}" for c in cols))
    return "\n".join(lines)
