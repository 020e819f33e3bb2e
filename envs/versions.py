"""What makes an env version: its reward, its observation extras, how its horizon ends an episode
and its default torque limit (:class:`EnvVersion`; :data:`VERSIONS` lists them), and the outcome of
one step that the rewards read (:class:`StepOutcome`).

v0 is the thesis's task (minus the thesis's per-step cost as the reward); v1 is designed for
model-free RL (a dense reward of order one per step, the hand's offset to the target and the time
left in the observation, the horizon terminates). Both run the same step (:mod:`armctl.envs.core`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from armctl import plant
from armctl.registry import task_record
from armctl.tasks import CENTER_POSTURE, Task
from armctl.world import WorldState

#: Observation columns every version has: delayed state (4) and target angles (2).
BASE_OBS_DIM = 6
ACTION_DIM = plant.CONTROL_DIM
#: Peak joint acceleration (rad/s^2) the default torque limit gives the arm at rest in its
#: central posture; see :func:`default_torque_limit`.
DEFAULT_PEAK_ACCELERATION = 100.0


class StepOutcome(NamedTuple):
    """What an env step produced, for the reward and ``info`` (vectors in the step's namespace:
    tuples of floats for the single env, arrays (n, k) for the vector env).

    ``action`` the clipped normalized action; ``command`` u (N m); ``state`` the true state
    x_{t+1}; ``t`` steps taken; ``command_cost`` and ``state_cost`` the thesis's cost parts;
    ``hand`` and ``target_hand`` (m, shoulder frame); ``hand_error_mm`` their distance;
    ``diverged`` whether the state left the plant's range (:func:`armctl.world.diverged`).
    """

    action: Any
    command: Any
    state: Any
    t: Any
    command_cost: Any
    state_cost: Any
    hand: Any
    target_hand: Any
    hand_error_mm: Any
    diverged: Any


def default_torque_limit(task: Task) -> float:
    """Torque (N m) that maps to action 1: ``100 rad/s^2 * ||M(q_c)||_2``, ``q_c`` the central
    posture :data:`armctl.tasks.CENTER_POSTURE` (so the limit depends on the arm only).

    Measured with a quick command-table optimization of 64 random reaches (Adam on the
    thesis cost, alpha = 1e-2 dt): the monkey arm's optimal commands peak at 0.39 N m for
    400 ms reaches and 0.20 N m for 600 ms reaches; the human arm's at 5.5 and 2.5 N m.
    DDN adds constant disturbances of std 0.2 N m. The rule gives 0.91 N m for the monkey
    arm and 17.6 N m for the human arm: room for the reach and disturbance compensation.
    """
    return torque_for_acceleration(task, DEFAULT_PEAK_ACCELERATION)


def torque_for_acceleration(task: Task, acceleration: float) -> float:
    """``acceleration * ||M(q_c)||_2`` (N m): the torque that gives the arm at rest in the central
    posture :data:`armctl.tasks.CENTER_POSTURE` a peak joint acceleration of ``acceleration``."""
    m = plant.mass_matrix(task.arm, np.asarray(CENTER_POSTURE))
    return float(acceleration * np.linalg.norm(m, 2))


def thesis_reward(task: Task, outcome: StepOutcome, xp) -> Any:
    """Minus the thesis's per-step cost: ``-(command_cost(u_t) + state_cost(x_{t+1}, x*, t+1))``.

    On the step whose state diverges (which ends the episode) the state cost is that of a state at
    the edge of the plant's range instead, ``max_joint_speed^2`` (half the squared speed of both
    joints at the limit, the velocity part of the terminal cost): the thesis's cost is nearly all
    at the last step, and without it throwing the arm out of range would escape that cost."""
    edge = task.arm.max_joint_speed**2
    return -(outcome.command_cost + xp.where(outcome.diverged, edge, outcome.state_cost))


def no_extras(task: Task, state: WorldState, delayed, target_hand: tuple, xp) -> tuple:
    return ()


# ----- v1: designed for model-free RL ------------------------------------------------------------
#: v1's length scale L as a fraction of the arm's reach (the center-out radius scale: 5.7 cm
#: on the monkey arm): the hand offset is observed in units of L and the reward counts it so.
V1_LENGTH_FRACTION = 0.15
#: v1 reward weights: the squared normalized action every step, and the hand speed at the
#: horizon in units of ``V = L / (T dt)`` (the speed that covers L in one episode).
V1_ACTION_COST = 0.05
V1_SPEED_COST = 4.0


def v1_torque_limit(task: Task) -> float:
    """v1's default torque limit (N m per unit action): the torque that gives the arm at rest in the
    central posture the task record's ``env_peak_acceleration`` (:mod:`armctl.tasks` says where
    the built-in tasks' come from), so it scales with the arm."""
    return torque_for_acceleration(task, task_record(task.name).env_peak_acceleration)


def v1_length(task: Task) -> float:
    """v1's length scale L (m)."""
    return V1_LENGTH_FRACTION * task.arm.reach


def hand_offset_and_time_left(task: Task, state: WorldState, delayed, target_hand: tuple, xp) -> tuple:
    """v1's observation extras: ``(h* - h_seen) / L`` (the target's hand position minus the hand
    position of the observed, delayed, joint angles) and the share of the episode left, ``(T - t) / T``."""
    q1, q2 = xp.components(delayed)[:2]
    hx, hy = plant.position_components(task.arm, q1, q2, xp)[2:]
    length = v1_length(task)
    return (
        (target_hand[0] - hx) / length,
        (target_hand[1] - hy) / length,
        (task.horizon - state.t) / task.horizon,
    )


