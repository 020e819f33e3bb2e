"""``armctl eval RUN_DIR``: reload a trained controller and report its loss and metrics."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from armctl.rollout import simulate
from armctl.train import evaluate, load_run, precision


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="reload a run and report loss, metrics and figures")
    p.add_argument("run_dir", type=Path)
    p.add_argument(
        "--gym",
        action="store_true",
        help="also run the controller as a policy in the Gymnasium env, "
        " beside the JAX rollout of the same episodes",
    )
    p.add_argument("--episodes", type=int, default=16, help="episodes for --gym")
    p.add_argument("--seed", type=int, default=0, help="seed for the --gym episodes")
    p.set_defaults(func=run)


def gym_metrics(run_dir: Path, episodes: int, seed: int) -> dict:
    """Metrics of the run's controller acting in ``envs.ArmEnv`` and, on the very same
    episodes, in :func:`armctl.rollout.simulate` (they agree unless the env clipped torques)."""
    from armctl.envs.arm_env import ArmEnv
    from armctl.envs.policy import replay_episodes, run_policy

    config, setup, params, _ = load_run(run_dir)
    with precision(config):
        in_env = run_policy(setup.controller, params, ArmEnv(task=setup.task), episodes, seed)
        batch = replay_episodes(ArmEnv(task=setup.task), episodes, seed)
        r = simulate(setup.controller, params, setup.task, batch)
        jax_metrics = setup.task.metrics(r.states, r.commands, batch.target)
        means = {f"mean_{k}": float(np.mean(v)) for k, v in jax_metrics.items()}
    in_env.pop("per_episode")
    return {"env": in_env, "jax_rollout": means}


def run(args) -> int:
    # Progress to stderr, so stdout is the JSON summary alone.
    summary = evaluate(args.run_dir, log=lambda line: print(line, file=sys.stderr))
    if args.gym:
        summary["gym"] = gym_metrics(args.run_dir, args.episodes, args.seed)
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0
