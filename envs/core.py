"""Jitted episode logic shared by the single and the vector Gymnasium envs.

Nothing here re-derives physics: a step is :func:`armctl.rollout.transition` (the plant step
with the task's noise and disturbance), the delay line of :mod:`armctl.rollout`, and the
task's own ``command_cost`` / ``state_cost``. ``n`` arms are stepped together; the single
env is the ``n = 1`` case of the same functions, so both envs step identically.

All arms of an env start their episodes together and every episode lasts the same number
of steps, so one step counter ``t`` (kept on the host) serves all of them. The episodes
(a :class:`TaskBatch`) stay on the device and are inputs only; a step returns just the
arms' new :class:`ArmState` and one packed float32 array, because every extra output of a
jitted call costs a buffer copy (a step that returned its whole input state took 45 us
instead of 10 us per call on this machine).

Observation of one arm (float32, 6 values)::

    0-1  delayed joint angles q1, q2 (rad)           x[t - delay][:2]
    2-3  delayed joint velocities dq1, dq2 (rad/s)   x[t - delay][2:]
    4-5  target joint angles q1*, q2* (rad)          (targets are rest states)

With zero target velocities appended, observation is exactly the ``(observation, target)``
input of ``controllers.ArmController.step`` (see :func:`controller_inputs`).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from armctl import plant, rollout
from armctl.tasks import CENTER_POSTURE, JOINT_WORKSPACE, CenterOut, Postural, Task, TaskBatch

OBS_DIM = 6
ACTION_DIM = plant.CONTROL_DIM
#: Peak joint acceleration (rad/s^2) the default torque limit gives the arm at rest in its
#: central posture; see :func:`default_torque_limit`.
DEFAULT_PEAK_ACCELERATION = 100.0

#: Column slices of the packed step output: observation, reward, command cost, state
#: cost, true state x_t (4), command u (N m, 2).
OBS, REWARD, COMMAND_COST, STATE_COST = slice(0, 6), 6, 7, 8
STATE, COMMAND = slice(9, 13), slice(13, 15)


class ArmState(NamedTuple):
    """Device state of ``n`` arms: ``x`` (n, 4) true states, ``line`` (delay+1, n, 4) delay line."""

    x: jnp.ndarray
    line: jnp.ndarray


def default_torque_limit(task: Task) -> float:
    """Torque (N m) that maps to action 1: ``100 rad/s^2 * ||M(q_c)||_2``, ``q_c`` the central
    posture :data:`armctl.tasks.CENTER_POSTURE` (so the limit depends on the arm only).

    Measured with a quick command-table optimization of 64 random reaches (Adam on the
    thesis cost, alpha = 1e-2 dt): the monkey arm's optimal commands peak at 0.39 N m for
    400 ms reaches and 0.20 N m for 600 ms reaches; the human arm's at 5.5 and 2.5 N m.
    DDN adds constant disturbances of std 0.2 N m. The rule gives 0.91 N m for the monkey
    arm and 17.6 N m for the human arm: room for the reach and disturbance compensation.
    """
    m = np.asarray(plant.mass_matrix(task.arm, jnp.asarray(CENTER_POSTURE)), dtype=np.float64)
    return float(DEFAULT_PEAK_ACCELERATION * np.linalg.norm(m, 2))


def has_fixed_cases(task: Task) -> bool:
    """Whether the task's batch is a fixed list of cases (center-out targets, postural pairs)."""
    return isinstance(task, (CenterOut, Postural))


def observation_bounds(task: Task) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of one observation: the arm's state is unbounded, the target angles are not."""
    if has_fixed_cases(task):
        target = np.asarray(task.sample(jax.random.key(0)).target[:, :2], dtype=np.float32)
        lo, hi = target.min(axis=0), target.max(axis=0)
    else:
        lo, hi = (np.array(bound, np.float32) for bound in zip(*JOINT_WORKSPACE, strict=True))
    inf = np.full(plant.STATE_DIM, np.inf, np.float32)
    return np.concatenate([-inf, lo]), np.concatenate([inf, hi])


def controller_inputs(obs: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(delayed state (.., 4), target state (.., 4))`` from observations (.., 6)."""
    return obs[..., :4], jnp.concatenate([obs[..., 4:], jnp.zeros_like(obs[..., 4:])], axis=-1)


def sample_episodes(task: Task, seed, n: int) -> TaskBatch:
    """``n`` episodes from ``key = jax.random.key(seed)``: ``task.sample(key, n)``, or for tasks
    with a fixed list of cases, ``n`` cases drawn uniformly (with their noise) from
    ``task.sample(key)``."""
    if not has_fixed_cases(task):
        return _sample(task, seed, n)
    k_cases, k_pick = jax.random.split(jax.random.key(seed))
    return _pick(_cases(task, k_cases), k_pick, n)


@partial(jax.jit, static_argnums=(0, 2))
def _sample(task: Task, seed, n: int) -> TaskBatch:
    return task.sample(jax.random.key(seed), n)


@partial(jax.jit, static_argnums=(0,))
def _cases(task: Task, key: jax.Array) -> TaskBatch:
    """All cases of a fixed-case task (with their noise draws)."""
    return task.sample(key)


@partial(jax.jit, static_argnums=(2,))
def _pick(cases: TaskBatch, key: jax.Array, n: int) -> TaskBatch:
    pick = jax.random.randint(key, (n,), 0, cases.size)
    return jax.tree_util.tree_map(lambda a: a[pick], cases)


def observe(batch: TaskBatch, arm: ArmState) -> jnp.ndarray:
    """Observations (n, 6) float32: delayed state and target angles."""
    return jnp.concatenate([rollout.delay_line_read(arm.line), batch.target[:, :2]], axis=-1).astype(
        jnp.float32
    )


@partial(jax.jit, static_argnums=(0,))
def start(task: Task, batch: TaskBatch) -> tuple[ArmState, jnp.ndarray]:
    """Step 0 of the episodes in ``batch`` (the arm rested at ``x0`` before): ``(arm, obs)``."""
    arm = ArmState(batch.x0, rollout.delay_line_init(batch.x0, task.delay))
    return arm, observe(batch, arm)


def advance(task: Task, torque_limit, batch: TaskBatch, arm: ArmState, action: jnp.ndarray, t):
    """Step ``t`` of every arm under normalized actions (n, 2), clipped to [-1, 1].

    Returns ``(arm, command, command_cost, state_cost)``: the command ``u_t`` (N m), its
    cost ``task.command_cost(u_t)`` and ``task.state_cost(x_{t+1}, x*, t+1)``.
    """
    u = jnp.clip(action, -1.0, 1.0).astype(arm.x.dtype) * torque_limit
    x_next, _ = rollout.transition(task, batch, arm.x, u, t)
    arm = ArmState(x_next, rollout.delay_line_push(arm.line, x_next))
    return arm, u, task.command_cost(u), task.state_cost(x_next, batch.target, t + 1)


@partial(jax.jit, static_argnums=(0,))
def step(task: Task, torque_limit, batch: TaskBatch, arm: ArmState, action: jnp.ndarray, t):
    """One env step of ``n`` arms: ``(arm, packed (n, 15))`` (columns: see the slices above)."""
    arm, u, cc, sc = advance(task, torque_limit, batch, arm, action, t)
    cols = [observe(batch, arm), -(cc + sc)[:, None], cc[:, None], sc[:, None], arm.x, u]
    return arm, jnp.concatenate([c.astype(jnp.float32) for c in cols], axis=-1)
