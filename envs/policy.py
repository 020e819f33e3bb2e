"""Run an armctl controller as a policy in the Gymnasium env (``armctl eval RUN_DIR --gym``)."""

from __future__ import annotations

from functools import partial

import gymnasium as gym
import jax
import numpy as np
from armctl.envs import core, versions
from armctl.envs.arm_env import ArmEnv

from armctl.tasks import TaskBatch


@partial(jax.jit, static_argnums=(0,))
def _act(controller, params, carry, obs):
    """One controller step on a batch of observations (n, obs_dim): ``(carry, torques (n, 2))``."""
    state, target = core.controller_inputs(obs)
    carry, u, _ = controller.step(params, carry, state, target)
    return carry, u


def run_policy(controller, params, env_id_or_env: str | gym.Env, n_episodes: int, seed: int) -> dict:
    """Roll ``controller`` (``initial_state`` / ``step`` as in :mod:`armctl.rollout`) out in the env.

    Each step the controller sees the observation's delayed state and target; the action
    is its torque divided by the env's ``torque_limit`` (the env clips actions to [-1, 1]).
    Episodes come from ``reset(seed=seed)`` then ``n_episodes - 1`` plain ``reset()`` calls,
    so ``env.unwrapped.episode`` after each reset of a same-seeded env replays them.

    Returns the task's metrics (:meth:`armctl.tasks.Task.metrics`) on the true states:
    ``mean_<metric>`` and ``per_episode`` lists, plus ``mean_return`` (with v0's reward, equals
    ``-mean_cost``), ``saturated_fraction`` (share of action components the env clipped),
    ``n_episodes`` and ``env_id``. Raises ``RuntimeError`` if the controller makes an episode
    diverge (``info["diverged"]``).
    """
    if not isinstance(n_episodes, (int, np.integer)) or isinstance(n_episodes, bool) or n_episodes < 1:
        raise ValueError(f"n_episodes must be an integer >= 1, got {n_episodes!r}")
    env = gym.make(env_id_or_env) if isinstance(env_id_or_env, str) else env_id_or_env
    base = env.unwrapped
    if not isinstance(base, ArmEnv):
        raise TypeError(f"run_policy needs an armctl ArmEnv, got {type(base).__name__}")
    task, limit = base.task, base.torque_limit
    states, commands, targets, returns, saturated = [], [], [], [], 0
    for episode in range(n_episodes):
        obs, info = env.reset(seed=seed if episode == 0 else None)
        carry = controller.initial_state(params, 1)
        xs, us, ret = [info["state"]], [], 0.0
        done = False
        while not done:
            carry, u = _act(controller, params, carry, obs[None])
            action = np.asarray(u[0]) / limit
            saturated += int(np.sum(np.abs(action) > 1))
            obs, reward, terminated, truncated, info = env.step(action.astype(np.float32))
            xs.append(info["state"])
            us.append(info["command"])
            ret += reward
            done = terminated or truncated
        if info["diverged"]:
            raise RuntimeError(
                f"episode {episode} diverged at step {info['step']}: the controller drove the arm out of "
                "the plant's range (info['diverged']), so the task's metrics are undefined"
            )
        states.append(np.stack(xs))
        commands.append(np.stack(us))
        targets.append(np.asarray(base.episode.target[0]))
        returns.append(ret)
    metrics = task.metrics(np.stack(states), np.stack(commands), np.stack(targets))
    per_episode = {name: np.asarray(value).tolist() for name, value in metrics.items()}
    result = {f"mean_{name}": float(np.mean(value)) for name, value in per_episode.items()}
    n_actions = sum(len(u) for u in commands) * versions.ACTION_DIM
    result.update(
        mean_return=float(np.mean(returns)),
        saturated_fraction=saturated / n_actions,
        n_episodes=int(n_episodes),
        env_id=None if env.spec is None else env.spec.id,
        per_episode=per_episode,
    )
    return result


def replay_episodes(env: gym.Env, n_episodes: int, seed: int) -> TaskBatch:
    """The episodes :func:`run_policy` draws from a fresh env with the same seed, as one batch."""
    episodes = []
    for episode in range(n_episodes):
        env.reset(seed=seed if episode == 0 else None)
        episodes.append(env.unwrapped.episode)
    return jax.tree_util.tree_map(lambda *a: np.concatenate(a), *episodes)
