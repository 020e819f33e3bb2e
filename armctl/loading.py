"""Saved arm runs (:func:`armctl.runs.load_run` rebuilds them): evaluation (``armctl eval``), the
rollout on the evaluation batch, the controller in the Gymnasium env."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from armctl import report, runs
from armctl.arm_experiment import ArmConfig, cast, evaluation_batch


def evaluation_rollout(run_dir: str | Path):
    """``(setup, batch, rollout, history)`` of a saved run on its evaluation batch (in the run's
    precision)."""
    config, setup, params, history, _ = runs.load_run(run_dir, ArmConfig)
    with config.scope():
        batch = evaluation_batch(setup.task, config.seed)
        return setup, batch, report.rollout(setup, params, batch), history


def evaluate(run_dir: str | Path, *, log: Callable = print) -> dict:
    """Reload a run and recompute its report, figures included."""
    config, setup, params, history, _ = runs.load_run(run_dir, ArmConfig)
    with config.scope():
        batch = evaluation_batch(setup.task, config.seed)
        return report.write(
            Path(run_dir), setup, params, history, batch, report.reference_loss(setup.task), log=log
        )


def gym_metrics(run_dir: str | Path, episodes: int, seed: int) -> dict:
    """Metrics of the run's controller acting in the Gymnasium env (``armctl.envs``, imported
    here only) and, on the very same episodes, in :func:`armctl.rollout.simulate`; they agree
    unless the env clipped torques."""
    import numpy as np

    from armctl.envs.arm_env import ArmEnv
    from armctl.envs.policy import replay_episodes, run_policy

    config, setup, params, *_ = runs.load_run(run_dir, ArmConfig)
    with config.scope():
        in_env = run_policy(setup.controller, params, ArmEnv(task=setup.task), episodes, seed)
        batch = cast(replay_episodes(ArmEnv(task=setup.task), episodes, seed), config)
        r = report.rollout(setup, params, batch)
        jax_metrics = setup.task.metrics(r.states, r.commands, batch.target)
        means = {f"mean_{k}": float(np.mean(v)) for k, v in jax_metrics.items()}
    in_env.pop("per_episode")
    return {"env": in_env, "jax_rollout": means}
