"""The env step shared by the single and the vector Gymnasium envs, and the spaces around it.

Nothing here re-derives physics: an env step is the world step :func:`armctl.world.env_step`
(plant, noise, disturbance, delay line, the task's costs, the time) plus what an env adds: the
action's scale and clip, the observation, the reward, the hand's error and the divergence check.
Like the world step it is written once on vector components (:mod:`armctl.plant`) and runs on
Python floats for one arm (:class:`~armctl.envs.arm_env.ArmEnv`, which imports no JAX and
traces the step once into straight-line Python, :func:`compile_scalar_step`) and on JAX arrays
under ``jit`` for ``n`` arms (:class:`~armctl.envs.vector.ArmVectorEnv`).

Observation of one arm (float32)::

    0-1  delayed joint angles q1, q2 (rad)           x[t - delay][:2]
    2-3  delayed joint velocities dq1, dq2 (rad/s)   x[t - delay][2:]
    4-5  target joint angles q1*, q2* (rad)          (targets are rest states)
    6-   the version's extras (none in v0; v1: the hand's offset to the target and the time left)

With zero target velocities appended, columns 0-5 are exactly the ``(observation, target)``
input of ``controllers.ArmController.step`` (see :func:`controller_inputs`).

An :class:`~armctl.envs.versions.EnvVersion` is all that distinguishes one version of the env ids
from another (:mod:`armctl.envs.versions`); the checks of actions and reset options are in
:mod:`armctl.envs.checks`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from armctl.envs.versions import EnvVersion, StepOutcome

from armctl import plant
from armctl.plant import namespace_of
from armctl.scalar_trace import compile_scalar
from armctl.tasks import JOINT_WORKSPACE, Task, TaskBatch, make_task
from armctl.world import WorldState, diverged, env_reset, env_step


# ----- the env step, written once -------------------------------------------------------------
def observe(
    version: EnvVersion, task: Task, batch: TaskBatch, state: WorldState, delayed, target_hand: tuple, xp=None
):
    """The observation: delayed state, target angles, the version's extras."""
    xp = xp or namespace_of(delayed)
    columns = xp.components(delayed) + xp.components(batch.target)[:2]
    return xp.vector(*columns, *version.observation_extras(task, state, delayed, target_hand, xp))


def hand_position(task: Task, x, xp):
    """Hand position (m, shoulder frame) of states or rest targets, as ``(x, y)`` components."""
    q1, q2 = xp.components(x)[:2]
    return plant.position_components(task.arm, q1, q2, xp)[2:]


def hand_and_error(task: Task, x, target_hand, xp) -> tuple:
    """``(hand, hand_error_mm)`` for true states and the targets' hand positions (components)."""
    hx, hy = hand_position(task, x, xp)
    return xp.vector(hx, hy), 1000.0 * xp.sqrt((hx - target_hand[0]) ** 2 + (hy - target_hand[1]) ** 2)


def start(
    version: EnvVersion, task: Task, batch: TaskBatch, line_length: int | None = None
) -> tuple[WorldState, Any, StepOutcome]:
    """Step 0 of the episodes in ``batch``: ``(state, obs, outcome)``, the outcome describing
    the start (no action yet: zero action, command and costs). ``line_length``: see
    :func:`armctl.world.env_reset`."""
    state, delayed = env_reset(task, batch, line_length)
    xp = namespace_of(batch.x0)
    target_hand = hand_position(task, batch.target, xp)
    hand, error = hand_and_error(task, batch.x0, target_hand, xp)
    zero = xp.zeros_like(error)
    zeros2 = xp.vector(zero, zero)
    outcome = StepOutcome(
        zeros2, zeros2, batch.x0, state.t, zero, zero, hand, xp.vector(*target_hand), error, zero > 0
    )
    return state, observe(version, task, batch, state, delayed, target_hand, xp), outcome


def step(
    version: EnvVersion,
    task: Task,
    torque_limit,
    batch: TaskBatch,
    state: WorldState,
    action,
    target_hand=None,
):
    """One env step under normalized actions (..., 2), clipped to [-1, 1] and scaled by
    ``torque_limit``: ``(state, obs, reward, outcome)``.

    ``target_hand``: the episodes' ``outcome.target_hand`` from :func:`start`, which an env that
    steps one arm in Python keeps instead of recomputing it every step; ``None`` computes it.
    """
    xp = namespace_of(state.x, action, batch.command_noise)
    a1, a2 = xp.components(action)
    a1, a2 = xp.clip(a1, -1.0, 1.0), xp.clip(a2, -1.0, 1.0)
    u = xp.vector(a1 * torque_limit, a2 * torque_limit)
    state, delayed, parts = env_step(task, batch, state, u, xp)
    target_hand = hand_position(task, batch.target, xp) if target_hand is None else xp.components(target_hand)
    hand, error = hand_and_error(task, state.x, target_hand, xp)
    outcome = StepOutcome(
        xp.vector(a1, a2),
        u,
        state.x,
        state.t,
        parts.command_cost,
        parts.state_cost,
        hand,
        xp.vector(*target_hand),
        error,
        diverged(task.arm, state.x, xp),
    )
    obs = observe(version, task, batch, state, delayed, target_hand, xp)
    return state, obs, version.reward(task, outcome, xp), outcome


