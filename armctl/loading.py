"""Reloading saved arm runs: their config, setup, parameters and history; evaluation (``armctl eval``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from armctl import report, runs
from armctl.optim import History
from armctl.train import ArmConfig, Setup, build, cast, evaluation_batch


def load_run(run_dir: str | Path) -> tuple[ArmConfig, Setup, dict, History]:
    """``(config, setup, params, history)`` of the arm run saved in ``run_dir``."""
    saved = runs.load(run_dir, ArmConfig)
    return saved.config, build(saved.config), saved.params, saved.history


def evaluation_rollout(run_dir: str | Path):
    """``(setup, batch, rollout, history)`` of a saved run on its evaluation batch (in the run's
    precision)."""
    config, setup, params, history = load_run(run_dir)
    with config.scope():
        batch = evaluation_batch(setup.task, config.seed)
        return setup, batch, report.rollout(setup, params, batch), history


def evaluate(run_dir: str | Path, *, log: Callable = print) -> dict:
    """Reload a run and recompute its report, figures included."""
    config, setup, params, history = load_run(run_dir)
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

    config, setup, params, _ = load_run(run_dir)
    with config.scope():
        in_env = run_policy(setup.controller, params, ArmEnv(task=setup.task), episodes, seed)
        batch = cast(replay_episodes(ArmEnv(task=setup.task), episodes, seed), config)
        r = report.rollout(setup, params, batch)
        jax_metrics = setup.task.metrics(r.states, r.commands, batch.target)
        means = {f"mean_{k}": float(np.mean(v)) for k, v in jax_metrics.items()}
    in_env.pop("per_episode")
    return {"env": in_env, "jax_rollout": means}
