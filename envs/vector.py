"""Native vector env: ``num_envs`` arms stepped by one jitted call, data kept on the device."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from armctl.envs import core
from armctl.envs.arm_env import check_action, resolve_task, resolve_torque_limit
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from armctl.tasks import Task


class ArmVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` independent arms on one task (same spaces, reward and episodes as
    :class:`armctl.envs.arm_env.ArmEnv`; see its docstring).

    One ``step`` is one jitted call on the device for all arms; the host receives a single
    (num_envs, 17) array and slices observations, rewards and info from it.

    Autoreset mode ``NEXT_STEP`` (``metadata["autoreset_mode"]``): all arms start together
    and are truncated together after ``max_episode_steps`` (default and maximum: the task's
    horizon T); the *next* ``step`` ignores the actions and returns the first observations
    of fresh episodes (reward 0, not truncated). Never terminated. Episodes are drawn on the
    device from seeds drawn from the env's ``np_random``, so the same ``reset(seed=...)``
    gives the same episodes.

    ``info`` holds per-arm arrays ``command_cost``, ``state_cost``, ``state`` (true state,
    (num_envs, 4)) and ``command`` (N m, (num_envs, 2)).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int,
        task: str | Task = "ddn",
        task_options: dict | None = None,
        torque_limit: float | None = None,
        max_episode_steps: int | None = None,
    ):
        if not isinstance(num_envs, (int, np.integer)) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        self.task = resolve_task(task, task_options)
        self.torque_limit = resolve_torque_limit(self.task, torque_limit)
        horizon = self.task.horizon
        if max_episode_steps is None:
            max_episode_steps = horizon
        if not (isinstance(max_episode_steps, (int, np.integer)) and 1 <= max_episode_steps <= horizon):
            raise ValueError(
                f"max_episode_steps must be an integer in [1, {horizon}] (the task's horizon), "
                f"got {max_episode_steps!r}"
            )
        self.num_envs = int(num_envs)
        self.max_episode_steps = int(max_episode_steps)
        low, high = core.observation_bounds(self.task)
        self.single_observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (core.ACTION_DIM,), np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = None
        self._batch = None
        self._arm: core.ArmState | None = None
        self._t = 0
        self._needs_reset = False

    @property
    def episodes(self):
        """The current episodes as a :class:`TaskBatch` of size ``num_envs``."""
        if self._batch is None:
            raise RuntimeError("no episodes yet: call reset() first")
        return self._batch

    def _start_episodes(self) -> tuple[np.ndarray, dict]:
        seed = np.uint32(self.np_random.integers(0, 2**32))
        self._batch = core.sample_episodes(self.task, seed, self.num_envs)
        self._arm, obs = core.start(self.task, self._batch)
        self._t = 0
        self._needs_reset = False
        return np.asarray(obs), {"state": np.asarray(self._batch.x0, np.float32)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if options:
            raise ValueError(f"ArmVectorEnv.reset takes no options, got {sorted(options)}")
        if seed is not None:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seed)
        return self._start_episodes()

    def step(self, actions):
        if self._batch is None:
            raise RuntimeError("call reset() before step()")
        a = check_action(actions, self.action_space.shape)
        n = self.num_envs
        if self._needs_reset:
            obs, info = self._start_episodes()
            zeros = np.zeros(n, np.float32)
            info.update(command_cost=zeros, state_cost=zeros, command=np.zeros((n, 2), np.float32))
            return obs, zeros, np.zeros(n, bool), np.zeros(n, bool), info
        self._arm, packed = core.step(
            self.task, self.torque_limit, self._batch, self._arm, a, np.int32(self._t)
        )
        out = np.asarray(packed)
        self._t += 1
        self._needs_reset = self._t >= self.max_episode_steps
        info = {
            "command_cost": out[:, core.COMMAND_COST],
            "state_cost": out[:, core.STATE_COST],
            "state": out[:, core.STATE],
            "command": out[:, core.COMMAND],
        }
        return out[:, core.OBS], out[:, core.REWARD], np.zeros(n, bool), np.full(n, self._needs_reset), info
