"""The single Gymnasium env: one arm, one episode of an armctl task, stepped in Python floats.

The step is :func:`armctl.envs.core.step` (the world step :func:`armctl.world.env_step` plus
the env's action scaling, observation and reward), run on Python floats: for one arm that is
faster than any array library's per-call overhead, and the env imports no JAX at all, so a
fresh process makes, resets and steps it quickly. At the first reset the step is traced into
one straight-line Python function (:func:`armctl.envs.core.compile_scalar_step`), which does
the same float operations without the calls between them. The same step runs on JAX arrays in
the vector env, and a test holds the two to float precision.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from armctl.envs import checks, core, render, versions

from armctl.tasks import GeneratorDraws, Task, TaskBatch
from armctl.world import scalar_episode

RENDER_BACKENDS = ("numpy", "mujoco")


class ArmEnv(gym.Env):
    """Two-joint planar arm reaching/holding task from Sutskever (2013), ch. 6.

    Registered as ``armctl/CenterOut-v0``, ``armctl/Postural-v0``, ``armctl/DDN-v0`` and
    ``armctl/RandomReach-v0`` (the thesis's task, described below) and the same names with
    ``-v1``, the version for model-free RL (:data:`armctl.envs.versions.V1`: a dense reward, see
    :func:`~armctl.envs.versions.reach_reward`; three more observation columns, the target's hand
    position minus the seen hand's in units of L and the share of the episode left; the horizon
    terminates; per-task torque limits, :func:`~armctl.envs.versions.v1_torque_limit`). A step is
    :func:`armctl.envs.core.step`, the world step the differentiable rollout scans
    (:func:`armctl.world.env_step`), in Python floats (float64), traced once into straight-line
    Python (:func:`armctl.envs.core.compile_scalar_step`).

    ## Action Space
    ``Box(-1, 1, (2,), float32)``: shoulder and elbow torques divided by ``torque_limit``
    (N m; default :func:`armctl.envs.versions.default_torque_limit`, 0.91 N m for the monkey arm).
    Actions are clipped to [-1, 1]; the arm receives ``u (1 + xi_u) + d``, the task's
    multiplicative command noise and disturbance.

    ## Observation Space
    ``Box(low, high, (6,), float32)`` (v0):

    | idx | observation                              | unit  | bounds                   |
    |-----|------------------------------------------|-------|--------------------------|
    | 0   | shoulder angle, ``delay`` steps old      | rad   | unbounded                |
    | 1   | elbow angle, ``delay`` steps old         | rad   | unbounded                |
    | 2   | shoulder velocity, ``delay`` steps old   | rad/s | unbounded                |
    | 3   | elbow velocity, ``delay`` steps old      | rad/s | unbounded                |
    | 4   | target shoulder angle                    | rad   | task's targets (finite)  |
    | 5   | target elbow angle                       | rad   | task's targets (finite)  |

    Targets are rest states (zero velocity). Before the episode the arm rested at its start
    state, so the first ``delay`` observations show it there. Later versions may append
    columns (:attr:`armctl.envs.versions.EnvVersion.observation_extras`).

    ## Rewards
    v0: minus the thesis's per-step cost: at step t (0-based),
    ``reward = -(command_cost(u_t) + state_cost(x_{t+1}, x*, t+1))`` with
    ``command_cost = alpha ||u||^2 / 2`` (u in N m) and the task's state cost (final-state
    error at t+1 = T for center-out, DDN and random reach; angle error every step and
    velocity in the second half for postural). The episode return is minus ``task.cost``.

    ## Info
    Every step: ``command_cost`` and ``state_cost`` (the reward's parts), the true ``state``
    x_{t+1}, the ``command`` u_t (N m), ``step`` t+1, the ``hand`` and ``target_hand``
    positions (m, shoulder frame), ``hand_error_mm`` their distance (at the last step, the
    thesis's final hand error) and ``diverged``. ``reset`` gives the same keys for the start.

    ## Starting State
    ``reset(seed=...)`` draws one episode -- start, target, disturbance, onset and every
    noise draw -- from the env's ``np_random`` with NumPy
    (``task.draw_episodes(GeneratorDraws(np_random), 1)``): the same seed gives the same
    episode; tasks with a fixed list of cases draw one case. The distributions are those of
    ``task.sample``, the numbers are not a JAX key's. ``options`` may fix parts of it:
    ``x0`` (start state, (4,), joint speeds within ``arm.max_joint_speed``), ``target`` (joint
    angles of the rest target, (2,)), ``joint_disturbance`` (N m), ``hand_force`` (N) (each
    (2,), finite), ``onset`` (an integer step in [0, T]), or ``batch``: a whole size-1
    :class:`TaskBatch` (finite, with a rest target). Overridden targets may lie outside the
    observation bounds. :attr:`episode` gives the episode as a ``TaskBatch``, to replay a
    controller on it with :func:`armctl.rollout.simulate`.

    ## Episode End
    Truncated after the task's horizon T (``max_episode_steps``). Terminated, with
    ``info["diverged"] = True``, at the first step whose state leaves the plant's range (a
    joint faster than ``arm.max_joint_speed``, 1 / dt = 100 rad/s, or a non-finite value:
    :func:`armctl.world.diverged`), so no step returns non-finite numbers. Stepping an ended
    episode raises ``RuntimeError``.

    ## Arguments
    ``task`` (name or Task; ``task_options`` overrides its fields), ``torque_limit`` (N m),
    ``render_mode`` (``"rgb_array"``), ``render_backend`` (``"numpy"`` rasterizer or
    ``"mujoco"`` offscreen rendering of the MJCF model), ``render_size`` (pixels),
    ``version`` (a key of :data:`armctl.envs.versions.VERSIONS`).
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
        version: str = "v0",
    ):
        self.version = versions.env_version(version)
        self.task = core.resolve_task(task, task_options)
        self.torque_limit = core.resolve_torque_limit(self.version, self.task, torque_limit)
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
        self._closed = False
        low, high = core.observation_bounds(self.version, self.task)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (versions.ACTION_DIM,), np.float32)
        self._batch: TaskBatch | None = None
        self._episode: TaskBatch | None = None  # the same episode in Python floats
        self._state = None
        self._target_hand: tuple | None = None  # the episode's, computed once at reset
        self._step = None  # core.compile_scalar_step's, traced at the first reset
        self._ended: str | None = None  # why the episode ended, once it has
        self._path: list[tuple] = []

    @property
    def episode(self) -> TaskBatch:
        """The current episode as a size-1 NumPy :class:`TaskBatch` (all its randomness)."""
        if self._batch is None:
            raise RuntimeError("no episode yet: call reset() first")
        return self._batch

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        # A refused reset (bad options) leaves the env as it was, its random generator included.
        generator = (self._np_random, self._np_random_seed)
        try:
            super().reset(seed=seed)
            drawn = self.task.draw_episodes(GeneratorDraws(self.np_random), 1)
            batch = checks.episode_from_options(self.task, drawn, options)
        except BaseException:
            self._np_random, self._np_random_seed = generator
            raise
        self._batch = batch
        self._episode = scalar_episode(self._batch)
        self._state, obs, outcome = core.start(self.version, self.task, self._episode)
        self._target_hand = outcome.target_hand
        if self._step is None:
            self._trace_step()
        self._ended = None
        self._path = [outcome.state] if self.render_mode else []
        return core.finite_observation(np.asarray(obs)).astype(np.float32), self._info(outcome)

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        if self._ended is not None:
            raise RuntimeError(f"the episode ended {self._ended}; call reset() to start another")
        action = checks.check_arm_action(action)
        self._state, obs, reward, outcome, terminated, truncated = self._step(
            self._episode, self._state, action, self._target_hand
        )
        if outcome.diverged:
            self._ended = f"at step {outcome.t}: the arm's state left the plant's range (info['diverged'])"
        elif terminated or truncated:
            self._ended = f"after its horizon of {self.task.horizon} steps"
        if self.render_mode:
            self._path.append(outcome.state)
        obs = core.finite_observation(np.asarray(obs)).astype(np.float32)
        return obs, float(reward), terminated, truncated, self._info(outcome)

    def _trace_step(self) -> None:
        # Traced on the current episode: only its shapes matter, and they are the task's.
        self._step = core.compile_scalar_step(
            self.version, self.task, self.torque_limit, self._episode, self._state, self._target_hand
        )

    def __getstate__(self) -> dict:
        # The traced step is code written at run time, which pickle cannot find by name.
        return {**self.__dict__, "_step": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._episode is not None:
            self._trace_step()

    @staticmethod
    def _info(outcome: versions.StepOutcome) -> dict:
        # One array for the four vectors, handed out as views: a NumPy array per value would
        # cost more than the arm's step.
        vectors = np.array(outcome.state + outcome.command + outcome.hand + outcome.target_hand)
        return {
            "command_cost": outcome.command_cost,
            "state_cost": outcome.state_cost,
            "state": vectors[0:4],
            "command": vectors[4:6],
            "step": outcome.t,
            "hand": vectors[6:8],
            "target_hand": vectors[8:10],
            "hand_error_mm": outcome.hand_error_mm,
            "diverged": outcome.diverged,
        }

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' to make()")
            return None
        if self._closed:
            raise RuntimeError("render() after close(): the renderer was released; make a new env to render")
        if self._batch is None:
            raise RuntimeError("call reset() before render()")
        return self._renderer(np.array(self._path), np.asarray(self._batch.target[0]))

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._closed = True