def episode_end(version: EnvVersion, task: Task, t, max_steps: int, has_diverged) -> tuple:
    """``(terminated, truncated)`` after step ``t``: a diverged state terminates; the horizon
    terminates or truncates as the version says; ``max_steps`` (at most the horizon) truncates.
    Python bools for Python inputs, arrays for arrays."""
    xp = namespace_of(t, has_diverged)
    terminated = has_diverged | ((t >= task.horizon) & version.horizon_terminates)
    truncated = (t >= max_steps) & xp.logical_not(terminated)
    return terminated, truncated


def compile_scalar_step(version: EnvVersion, task: Task, torque_limit: float, batch, state, target_hand):
    """One arm's :func:`step` and :func:`episode_end` (at the horizon) on Python floats, traced once
    into one straight-line Python function (:func:`armctl.scalar_trace.compile_scalar`)::

        state, obs, reward, outcome, terminated, truncated = stepper(batch, state, action, target_hand)

    ``batch``, ``state`` and ``target_hand`` are one arm's episode as :func:`start` takes and gives
    them; only their shapes matter. The compiled function does the same float operations as the
    untraced one, so it returns identical numbers, without the calls in between (for one arm they
    cost more than the arithmetic). A version whose functions decide Python control flow by the
    numbers cannot be traced: it is stepped untraced, with a warning.
    """

    def step_and_end(batch, state, action, target_hand):
        state, obs, reward, outcome = step(version, task, torque_limit, batch, state, action, target_hand)
        terminated, truncated = episode_end(version, task, outcome.t, task.horizon, outcome.diverged)
        return state, obs, reward, outcome, terminated, truncated

    try:
        return compile_scalar(step_and_end, batch, state, (0.0, 0.0), target_hand, name="env_step")
    except TypeError as err:
        warnings.warn(
            f"env version {version.name!r} cannot be traced ({err}); its single env steps untraced (slower)",
            stacklevel=2,
        )
        return step_and_end


# ----- spaces and arguments shared by both envs ----------------------------------------
def observation_bounds(version: EnvVersion, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of one observation: the arm's state is unbounded, the target angles are not."""
    if task.fixed_cases:
        target = np.asarray(task.cases(np)["target"][:, :2], dtype=np.float32)
        lo, hi = target.min(axis=0), target.max(axis=0)
    else:
        lo, hi = (np.array(bound, np.float32) for bound in zip(*JOINT_WORKSPACE, strict=True))
    inf = np.full(plant.STATE_DIM, np.inf, np.float32)
    extras = np.array(version.extras_bounds, np.float32).reshape(-1, 2)
    return np.concatenate([-inf, lo, extras[:, 0]]), np.concatenate([inf, hi, extras[:, 1]])


#: The largest finite float32: observations are float32, the state they come from is not bounded.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def finite_observation(obs):
    """``obs`` with every entry within float32's finite range (NaN as 0). Only a state that left the
    plant's range, on the step that ends its episode as diverged, has entries beyond it (an arm
    pushed by an absurd disturbance): a step never returns a non-finite number."""
    xp = namespace_of(obs)
    return xp.clip(xp.nan_to_num(xp.asarray(obs), nan=0.0), -FLOAT32_MAX, FLOAT32_MAX)


def controller_inputs(obs):
    """``(delayed state (.., 4), target state (.., 4))`` from observations (.., obs_dim)."""
    xp = namespace_of(obs)
    target = obs[..., 4:6]
    return obs[..., :4], xp.concatenate([target, xp.zeros_like(target)], axis=-1)


def resolve_task(task: str | Task, task_options: dict | None = None) -> Task:
    """A :class:`~armctl.tasks.Task` from a task or a task name plus field overrides."""
    if isinstance(task, Task):
        if task_options:
            raise ValueError(f"task_options {sorted(task_options)} only apply to a task given by name")
        return task
    if isinstance(task, str):
        return make_task(task, **(task_options or {}))
    raise TypeError(f"task must be a task name or an armctl Task, got {type(task).__name__}")


def resolve_torque_limit(version: EnvVersion, task: Task, torque_limit: float | None) -> float:
    if torque_limit is None:
        return version.torque_limit(task)
    if not (
        isinstance(torque_limit, (int, float, np.floating, np.integer))
        and not isinstance(torque_limit, bool)
        and math.isfinite(torque_limit)
        and torque_limit > 0
    ):
        raise ValueError(f"torque_limit must be a positive finite torque in N m, got {torque_limit!r}")
    return float(torque_limit)
