"""One world step: the plant under the task's noise and disturbance, the delay line, the costs, the time.

``x[t+1] = f(x[t], u[t] * (1 + xi_u[t]) + d[t]) + xi_f[t]``, observed ``delay`` steps late.
gymnax-style: the whole world is an explicit state pytree, :class:`WorldState` (true state, delay
line, time), and a step is a pure function of it::

    state, obs = env_reset(task, batch)
    state, obs, parts = env_step(task, batch, state, u)

Everything that advances the arm composes :func:`env_step`: :func:`armctl.rollout.simulate`
scans it, the Gymnasium envs (:mod:`armctl.envs.core`) step it, iLQR's dynamics
(:func:`armctl.baselines.ilqr.task_dynamics`) is its true-state part and online iLQR runs it.

Like :mod:`armctl.plant` (see there), the step is written once on vector components and runs
on JAX arrays (any leading batch shape; under ``jit``, ``scan``, ``grad``, ``vmap``), on NumPy
arrays, and on Python floats for one arm: the single Gymnasium env's path, which imports no JAX.
For floats a vector is a tuple, the batch one episode in the form :func:`scalar_episode` gives,
and ``t`` an int. This module imports no JAX.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from armctl import plant
from armctl.plant import namespace_of
from armctl.tasks import Task, TaskBatch


class WorldState(NamedTuple):
    """The world of a batch of episodes between two steps.

    ``x`` (..., 4) the true states; ``line`` the delay line, a tuple of the last ``delay + 1``
    true states, oldest first (before the episode the arm rested at its start state, so it
    starts filled with ``x0``); ``t`` (...) int, steps taken in each episode.
    """

    x: Any
    line: tuple
    t: Any


class StepParts(NamedTuple):
    """What a step produced besides the new state and observation.

    ``torque`` (..., 2) the torque the arm received, ``u (1 + xi_u) + d``; ``command_cost``
    ``task.command_cost(u)``; ``state_cost`` ``task.state_cost(x_{t+1}, x*, t+1)``.
    """

    torque: Any
    command_cost: Any
    state_cost: Any


def transition(task: Task, batch: TaskBatch, x, u, t, xp=None):
    """One plant step of the task at step ``t``: returns ``(x_next, applied_torque)``.

    ``batch`` fields may carry any leading batch shape matching ``x``; the per-step noise is
    ``batch.command_noise[..., t, :]`` and ``batch.plant_noise[..., t, :]``; ``t`` is one step
    for all episodes or one per episode. ``xp`` (:func:`armctl.plant.namespace_of`) is found
    from the arguments when not given.
    """
    xp = xp or namespace_of(x, u, batch.command_noise)
    xi_u1, xi_u2 = xp.components(xp.at_step(batch.command_noise, t))
    xi_f1, xi_f2, xi_f3, xi_f4 = xp.components(xp.at_step(batch.plant_noise, t))
    d1, d2 = xp.components(task.disturbance(batch, x, t, xp))
    u1, u2 = xp.components(u)
    tau = (u1 * (1.0 + xi_u1) + d1, u2 * (1.0 + xi_u2) + d2)
    q1, q2, dq1, dq2 = plant.step_components(task.arm, xp.components(x), tau, xp)
    return xp.vector(q1 + xi_f1, q2 + xi_f2, dq1 + xi_f3, dq2 + xi_f4), xp.vector(*tau)


def env_reset(task: Task, batch: TaskBatch, line_length: int | None = None) -> tuple[WorldState, Any]:
    """Step 0 of the episodes: ``(state, obs)``, the observation being the start state.

    The delay line holds ``line_length`` states (default ``task.delay + 1``, what the delay
    needs); a longer line lets ``task.delay`` be a traced value up to ``line_length - 1`` (the
    functional env, :mod:`armctl.envs.functional`, vmaps over delays)."""
    length = task.delay + 1 if line_length is None else line_length
    state = WorldState(batch.x0, (batch.x0,) * length, namespace_of(batch.x0).zeros_like(batch.onset))
    return state, batch.x0


def delayed(line: tuple, delay, xp):
    """The state ``delay`` steps old: ``line[-1 - delay]`` (``delay`` an int, or traced)."""
    if isinstance(delay, int):
        return line[-1 - delay]
    return xp.take(xp.stack(line), len(line) - 1 - delay, axis=0)


def env_step(
    task: Task, batch: TaskBatch, state: WorldState, u, xp=None
) -> tuple[WorldState, Any, StepParts]:
    """Apply commands ``u`` (..., 2) (N m) for one step: ``(state, obs, parts)``.

    ``obs`` is what a controller sees next: the true state ``delay`` steps old (the start
    state while the episode is younger than the delay). ``xp`` as in :func:`transition`.
    """
    xp = xp or namespace_of(state.x, u, batch.command_noise)
    x, torque = transition(task, batch, state.x, u, state.t, xp)
    t = state.t + 1
    line = state.line[1:] + (x,)
    parts = StepParts(torque, task.command_cost(u, xp), task.state_cost(x, batch.target, t, xp))
    return WorldState(x, line, t), delayed(line, task.delay, xp), parts


def diverged(arm: plant.ArmParams, x, xp=None):
    """Whether the state left the range the plant model holds in: a non-finite component or a
    joint faster than :attr:`~armctl.plant.ArmParams.max_joint_speed` (``1 / dt`` rad/s).

    A step from a state inside that range under finite torques stays finite, so an env that
    stops at the first diverged state never hands out non-finite numbers.
    """
    xp = xp or namespace_of(x)
    q1, q2, dq1, dq2 = xp.components(x)
    fast = arm.max_joint_speed
    in_range = (abs(q1) < math.inf) & (abs(q2) < math.inf) & (abs(dq1) <= fast) & (abs(dq2) <= fast)
    return xp.logical_not(in_range)


def scalar_episode(batch: TaskBatch) -> TaskBatch:
    """The one episode of a size-1 batch as Python numbers, the form :func:`env_step` takes for
    one arm: vectors as tuples of floats, per-step tables as lists of rows (lists of floats),
    ``onset`` an int."""
    if batch.size != 1:
        raise ValueError(f"scalar_episode needs a batch of one episode, got {batch.size}")
    first = lambda field: np.asarray(getattr(batch, field))[0].tolist()
    return TaskBatch(
        x0=tuple(first("x0")),
        target=tuple(first("target")),
        joint_disturbance=tuple(first("joint_disturbance")),
        hand_force=tuple(first("hand_force")),
        onset=int(np.asarray(batch.onset)[0]),
        command_noise=first("command_noise"),
        plant_noise=first("plant_noise"),
    )
