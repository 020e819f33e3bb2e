"""The single Gymnasium env: one arm, one episode of an armctl task."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import jax.numpy as jnp
import numpy as np
from armctl.envs import core, render

from armctl.tasks import Task, TaskBatch, make_task

RENDER_BACKENDS = ("numpy", "mujoco")


def resolve_task(task: str | Task, task_options: dict | None = None) -> Task:
    """A :class:`~armctl.tasks.Task` from a task or a task name plus field overrides."""
    if isinstance(task, Task):
        if task_options:
            raise ValueError(f"task_options {sorted(task_options)} only apply to a task given by name")
        return task
    if isinstance(task, str):
        return make_task(task, **(task_options or {}))
    raise TypeError(f"task must be a task name or an armctl Task, got {type(task).__name__}")


def resolve_torque_limit(task: Task, torque_limit: float | None) -> float:
    if torque_limit is None:
        return core.default_torque_limit(task)
    if not (
        isinstance(torque_limit, (int, float, np.floating))
        and math.isfinite(torque_limit)
        and torque_limit > 0
    ):
        raise ValueError(f"torque_limit must be a positive finite torque in N m, got {torque_limit!r}")
    return float(torque_limit)


def check_action(action, shape: tuple[int, ...]) -> np.ndarray:
    """``action`` as float32 of ``shape``; raises ``ValueError`` for a wrong shape or NaN/inf."""
    a = np.asarray(action, dtype=np.float32)
    if a.shape != shape:
        raise ValueError(f"action must have shape {shape} (normalized joint torques), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"action must be finite, got {action!r}")
    return a


def episode_from_options(task: Task, batch: TaskBatch, options: dict | None) -> TaskBatch:
    """Apply reset options to a drawn size-1 episode (see :class:`ArmEnv`)."""
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
        if np.any(np.asarray(given.target)[:, 2:] != 0):
            raise ValueError(
                f"options['batch'] must have a rest target (zero velocities), got {given.target!r}"
            )
        batch = given
    shapes = {"x0": (4,), "target": (2,), "joint_disturbance": (2,), "hand_force": (2,), "onset": ()}
    fields = {}
    for name, shape in shapes.items():
        if name not in options:
            continue
        value = np.asarray(options[name], dtype=np.float64)
        if value.shape != shape or not np.isfinite(value).all():
            raise ValueError(
                f"options[{name!r}] must be a finite array of shape {shape}, got {options[name]!r}"
            )
        if name == "target":  # a rest state at the given joint angles
            value = np.concatenate([value, np.zeros(2)])
        old = getattr(batch, name)
        fields[name] = jnp.asarray(value, old.dtype).reshape(old.shape)
    return batch._replace(**fields)


class ArmEnv(gym.Env):
    """Two-joint planar arm reaching/holding task from Sutskever (2013), ch. 6.

    The step is the same code as the differentiable rollout (``armctl.rollout.transition``,
    its delay line and the task's cost); registered as ``armctl/CenterOut-v0``,
    ``armctl/Postural-v0``, ``armctl/DDN-v0`` and ``armctl/RandomReach-v0``.

    ## Action Space
    ``Box(-1, 1, (2,), float32)``: shoulder and elbow torques divided by ``torque_limit``
    (N m; default :func:`armctl.envs.core.default_torque_limit`, 0.91 N m for the monkey arm).
    Actions are clipped to [-1, 1]; the arm receives ``u (1 + xi_u) + d``, the task's
    multiplicative command noise and disturbance.

    ## Observation Space
    ``Box(low, high, (6,), float32)``:

    | idx | observation                              | unit  | bounds                   |
    |-----|------------------------------------------|-------|--------------------------|
    | 0   | shoulder angle, ``delay`` steps old      | rad   | unbounded                |
    | 1   | elbow angle, ``delay`` steps old         | rad   | unbounded                |
    | 2   | shoulder velocity, ``delay`` steps old   | rad/s | unbounded                |
    | 3   | elbow velocity, ``delay`` steps old      | rad/s | unbounded                |
    | 4   | target shoulder angle                    | rad   | task's targets (finite)  |
    | 5   | target elbow angle                       | rad   | task's targets (finite)  |

    Targets are rest states (zero velocity). Before the episode the arm rested at its start
    state, so the first ``delay`` observations show it there.

    ## Rewards
    Minus the thesis's per-step cost: at step t (0-based),
    ``reward = -(command_cost(u_t) + state_cost(x_{t+1}, x*, t+1))`` with
    ``command_cost = alpha ||u||^2 / 2`` (u in N m) and the task's state cost (final-state
    error at t+1 = T for center-out, DDN and random reach; angle error every step and
    velocity in the second half for postural). The episode return is minus ``task.cost``.
    ``info`` holds ``command_cost``, ``state_cost``, the true ``state`` x_{t+1}, the
    ``command`` u_t (N m) and ``step`` t+1.

    ## Starting State
    ``reset(seed=...)`` draws one episode -- start, target, disturbance, onset and every
    noise draw -- with ``task.sample(key, 1)``, ``key`` derived from the env's ``np_random``
    (tasks with a fixed list of cases draw one case). ``options`` may fix parts of it:
    ``x0`` (start state, shape (4,)), ``target`` (joint angles of the rest target, (2,)),
    ``joint_disturbance``, ``hand_force`` (shape (2,)), ``onset`` (step), or ``batch``: a
    whole size-1 :class:`TaskBatch` (with a rest target). Overridden targets may lie
    outside the observation bounds.

    ## Episode End
    Never terminated; truncated after the task's horizon T (``max_episode_steps``). Stepping
    past T raises ``RuntimeError``.

    ## Arguments
    ``task`` (name or Task; ``task_options`` overrides its fields), ``torque_limit`` (N m),
    ``render_mode`` (``"rgb_array"``), ``render_backend`` (``"numpy"`` rasterizer or
    ``"mujoco"`` offscreen rendering of the MJCF model), ``render_size`` (pixels).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 100}

    def __init__(
        self,
        task: str | Task = "ddn",
        task_options: dict | None = None,
        torque_limit: float | None = None,
        render_mode: str | None = None,
        render_backend: str = "numpy",
        render_size: int = 256,
    ):
        self.task = resolve_task(task, task_options)
        self.torque_limit = resolve_torque_limit(self.task, torque_limit)
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        if render_backend not in RENDER_BACKENDS:
            raise ValueError(f"render_backend must be one of {RENDER_BACKENDS}, got {render_backend!r}")
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.task.arm.dt)}
        self._renderer = (
            render.make_renderer(self.task.arm, render_backend, render_size) if render_mode else None
        )
        low, high = core.observation_bounds(self.task)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (core.ACTION_DIM,), np.float32)
        self._batch: TaskBatch | None = None
        self._arm: core.ArmState | None = None
        self._t = 0
        self._path: list[np.ndarray] = []

    @property
    def episode(self) -> TaskBatch:
        """The current episode as a size-1 :class:`TaskBatch` (all its randomness)."""
        if self._batch is None:
            raise RuntimeError("no episode yet: call reset() first")
        return self._batch

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        episode_seed = np.uint32(self.np_random.integers(0, 2**32))
        self._batch = episode_from_options(
            self.task, core.sample_episodes(self.task, episode_seed, 1), options
        )
        self._arm, obs = core.start(self.task, self._batch)
        self._t = 0
        x0 = np.asarray(self._batch.x0[0], np.float32)
        self._path = [x0]
        return np.asarray(obs)[0], {"state": x0, "step": 0}

    def step(self, action):
        if self._batch is None:
            raise RuntimeError("call reset() before step()")
        if self._t >= self.task.horizon:
            raise RuntimeError(
                f"the episode ended after its horizon of {self.task.horizon} steps; "
                "call reset() to start another"
            )
        a = check_action(action, self.action_space.shape)[None]
        self._arm, packed = core.step(
            self.task, self.torque_limit, self._batch, self._arm, a, np.int32(self._t)
        )
        row = np.asarray(packed)[0]
        self._t += 1
        state = row[core.STATE]
        self._path.append(state)
        info = {
            "command_cost": float(row[core.COMMAND_COST]),
            "state_cost": float(row[core.STATE_COST]),
            "state": state,
            "command": row[core.COMMAND],
            "step": self._t,
        }
        return row[core.OBS], float(row[core.REWARD]), False, self._t >= self.task.horizon, info

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' to make()")
            return None
        if self._batch is None:
            raise RuntimeError("call reset() before render()")
        return self._renderer(np.stack(self._path), np.asarray(self._batch.target[0]))

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
