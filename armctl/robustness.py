"""Robust vs non-robust controllers and online iLQR on the same disturbed episodes (thesis fig. 6.4).

The thesis's ablation: a controller trained *with* the task's disturbances (and noise) is
compared with one trained on the same task *without* them, both evaluated on the same
disturbed episodes; online (receding-horizon) iLQR, which re-plans every step from the
delayed observation but does not know the disturbance, runs on those episodes too.
Writes ``OUT/robust`` and ``OUT/non-robust`` (normal run directories), ``OUT/robustness.json``
(a metrics table) and ``OUT/robustness_paths.png`` (hand paths, disturbance period in red).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from armctl import checkpoint, plots, runs
from armctl.baselines import online_ilqr
from armctl.loading import load_run
from armctl.rollout import simulate
from armctl.train import ArmConfig, build_task, evaluation_batch, train

#: Task options that switch a task's disturbances and noise off.
UNDISTURBED = {
    "ddn": {"disturbance_std": 0.0, "command_noise_std": 0.0},
    "postural": {"force": 0.0},
}
SHOWN = 12  # episodes drawn in the figure


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
        rollouts = {}
        for name in ("robust", "non-robust"):
            _, setup, params, _ = load_run(out / name)
            rollouts[name] = simulate(setup.controller, params, task, batch)
        log("=== online iLQR on the same episodes ===")
        rollouts["online iLQR"] = online_ilqr(task, batch)
        table = {}
        for name, r in rollouts.items():
            metrics = task.metrics(r.states, r.commands, batch.target)
            table[name] = {f"mean_{k}": float(np.mean(v)) for k, v in metrics.items()}
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
    cols = ("mean_cost", "mean_final_error_mm", "mean_final_speed", "mean_energy")
    lines = [f"{'controller':12s}" + "".join(f"{c[5:]:>18s}" for c in cols)]
    for name, row in table.items():
        lines.append(f"{name:12s}" + "".join(f"{row[c]:18.6g}" for c in cols))
    return "\n".join(lines)
