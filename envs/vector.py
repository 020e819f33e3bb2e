"""Native vector env: ``num_envs`` arms stepped by one jitted call, data kept on the device."""

from __future__ import annotations

from functools import partial
from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from armctl.envs import checks, core, versions
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from armctl.tasks import KeyDraws, Task, TaskBatch

#: Per-arm columns of the packed array a jitted step returns after the observation, with widths.
#: Every extra output of a jitted call costs a buffer copy, so a step returns one float32 array.
PACKED_COLUMNS = (
    ("reward", 1),
    ("command_cost", 1),
    ("state_cost", 1),
    ("state", 4),
    ("command", 2),
    ("hand", 2),
    ("target_hand", 2),
    ("hand_error_mm", 1),
    ("diverged", 1),
    ("t", 1),
)
INFO_KEYS = (
    "command_cost",
    "state_cost",
    "state",
    "command",
    "hand",
    "target_hand",
    "hand_error_mm",
    "diverged",
)


def packed_layout(obs_dim: int) -> dict[str, slice | int]:
    """Column of each packed field: a slice for vectors, an index for numbers; ``obs`` first."""
    layout, start = {"obs": slice(0, obs_dim)}, obs_dim
    for name, width in PACKED_COLUMNS:
        layout[name] = start if width == 1 else slice(start, start + width)
        start += width
    return layout


def _pack(obs, reward, outcome: versions.StepOutcome) -> jnp.ndarray:
    columns = [
        core.finite_observation(obs),
        reward,
        outcome.command_cost,
        outcome.state_cost,
        outcome.state,
        outcome.command,
    ]
    columns += [outcome.hand, outcome.target_hand, outcome.hand_error_mm, outcome.diverged, outcome.t]
    as_2d = lambda c: c.reshape(c.shape[0], -1).astype(jnp.float32)
    return jnp.concatenate([as_2d(c) for c in columns], axis=-1)


@partial(jax.jit, static_argnums=(0, 1))
def _draw(task: Task, n: int, seed) -> TaskBatch:
    return task.draw_episodes(KeyDraws(jax.random.key(seed)), n)


@partial(jax.jit, static_argnums=(0, 1))
def _start(version: versions.EnvVersion, task: Task, batch: TaskBatch):
    state, obs, outcome = core.start(version, task, batch)
    return state, _pack(obs, jnp.zeros_like(outcome.command_cost), outcome)


def _step_packed(version: versions.EnvVersion, task: Task, torque_limit, batch: TaskBatch, state, action):
    state, obs, reward, outcome = core.step(version, task, torque_limit, batch, state, action)
    return state, _pack(obs, reward, outcome)


# The env owns its world state: donating it lets the step write the new state in place of the
# old instead of allocating its buffers (a third of the step's time at 1024 arms).
_step = jax.jit(_step_packed, static_argnums=(0, 1), donate_argnums=(4,))


def _where(mask, new, old):
    """Per arm (the first axis of every leaf): ``new`` where ``mask``, else ``old``."""
    return jax.tree_util.tree_map(
        lambda a, b: jnp.where(mask.reshape(mask.shape + (1,) * (a.ndim - 1)), a, b), new, old
    )


@partial(jax.jit, static_argnums=(0, 1))
def _restart(version: versions.EnvVersion, task: Task, batch: TaskBatch, fresh: TaskBatch, restart, state):
    """Arms where ``restart`` get the fresh episodes and their start state: ``(batch, state, packed)``,
    the packed rows describing the starts."""
    batch = _where(restart, fresh, batch)
    started, packed = _start(version, task, batch)
    return batch, _where(restart, started, state), packed


@partial(jax.jit, static_argnums=(0, 1))
def _step_restarting(version, task, torque_limit, batch, fresh, restart, state, action):
    """Arms where ``restart`` start fresh episodes (reporting their start); the others step."""
    batch, restarted, start_packed = _restart(version, task, batch, fresh, restart, state)
    stepped, step_packed = _step_packed(version, task, torque_limit, batch, state, action)
    return batch, _where(restart, restarted, stepped), _where(restart, start_packed, step_packed)


class ArmVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` independent arms on one task (same spaces, reward, info and episode ends as
    :class:`armctl.envs.arm_env.ArmEnv`; see its docstring).

    One ``step`` is one jitted call of :func:`armctl.envs.core.step` on the device for all arms
    (float32); the host receives a single (num_envs, columns) array (:func:`packed_layout`)
    and slices observations, rewards and info from it.

    Autoreset mode ``NEXT_STEP`` (``metadata["autoreset_mode"]``): all arms start together
    and are truncated together after ``max_episode_steps`` (default and maximum: the task's
    horizon T); an arm whose state diverges (:func:`armctl.world.diverged`) is terminated
    alone, with ``info["diverged"]`` set for it. The *next* ``step`` ignores the actions of
    the arms whose episode ended and returns the first observations of fresh episodes for
    them (reward 0, neither terminated nor truncated), while the other arms step on.
    ``reset(options={"reset_mask": mask})`` restarts the masked arms only (Gymnasium's partial
    reset). Episodes are drawn on the device (``task.draw_episodes`` with JAX keys) from seeds
    drawn from the env's ``np_random``, so the same ``reset(seed=...)`` gives the same episodes.

    ``info`` holds per-arm arrays ``command_cost``, ``state_cost``, ``state`` (true state,
    (num_envs, 4)), ``command`` (N m, (num_envs, 2)), ``step``, ``hand`` and ``target_hand``
    (m, (num_envs, 2)), ``hand_error_mm`` and ``diverged``.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int,
        task: str | Task = "ddn",
        task_options: dict | None = None,
        torque_limit: float | None = None,
        max_episode_steps: int | None = None,
        version: str = "v0",
    ):
        if not isinstance(num_envs, (int, np.integer)) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        self.version = versions.env_version(version)
        self.task = core.resolve_task(task, task_options)
        self.torque_limit = core.resolve_torque_limit(self.version, self.task, torque_limit)
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
        low, high = core.observation_bounds(self.version, self.task)
        self.single_observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (versions.ACTION_DIM,), np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = None
        self._layout = packed_layout(self.version.obs_dim)
        self._torque_limit = np.float32(self.torque_limit)
        self._batch: TaskBatch | None = None
        self._state = None
        self._needs_reset = np.zeros(self.num_envs, bool)
        self._obs: np.ndarray | None = None  # the latest observations, for a partial reset

    @property
    def episodes(self) -> TaskBatch:
        """The current episodes as a :class:`TaskBatch` of size ``num_envs``."""
        if self._batch is None:
            raise RuntimeError("no episodes yet: call reset() first")
        return self._batch

    def _fresh_episodes(self) -> TaskBatch:
        return _draw(self.task, self.num_envs, np.uint32(self.np_random.integers(0, 2**32)))

    def _unpack(self, packed) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        out, layout = np.asarray(packed), self._layout
        info = {key: out[:, layout[key]] for key in INFO_KEYS}
        info["diverged"] = info["diverged"] > 0.5
        t = out[:, layout["t"]].astype(np.int64)
        info["step"] = t
        return out[:, layout["obs"]], out[:, layout["reward"]], t, info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Fresh episodes for all arms, or with ``options={"reset_mask": mask}`` (Gymnasium's
        partial reset: a bool array of shape (num_envs,)) for the masked arms only; the other
        arms keep their episodes, and the returned observations are their latest. ``info``
        then describes the masked arms' starts (``info["_key"]`` is the mask, as Gymnasium's
        vector envs do)."""
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if options:
            raise ValueError(f"ArmVectorEnv.reset takes no options but 'reset_mask', got {sorted(options)}")
        if mask is not None and self._batch is None:
            raise RuntimeError("reset_mask restarts some arms of running episodes: call reset() first")
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_ or not mask.any():
                raise ValueError(
                    f"options['reset_mask'] must be a bool array of shape ({self.num_envs},) with a True "
                    f"value, got {mask!r}"
                )
        # Checked before anything changes: a refused reset leaves the env as it was.
        if seed is not None:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seed)
        if mask is None:
            self._batch = self._fresh_episodes()
            self._state, packed = _start(self.version, self.task, self._batch)
            self._needs_reset[:] = False
            self._obs, _, _, info = self._unpack(packed)
            return self._obs, info
        self._batch, self._state, packed = _restart(
            self.version, self.task, self._batch, self._fresh_episodes(), mask, self._state
        )
        self._needs_reset[mask] = False
        obs, _, _, info = self._unpack(packed)
        self._obs = np.where(mask[:, None], obs, self._obs)
        info.update({f"_{key}": mask for key in list(info)})
        return self._obs, info

    def step(self, actions):
        if self._batch is None:
            raise RuntimeError("call reset() before step()")
        a = checks.check_action(actions, self.action_space.shape)
        if not self._needs_reset.any():
            self._state, packed = _step(
                self.version, self.task, self._torque_limit, self._batch, self._state, a
            )
        elif self._needs_reset.all():
            self._batch = self._fresh_episodes()
            self._state, packed = _start(self.version, self.task, self._batch)
        else:
            self._batch, self._state, packed = _step_restarting(
                self.version,
                self.task,
                self._torque_limit,
                self._batch,
                self._fresh_episodes(),
                self._needs_reset,
                self._state,
                a,
            )
        self._obs, reward, t, info = self._unpack(packed)
        terminated, truncated = core.episode_end(
            self.version, self.task, t, self.max_episode_steps, info["diverged"]
        )
        self._needs_reset = terminated | truncated
        return self._obs, reward, terminated, truncated, info
