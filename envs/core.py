"""The env step shared by the single and the vector Gymnasium envs, and what makes an env version.

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

An :class:`EnvVersion` is all that distinguishes one version of the env ids from another
(the reward, observation extras, whether the horizon terminates, the default torque limit);
:data:`VERSIONS` lists them.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from armctl import plant
from armctl.plant import namespace_of
from armctl.registry import task_record
from armctl.scalar_trace import compile_scalar
from armctl.tasks import CENTER_POSTURE, JOINT_WORKSPACE, Task, TaskBatch, make_task
from armctl.world import WorldState, diverged, env_reset, env_step

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


def start(version: EnvVersion, task: Task, batch: TaskBatch) -> tuple[WorldState, Any, StepOutcome]:
    """Step 0 of the episodes in ``batch``: ``(state, obs, outcome)``, the outcome describing
    the start (no action yet: zero action, command and costs)."""
    state, delayed = env_reset(task, batch)
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


# ----- spaces, arguments and checks shared by both envs ----------------------------------------
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


def _action_array(action, shape: tuple[int, ...]) -> np.ndarray:
    try:
        a = np.asarray(action, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(
            f"action must be numbers of shape {shape} (normalized joint torques), got {action!r}"
        ) from None
    if a.shape != shape:
        raise ValueError(f"action must have shape {shape} (normalized joint torques), got shape {a.shape}")
    return a


def check_action(action, shape: tuple[int, ...]) -> np.ndarray:
    """``action`` as float32 of ``shape``; raises ``ValueError`` for a wrong shape or NaN/inf."""
    a = _action_array(action, shape)
    if not np.isfinite(a).all():
        raise ValueError(f"action must be finite, got {action!r}")
    return a


def check_arm_action(action) -> tuple[float, float]:
    """One arm's action as the tuple of its float32 values: :func:`check_action` for shape (2,),
    checked without a NumPy reduction, which would cost a good part of the arm's step."""
    a1, a2 = _action_array(action, (ACTION_DIM,)).tolist()
    if not (math.isfinite(a1) and math.isfinite(a2)):
        raise ValueError(f"action must be finite, got {action!r}")
    return a1, a2


def _option_vector(options: dict, name: str, size: int) -> np.ndarray:
    try:
        value = np.asarray(options[name], dtype=np.float64)
    except (TypeError, ValueError):
        value = None
    if value is None or value.shape != (size,) or not np.isfinite(value).all():
        raise ValueError(
            f"options[{name!r}] must be {size} finite numbers (shape ({size},)), got {options[name]!r}"
        )
    return value


def _check_onset(task: Task, onset, what: str) -> int:
    value = np.asarray(onset)
    integral = value.dtype.kind in "iu" or (value.dtype.kind == "f" and np.all(np.mod(value, 1) == 0))
    if value.dtype.kind == "b" or not integral or not np.all((value >= 0) & (value <= task.horizon)):
        raise ValueError(
            f"{what} must be an integer step in [0, {task.horizon}] (the horizon: never), got {onset!r}"
        )
    return value.astype(np.int64)


def _check_start(task: Task, x0: np.ndarray, what: str) -> None:
    if np.any(np.abs(x0[..., 2:]) > task.arm.max_joint_speed):
        raise ValueError(
            f"{what} has a joint speed above the plant's range of {task.arm.max_joint_speed:g} rad/s "
            f"(ArmParams.max_joint_speed), got {x0!r}"
        )


def episode_from_options(task: Task, batch: TaskBatch, options: dict | None) -> TaskBatch:
    """Apply reset options to a drawn size-1 NumPy episode (see :class:`~armctl.envs.arm_env.ArmEnv`);
    raises ``ValueError`` naming an option whose value is out of range."""
    if not options:
        return batch
    allowed = {"batch", "x0", "target", "joint_disturbance", "hand_force", "onset"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"unknown reset option(s) {unknown}; valid: {sorted(allowed)}")
    if "batch" in options:
        given = options["batch"]
        if not isinstance(given, TaskBatch):
            raise TypeError(f"options['batch'] must be a TaskBatch, got {type(given).__name__}")
        task.validate_batch(given)
        if given.size != 1:
            raise ValueError(f"options['batch'] must hold one episode, got {given.size}")
        given = TaskBatch(*(np.asarray(a) for a in given))
        for name, value in zip(given._fields, given, strict=True):
            if name != "onset" and not np.isfinite(value).all():
                raise ValueError(f"options['batch'].{name} must be finite, got {value!r}")
        if np.any(given.target[:, 2:] != 0):
            raise ValueError(
                f"options['batch'] must have a rest target (zero velocities), got {given.target!r}"
            )
        _check_onset(task, given.onset, "options['batch'].onset")
        _check_start(task, given.x0, "options['batch'].x0")
        batch = given
    fields = {}
    for name, size in (("x0", 4), ("target", 2), ("joint_disturbance", 2), ("hand_force", 2)):
        if name in options:
            value = _option_vector(options, name, size)
            if name == "x0":
                _check_start(task, value, "options['x0']")
            if name == "target":  # a rest state at the given joint angles
                value = np.concatenate([value, np.zeros(2)])
            fields[name] = value[None].astype(np.asarray(getattr(batch, name)).dtype)
    if "onset" in options:
        fields["onset"] = np.asarray(
            _check_onset(task, options["onset"], "options['onset']"), np.int32
        ).reshape(1)
    return batch._replace(**fields)
