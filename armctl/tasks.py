"""The arm tasks of Sutskever's thesis (ch. 6.3-6.5): center-out, postural, DDN, random reach.

A task is a frozen (hashable) dataclass: it can be a static argument of ``jax.jit``. It
samples a :class:`TaskBatch` from an explicit PRNG key -- the batch holds *all* randomness
of an episode (start, target, disturbance, its onset, every noise draw), so the training
objective is a deterministic function of parameters and batch, as CG and line searches
need -- and it defines the thesis cost and the metrics people read.

Cost of one episode with states ``x_0..x_T`` and commands ``u_0..u_{T-1}``::

    sum_{t<T} alpha ||u_t||^2 / 2  +  sum_{t=1..T} state_cost(x_t, x*, t)

where ``state_cost`` is ``||x_T - x*||^2 / 2`` at the last step only (center-out, DDN,
random reach) or, for the postural task, ``||q_t - q*||^2 / 2`` at every step plus
``||dq_t||^2 / 2`` in the second half. The loss is the batch mean of that cost.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from armctl import plant
from armctl.plant import CONTROL_DIM, STATE_DIM, ArmParams

#: Central posture of the center-out and postural tasks: shoulder 45 deg, elbow 90 deg.
CENTER_POSTURE = (math.pi / 4, math.pi / 2)
#: Joint-angle box (rad) the DDN and random-reach tasks draw starts and targets from.
JOINT_WORKSPACE = ((0.0, math.pi / 2), (math.pi / 6, 2 * math.pi / 3))


class TaskBatch(NamedTuple):
    """One batch of episodes; every random quantity of the episodes is in here.

    Shapes for batch size B and horizon T:
    ``x0`` (B, 4) start state; ``target`` (B, 4) target state (angles, zero velocity);
    ``joint_disturbance`` (B, 2) constant joint torques (N m); ``hand_force`` (B, 2)
    constant hand force (N), applied as ``J(q)^T F``; ``onset`` (B,) int32, first step at
    which both act; ``command_noise`` (B, T, 2) multiplicative command noise xi_u;
    ``plant_noise`` (B, T, 4) additive state noise xi_f.
    """

    x0: jnp.ndarray
    target: jnp.ndarray
    joint_disturbance: jnp.ndarray
    hand_force: jnp.ndarray
    onset: jnp.ndarray
    command_noise: jnp.ndarray
    plant_noise: jnp.ndarray

    @property
    def size(self) -> int:
        return self.x0.shape[0]


def _check_positive_int(name: str, value, minimum: int = 1) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_nonnegative(name: str, value) -> None:
    if not (isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


@dataclasses.dataclass(frozen=True)
class Task:
    """Common fields and the cost; subclasses define :meth:`sample`.

    Attributes:
        horizon: number of control steps T.
        delay: feedback delay in steps (the controller sees ``x[t - delay]``).
        alpha: weight of the command cost ``alpha ||u||^2 / 2`` (already times dt).
        batch_size: episodes per sampled batch.
        arm: plant parameters.
        command_noise_std: std of the multiplicative command noise xi_u.
        plant_noise_std: std of the additive state noise xi_f.
    """

    name: ClassVar[str] = "task"

    horizon: int = 40
    delay: int = 0
    alpha: float = 1e-2 * 0.01
    batch_size: int = 64
    arm: ArmParams = dataclasses.field(default_factory=ArmParams.monkey)
    command_noise_std: float = 0.0
    plant_noise_std: float = 0.0

    def __post_init__(self):
        if isinstance(self.arm, str):
            object.__setattr__(self, "arm", ArmParams.preset(self.arm))
        if not isinstance(self.arm, ArmParams):
            raise TypeError(f"arm must be an ArmParams or a preset name, got {type(self.arm).__name__}")
        self.arm.validate()
        _check_positive_int("horizon", self.horizon)
        _check_positive_int("delay", self.delay, minimum=0)
        if self.delay >= self.horizon:
            raise ValueError(f"delay must be smaller than the horizon {self.horizon}, got {self.delay}")
        _check_positive_int("batch_size", self.batch_size)
        _check_nonnegative("alpha", self.alpha)
        _check_nonnegative("command_noise_std", self.command_noise_std)
        _check_nonnegative("plant_noise_std", self.plant_noise_std)

    # ----- sampling ---------------------------------------------------------------------
    def sample(self, key: jax.Array, batch_size: int | None = None) -> TaskBatch:
        """A batch of episodes drawn from ``key`` (the same key gives the same batch)."""
        raise NotImplementedError

    def _noise(self, key: jax.Array, batch_size: int) -> tuple[jnp.ndarray, jnp.ndarray]:
        k_cmd, k_plant = jax.random.split(key)
        t = self.horizon
        cmd = self.command_noise_std * jax.random.normal(k_cmd, (batch_size, t, CONTROL_DIM))
        pl = self.plant_noise_std * jax.random.normal(k_plant, (batch_size, t, STATE_DIM))
        return cmd, pl

    def _batch(self, key, x0, target, joint_disturbance=None, hand_force=None, onset=None) -> TaskBatch:
        b = x0.shape[0]
        zeros2 = jnp.zeros((b, CONTROL_DIM))
        cmd, pl = self._noise(key, b)
        return TaskBatch(
            x0=x0,
            target=target,
            joint_disturbance=zeros2 if joint_disturbance is None else joint_disturbance,
            hand_force=zeros2 if hand_force is None else hand_force,
            onset=jnp.zeros((b,), jnp.int32) if onset is None else onset.astype(jnp.int32),
            command_noise=cmd,
            plant_noise=pl,
        )

    def validate_batch(self, batch: TaskBatch) -> None:
        """Raise ``ValueError`` naming the field whose shape does not fit this task."""
        if not isinstance(batch, TaskBatch):
            raise TypeError(f"expected a TaskBatch, got {type(batch).__name__}")
        b, t = batch.x0.shape[0] if batch.x0.ndim == 2 else -1, self.horizon
        expected = {
            "x0": (b, STATE_DIM),
            "target": (b, STATE_DIM),
            "joint_disturbance": (b, CONTROL_DIM),
            "hand_force": (b, CONTROL_DIM),
            "onset": (b,),
            "command_noise": (b, t, CONTROL_DIM),
            "plant_noise": (b, t, STATE_DIM),
        }
        for field, shape in expected.items():
            got = tuple(getattr(batch, field).shape)
            if got != shape:
                raise ValueError(
                    f"TaskBatch.{field} has shape {got}; {self.name} with horizon {t} expects {shape}"
                    " (batch size taken from x0)"
                )

    # ----- dynamics pieces shared by the rollout and the Gymnasium envs ---------------------
    def disturbance(self, batch: TaskBatch, q: jnp.ndarray, t) -> jnp.ndarray:
        """Disturbing joint torque at step ``t`` for arms at angles ``q``: zero before onset,
        then the constant joint torque plus the constant hand force mapped by ``J(q)^T``."""
        on = (t >= batch.onset)[..., None]
        d = batch.joint_disturbance + plant.hand_force_to_torque(self.arm, q, batch.hand_force)
        return jnp.where(on, d, 0.0)

    # ----- cost -------------------------------------------------------------------------
    def state_cost(self, x: jnp.ndarray, target: jnp.ndarray, t) -> jnp.ndarray:
        """Cost of reaching state ``x`` at step ``t`` (1..T); broadcasts over leading axes."""
        err = 0.5 * jnp.sum((x - target) ** 2, axis=-1)
        return jnp.where(t == self.horizon, err, 0.0)

    def command_cost(self, u: jnp.ndarray) -> jnp.ndarray:
        """``alpha ||u||^2 / 2``."""
        return 0.5 * self.alpha * jnp.sum(u**2, axis=-1)

    def cost(self, states: jnp.ndarray, commands: jnp.ndarray, target: jnp.ndarray) -> jnp.ndarray:
        """Per-episode cost, shape (B,), for states (B, T+1, 4) and commands (B, T, 2)."""
        steps = jnp.arange(1, self.horizon + 1)
        state_part = self.state_cost(states[:, 1:], target[:, None, :], steps)
        return jnp.sum(state_part, axis=1) + jnp.sum(self.command_cost(commands), axis=1)

    def loss(self, states: jnp.ndarray, commands: jnp.ndarray, target: jnp.ndarray) -> jnp.ndarray:
        """The training objective: the batch mean of :meth:`cost`."""
        return jnp.mean(self.cost(states, commands, target))

    # ----- metrics ----------------------------------------------------------------------
    def metrics(self, states: jnp.ndarray, commands: jnp.ndarray, target: jnp.ndarray) -> dict:
        """Per-episode metrics people read (batch means are the ``mean_*`` of these):
        ``final_error_mm`` hand distance to the target's hand position at T, ``final_speed``
        hand speed at T (m/s), ``peak_speed`` (m/s), ``energy`` sum of squared commands."""
        hand = plant.forward_kinematics(self.arm, states[..., :2])
        goal = plant.forward_kinematics(self.arm, target[:, :2])
        speed = jnp.linalg.norm(plant.hand_velocity(self.arm, states), axis=-1)
        return {
            "cost": self.cost(states, commands, target),
            "final_error_mm": 1000.0 * jnp.linalg.norm(hand[:, -1] - goal, axis=-1),
            "final_speed": speed[:, -1],
            "peak_speed": jnp.max(speed, axis=1),
            "energy": jnp.sum(commands**2, axis=(1, 2)),
        }


def _joint_targets(arm: ArmParams, hands: np.ndarray, what: str) -> np.ndarray:
    """Joint-space rest states (float64 NumPy) for hand positions; raises if any is outside
    the workspace. Called eagerly at task construction, so ``sample`` can use the result as
    a constant under ``jit``."""
    with jax.enable_x64(True):
        reachable = np.asarray(plant.is_reachable(arm, jnp.asarray(hands), margin=1e-3 * arm.reach))
        if not reachable.all():
            bad = hands[~reachable][0]
            r = float(np.linalg.norm(bad))
            raise ValueError(
                f"{what}: hand position ({bad[0]:.4f}, {bad[1]:.4f}) m at radius {r:.4f} m is outside the "
                f"arm's workspace (radius between {abs(arm.l1 - arm.l2):.4f} and {arm.reach:.4f} m)"
            )
        q = np.asarray(plant.inverse_kinematics(arm, jnp.asarray(hands)))
    return np.concatenate([q, np.zeros_like(q)], axis=-1)


@dataclasses.dataclass(frozen=True)
class CenterOut(Task):
    """Reaches from one central posture to ``n_targets`` targets on a circle (thesis 6.3).

    T = 40 (400 ms), no delay, disturbance or noise, alpha = 1e-2 dt. A batch is all the
    targets, in order of angle (``batch_size`` follows ``n_targets``); the key is unused
    except for noise draws when noise is switched on. ``radius`` defaults to 15 % of the
    arm's reach (5.7 cm for the monkey arm, 9.5 cm for the human arm).
    """

    name: ClassVar[str] = "center-out"

    n_targets: int = 64
    radius: float | None = None
    center_posture: tuple[float, float] = CENTER_POSTURE

    def __post_init__(self):
        _check_positive_int("n_targets", self.n_targets)
        object.__setattr__(self, "batch_size", self.n_targets)
        super().__post_init__()
        if self.radius is None:
            object.__setattr__(self, "radius", 0.15 * self.arm.reach)
        if not (math.isfinite(self.radius) and self.radius > 0):
            raise ValueError(f"radius must be a positive distance in m, got {self.radius!r}")
        # Not a field: derived from the fields, excluded from hashing and equality.
        object.__setattr__(
            self,
            "_targets",
            _joint_targets(self.arm, self.target_hands(), f"center-out target (radius {self.radius} m)"),
        )

    def center_hand(self) -> np.ndarray:
        with jax.enable_x64(True):
            return np.asarray(plant.forward_kinematics(self.arm, jnp.asarray(self.center_posture)))

    def target_hands(self) -> np.ndarray:
        """Target hand positions (n_targets, 2), counter-clockwise from angle 0."""
        ang = 2 * np.pi * np.arange(self.n_targets) / self.n_targets
        return self.center_hand() + self.radius * np.stack([np.cos(ang), np.sin(ang)], axis=-1)

    def sample(self, key: jax.Array, batch_size: int | None = None) -> TaskBatch:
        if batch_size not in (None, self.n_targets):
            raise ValueError(
                f"center-out batches hold all {self.n_targets} targets; got batch_size={batch_size}"
            )
        target = jnp.asarray(self._targets)
        x0 = jnp.broadcast_to(jnp.concatenate([jnp.asarray(self.center_posture), jnp.zeros(2)]), target.shape)
        return self._batch(key, x0, target)


@dataclasses.dataclass(frozen=True)
class Postural(Task):
    """Hold one of 9 postures against one of 8 constant hand forces (thesis 6.3).

    The postures are a 3 x 3 grid of hand positions (``spacing`` apart, default 10 % of
    the reach) around the central posture; the forces have magnitude ``force`` (N) in 8
    directions 45 degrees apart and act from t = 0. The controller is not told the force.
    T = 100, delay 10 steps (100 ms), alpha = 1e-6 dt. State cost: squared joint-angle
    error at every step plus squared joint velocity in the second half. A batch is all 72
    (posture, force) pairs, so ``batch_size`` is 72.
    """

    name: ClassVar[str] = "postural"

    horizon: int = 100
    delay: int = 10
    alpha: float = 1e-6 * 0.01
    force: float = 1.0
    spacing: float | None = None
    center_posture: tuple[float, float] = CENTER_POSTURE

    def __post_init__(self):
        object.__setattr__(self, "batch_size", 72)
        super().__post_init__()
        if self.spacing is None:
            object.__setattr__(self, "spacing", 0.1 * self.arm.reach)
        _check_nonnegative("force", self.force)
        object.__setattr__(
            self, "_postures", _joint_targets(self.arm, self.posture_hands(), "postural posture")
        )

    def posture_hands(self) -> np.ndarray:
        with jax.enable_x64(True):
            center = np.asarray(plant.forward_kinematics(self.arm, jnp.asarray(self.center_posture)))
        offsets = np.array([(i, j) for j in (-1, 0, 1) for i in (-1, 0, 1)], dtype=float)
        return center + self.spacing * offsets

    def sample(self, key: jax.Array, batch_size: int | None = None) -> TaskBatch:
        if batch_size not in (None, 72):
            raise ValueError(f"postural batches hold all 9 x 8 = 72 cases; got batch_size={batch_size}")
        postures = jnp.asarray(self._postures)  # (9, 4)
        ang = 2 * jnp.pi * jnp.arange(8) / 8
        forces = self.force * jnp.stack([jnp.cos(ang), jnp.sin(ang)], axis=-1)  # (8, 2)
        target = jnp.repeat(postures, 8, axis=0)
        hand_force = jnp.tile(forces, (9, 1))
        return self._batch(key, target, target, hand_force=hand_force)

    def state_cost(self, x, target, t):
        angle_err = 0.5 * jnp.sum((x[..., :2] - target[..., :2]) ** 2, axis=-1)
        velocity = 0.5 * jnp.sum(x[..., 2:] ** 2, axis=-1)
        return angle_err + jnp.where(t > self.horizon // 2, velocity, 0.0)


def _random_rest_states(key: jax.Array, n: int) -> jnp.ndarray:
    lo = jnp.array([JOINT_WORKSPACE[0][0], JOINT_WORKSPACE[1][0]])
    hi = jnp.array([JOINT_WORKSPACE[0][1], JOINT_WORKSPACE[1][1]])
    q = jax.random.uniform(key, (n, 2), minval=lo, maxval=hi)
    return jnp.concatenate([q, jnp.zeros_like(q)], axis=-1)


@dataclasses.dataclass(frozen=True)
class RandomReach(Task):
    """Random start to random target, both at rest, drawn uniformly from the joint box
    :data:`JOINT_WORKSPACE`; no delay, disturbance or noise. T = 40, alpha = 1e-2 dt."""

    name: ClassVar[str] = "random-reach"

    def sample(self, key: jax.Array, batch_size: int | None = None) -> TaskBatch:
        b = self.batch_size if batch_size is None else batch_size
        _check_positive_int("batch_size", b)
        k_start, k_target, k_noise = jax.random.split(key, 3)
        return self._batch(k_noise, _random_rest_states(k_start, b), _random_rest_states(k_target, b))


@dataclasses.dataclass(frozen=True)
class DDN(Task):
    """Disturbance-delays-noise reaching (thesis 6.3), the hardest task.

    Random start to random target (as :class:`RandomReach`), feedback delayed 7 steps
    (70 ms), a constant joint-torque disturbance ~ N(0, ``disturbance_std``^2) per joint
    switched on at a step drawn uniformly from the first half, and signal-dependent
    command noise ``u * (1 + xi)``, xi ~ N(0, ``command_noise_std``^2). T = 60 (600 ms),
    alpha = 1e-4 dt, batch 400.
    """

    name: ClassVar[str] = "ddn"

    horizon: int = 60
    delay: int = 7
    alpha: float = 1e-4 * 0.01
    batch_size: int = 400
    command_noise_std: float = 0.2
    disturbance_std: float = 0.2

    def __post_init__(self):
        super().__post_init__()
        _check_nonnegative("disturbance_std", self.disturbance_std)

    def sample(self, key: jax.Array, batch_size: int | None = None) -> TaskBatch:
        b = self.batch_size if batch_size is None else batch_size
        _check_positive_int("batch_size", b)
        k_start, k_target, k_dist, k_onset, k_noise = jax.random.split(key, 5)
        return self._batch(
            k_noise,
            _random_rest_states(k_start, b),
            _random_rest_states(k_target, b),
            joint_disturbance=self.disturbance_std * jax.random.normal(k_dist, (b, CONTROL_DIM)),
            onset=jax.random.randint(k_onset, (b,), 0, max(self.horizon // 2, 1)),
        )


TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (CenterOut, Postural, DDN, RandomReach)}


def make_task(name: str, **overrides) -> Task:
    """Build a task by name (``center-out``, ``postural``, ``ddn``, ``random-reach``)."""
    key = name.lower().replace("_", "-")
    if key not in TASKS:
        raise ValueError(f"unknown task {name!r}; expected one of {sorted(TASKS)}")
    fields = {f.name for f in dataclasses.fields(TASKS[key])}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for task {key!r}; valid: {sorted(fields)}")
    return TASKS[key](**overrides)