def reach_reward(task: Task, outcome: StepOutcome, xp) -> Any:
    """v1's dense reward, order 1 per step::

        r_t = -(d_{t+1} / L + c_a ||a_t||^2)  -  [t+1 = T] c_v ||hand velocity(x_T)|| / V

    ``d`` the true hand's distance to the target's hand position, ``a`` the normalized action,
    ``c_a`` = :data:`V1_ACTION_COST`, ``c_v`` = :data:`V1_SPEED_COST`, ``V = L / (T dt)``.
    Doing nothing on center-out returns about -T = -40; a good reach about -10.

    A step whose state diverges (which ends the episode) also costs, for each of the ``T - t - 1``
    steps the episode will not live, the most a step can cost (``d <= 2 reach``,
    ``||a||^2 <= 2``): otherwise ending early would be a way out of the per-step cost, and an
    agent would learn to throw the arm out of the plant's range.
    """
    length = v1_length(task)
    a1, a2 = xp.components(outcome.action)
    # A diverged state's hand may be anywhere (or nowhere: not finite): it counts as far as can be.
    distance = xp.where(
        outcome.diverged, 2.0 * task.arm.reach / length, outcome.hand_error_mm * (0.001 / length)
    )
    reward = -(distance + V1_ACTION_COST * (a1 * a1 + a2 * a2))
    # The end terms, computed (for one arm) only on the step that ends the episode.
    ends = (outcome.t >= task.horizon) | outcome.diverged
    return reward - xp.where_lazy(ends, lambda: _end_cost(task, outcome, length, xp), lambda: 0.0 * reward)


def _end_cost(task: Task, outcome: StepOutcome, length: float, xp):
    """The end terms of :func:`reach_reward`: the hand speed at the horizon and the cost of the
    steps a diverging episode will not live."""
    v1, v2 = xp.components(plant.hand_velocity(task.arm, outcome.state, xp))
    speed = V1_SPEED_COST * xp.sqrt(v1 * v1 + v2 * v2) * (task.horizon * task.arm.dt / length)
    worst_step = 2.0 * task.arm.reach / length + 2.0 * V1_ACTION_COST
    lost = (task.horizon - outcome.t) * worst_step
    zero = 0.0 * lost  # not 0 * speed: a diverged state's speed may not be finite
    at_horizon = (outcome.t >= task.horizon) & xp.logical_not(outcome.diverged)
    return xp.where(outcome.diverged, lost, zero) + xp.where(at_horizon, speed, zero)


@dataclasses.dataclass(frozen=True)
class EnvVersion:
    """What one version of the env ids decides; everything else is the same code.

    Attributes:
        name: the id suffix (``"v0"``).
        reward: ``reward(task, outcome: StepOutcome, xp)``, written on components with the
            namespace ``xp`` (:mod:`armctl.plant`), so it serves both envs.
        observation_extras: ``extras(task, state: WorldState, delayed, target_hand, xp) -> tuple``
            of components appended to the observation (e.g. the time left, from ``state.t``);
            ``delayed`` is the observed state, ``target_hand`` the target's hand position
            (components).
        extras_bounds: ``(low, high)`` of each extra, for the observation space.
        horizon_terminates: the task's horizon ends an episode with ``terminated=True``
            (``False``: ``truncated=True``, the time-limit convention).
        torque_limit: the default ``torque_limit(task)`` (N m per unit action).

    The single env traces ``reward`` and ``observation_extras`` (:func:`compile_scalar_step`):
    as under JAX's ``jit``, choices by the numbers go through ``xp.where`` (or ``xp.where_lazy``),
    and functions that take ``xp`` are given it.
    """

    name: str
    reward: Callable = thesis_reward
    observation_extras: Callable = no_extras
    extras_bounds: tuple[tuple[float, float], ...] = ()
    horizon_terminates: bool = False
    torque_limit: Callable[[Task], float] = default_torque_limit

    @property
    def obs_dim(self) -> int:
        return BASE_OBS_DIM + len(self.extras_bounds)


#: v0: the thesis task verbatim (reward minus the step cost, the horizon a time limit).
V0 = EnvVersion("v0")
#: v1: the same task made learnable by off-the-shelf RL: a dense reward, the hand's offset and
#: the time left observed, the horizon terminating, and an action range that fits the task.
V1 = EnvVersion(
    "v1",
    reward=reach_reward,
    observation_extras=hand_offset_and_time_left,
    extras_bounds=((-math.inf, math.inf), (-math.inf, math.inf), (0.0, 1.0)),
    horizon_terminates=True,
    torque_limit=v1_torque_limit,
)
VERSIONS: dict[str, EnvVersion] = {version.name: version for version in (V0, V1)}


def env_version(version: str | EnvVersion) -> EnvVersion:
    """The :class:`EnvVersion` named ``version`` (a key of :data:`VERSIONS`), or ``version`` itself."""
    if isinstance(version, EnvVersion):
        return version
    if version not in VERSIONS:
        raise ValueError(f"unknown env version {version!r}; expected one of {sorted(VERSIONS)}")
    return VERSIONS[version]
