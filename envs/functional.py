"""The armctl envs as pure JAX functions, gymnax's contract: ``jit``, ``vmap`` and ``scan`` them.

::

    env, params = armctl.envs.functional.make("armctl/DDN-v1")
    obs, state = env.reset(key, params)
    obs, state, reward, done, info = env.step(key, state, action, params)   # resets when done

``params`` (:class:`EnvParams`) is a pytree of the plant and task settings: the arm
(:class:`~armctl.plant.ArmParams`), the feedback delay in steps, the noise levels, the task's
disturbance (DDN's ``disturbance_std``, postural's ``force``) and the torque limit. Every leaf can
be batched, so ``jax.vmap`` over params trains or evaluates on many plants in one call (delays 0 to
``max_delay``; ``make(..., max_delay=K)`` sizes the delay line). The arm of a fixed-case task
(center-out, postural) moves the dynamics but not its targets, which are computed once from the
arm the env was made with.

The step is the Gymnasium envs' step (:func:`armctl.envs.core.step`, the world step of
:mod:`armctl.world` that the rollout scans): one physics, float32 as in the vector env. ``done``
is the episode's end (terminated or truncated); on that step ``info`` describes the ended
episode's last step and ``obs``/``state`` are the next episode's start (drawn from ``key``).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from armctl.envs import core, versions

from armctl.plant import ArmParams
from armctl.tasks import KeyDraws, Task, TaskBatch
from armctl.world import WorldState

#: The task fields a params pytree carries, where a task has them (floats: vmappable).
TASK_SETTINGS = ("command_noise_std", "plant_noise_std", "disturbance_std", "force")


class EnvParams(NamedTuple):
    """The settings of one env: a pytree whose leaves ``jax.vmap`` can batch.

    Attributes:
        arm: the plant (:class:`~armctl.plant.ArmParams`).
        delay: feedback delay in steps, an int32 in ``[0, max_delay]``.
        torque_limit: N m per unit action.
        task: the task's noise and disturbance settings present in :data:`TASK_SETTINGS`.
    """

    arm: ArmParams
    delay: Any
    torque_limit: Any
    task: dict


class EnvState(NamedTuple):
    """The state between two steps: the world, the episode's randomness (one episode of a
    :class:`~armctl.tasks.TaskBatch`), the target's hand position, the episode's own delay."""

    world: WorldState
    episode: TaskBatch
    target_hand: Any


@dataclasses.dataclass(frozen=True)
class FunctionalEnv:
    """One env id as pure functions (hashable: a static argument of ``jit``)."""

    version: versions.EnvVersion
    task: Task
    max_delay: int

    @property
    def obs_dim(self) -> int:
        return self.version.obs_dim

    @property
    def action_dim(self) -> int:
        return versions.ACTION_DIM

    def _task(self, params: EnvParams) -> Task:
        """The env's task with the params' values (traced ones included): a copy whose fields are
        replaced without rebuilding it, so nothing of its construction (checks, fixed targets)
        sees a traced value."""
        task = copy.copy(self.task)
        for name, value in {"arm": params.arm, "delay": params.delay, **params.task}.items():
            object.__setattr__(task, name, value)
        return task

    def default_params(self) -> EnvParams:
        """The id's settings: its task's arm, delay and noise, its version's torque limit."""
        settings = {
            name: jnp.float32(getattr(self.task, name)) for name in TASK_SETTINGS if hasattr(self.task, name)
        }
        arm = jax.tree_util.tree_map(jnp.float32, self.task.arm)
        limit = core.resolve_torque_limit(self.version, self.task, None)
        return EnvParams(arm, jnp.int32(self.task.delay), jnp.float32(limit), settings)

    def reset(self, key: jax.Array, params: EnvParams) -> tuple[jnp.ndarray, EnvState]:
        """A fresh episode drawn from ``key``: ``(obs, state)``."""
        task = self._task(params)
        batch = task.draw_episodes(KeyDraws(key), 1)
        episode = jax.tree_util.tree_map(
            lambda a: a[0].astype(jnp.int32 if a.dtype.kind in "iu" else jnp.float32), batch
        )
        return self.reset_to(episode, params)

    def reset_to(self, episode: TaskBatch, params: EnvParams) -> tuple[jnp.ndarray, EnvState]:
        """Start the given episode (one episode of a :class:`~armctl.tasks.TaskBatch`, e.g. a
        Gymnasium env's ``episode`` without its leading axis): ``(obs, state)``."""
        task = self._task(params)
        world, obs, outcome = core.start(self.version, task, episode, self.max_delay + 1)
        return core.finite_observation(obs), EnvState(world, episode, outcome.target_hand)

    def step(
        self, key: jax.Array, state: EnvState, action: jnp.ndarray, params: EnvParams
    ) -> tuple[jnp.ndarray, EnvState, jnp.ndarray, jnp.ndarray, dict]:
        """One step under the normalized ``action`` (2,): ``(obs, state, reward, done, info)``,
        resetting to an episode drawn from ``key`` when the episode ends."""
        task = self._task(params)
        world, obs, reward, outcome = core.step(
            self.version, task, params.torque_limit, state.episode, state.world, action, state.target_hand
        )
        terminated, truncated = core.episode_end(
            self.version, task, outcome.t, task.horizon, outcome.diverged
        )
        done = terminated | truncated
        info = {
            "terminated": terminated,
            "truncated": truncated,
            "diverged": outcome.diverged,
            "hand_error_mm": outcome.hand_error_mm,
            "command_cost": outcome.command_cost,
            "state_cost": outcome.state_cost,
            "step": outcome.t,
        }
        stepped = (core.finite_observation(obs), EnvState(world, state.episode, state.target_hand))
        fresh = self.reset(key, params)
        obs, state = jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), fresh, stepped)
        return obs, state, reward, done, info


def make(env_id: str, *, max_delay: int | None = None, **env_kwargs) -> tuple[FunctionalEnv, EnvParams]:
    """``(env, params)`` for an armctl env id (``armctl/DDN-v1`` ...; ``env_kwargs``: the task
    options and ``torque_limit`` a Gymnasium env takes). ``max_delay`` sizes the delay line, so
    params may carry delays up to it (default: the task's delay)."""
    from armctl.registry import task_names, task_record

    namespace, _, rest = env_id.partition("/")
    name, _, version = rest.rpartition("-")
    records = {task_record(t).env_id_name: task_record(t) for t in task_names()}
    if namespace != "armctl" or name not in records or version not in versions.VERSIONS:
        ids = sorted(f"armctl/{n}-{v}" for n in records for v in versions.VERSIONS)
        raise ValueError(f"unknown env id {env_id!r}; expected one of {ids}")
    torque_limit = env_kwargs.pop("torque_limit", None)
    task = core.resolve_task(records[name].name, env_kwargs)
    env_version = versions.VERSIONS[version]
    max_delay = task.delay if max_delay is None else max_delay
    if not (isinstance(max_delay, int) and task.delay <= max_delay < task.horizon):
        raise ValueError(
            f"max_delay must be an integer in [{task.delay}, {task.horizon - 1}], got {max_delay!r}"
        )
    env = FunctionalEnv(env_version, task, max_delay)
    params = env.default_params()
    if torque_limit is not None:
        params = params._replace(
            torque_limit=jnp.float32(core.resolve_torque_limit(env_version, task, torque_limit))
        )
    return env, params
