"""The two-joint planar arm: parameters, equations of motion, Euler step, kinematics.

This module is the *only* implementation of the arm's physics. The differentiable rollout
(`armctl.rollout`), the Gymnasium environments (`envs`), iLQR (`baselines`) and the
benchmarks all call these functions.

State ``x = (q1, q2, dq1, dq2)``: shoulder and elbow angles (rad) and velocities (rad/s).
The shoulder angle is measured from the x axis, the elbow angle is the forearm's angle
relative to the upper arm (0 = straight arm). The arm moves in the horizontal plane, so
there is no gravity.

Equations of motion ``M(q) ddq + C(q, dq) dq + B dq = tau`` with centre-of-mass inertias
(``I`` about each segment's centre of mass, ``s`` the joint-to-COM distance)::

    M11 = I1 + I2 + m1 s1^2 + m2 (l1^2 + s2^2 + 2 l1 s2 cos q2)
    M12 = M21 = I2 + m2 (s2^2 + l1 s2 cos q2)
    M22 = I2 + m2 s2^2
    C dq = m2 l1 s2 sin q2 * (-dq2 (2 dq1 + dq2), dq1^2)

Written this way ``det M = (I1 + m1 s1^2)(I2 + m2 s2^2) + I2 m2 l1^2 + m2^2 l1^2 s2^2 sin^2 q2 > 0``
for every elbow angle. (Sutskever's thesis, sec. 6.6, notes that a common textbook form,
with inertias taken about the wrong axis, goes singular with monkey parameters.)

All functions are pure JAX, broadcast over leading batch axes, and work under
``jit``, ``vmap``, ``grad`` and ``jvp``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax.numpy as jnp


class ArmParams(NamedTuple):
    """Physical parameters of the arm (SI units). A pytree of floats.

    Use the presets :meth:`monkey` (default) or :meth:`human`.
    """

    m1: float  # upper-arm mass (kg)
    m2: float  # forearm (+ hand) mass (kg)
    l1: float  # upper-arm length (m)
    l2: float  # forearm length, elbow to hand (m)
    s1: float  # shoulder to upper-arm centre of mass (m)
    s2: float  # elbow to forearm centre of mass (m)
    i1: float  # upper-arm inertia about its centre of mass (kg m^2)
    i2: float  # forearm inertia about its centre of mass (kg m^2)
    b11: float  # joint viscosity matrix B (N m s / rad)
    b12: float
    b21: float
    b22: float
    dt: float = 0.01  # Euler step (s)

    @classmethod
    def monkey(cls, body_weight: float = 6.5, dt: float = 0.01) -> ArmParams:
        """Monkey upper limb, the thesis's plant (Sutskever 2013, sec. 6.6).

        Masses and inertias from the body-weight regressions of Cheng & Scott (2000),
        "Morphometry of Macaca mulatta forelimb. I. Shoulder and elbow muscles and segment
        inertial parameters", J. Morphology 245:206-224:
        upper arm ``0.001 (23 + 34.4 BW)`` kg, forearm ``0.001 (53 + 25.2 BW)`` kg,
        inertias about the centre of mass ``1e-7 (432 + 356.6 BW)`` and
        ``1e-7 (2381 + 861.6 BW)`` kg m^2; lengths 0.177 and 0.2035 m; centres of mass at
        0.247 and 0.248 of each segment's length from its proximal joint.
        Viscosity ``B = [[0.03, 0.01], [0.01, 0.03]]`` as in Li & Todorov (2004).
        """
        if not (body_weight > 0 and math.isfinite(body_weight)):
            raise ValueError(f"body_weight must be a positive finite mass in kg, got {body_weight!r}")
        l1, l2 = 0.177, 0.2035
        return cls(
            m1=0.001 * (23 + 34.4 * body_weight),
            m2=0.001 * (53 + 25.2 * body_weight),
            l1=l1,
            l2=l2,
            s1=0.247 * l1,
            s2=0.248 * l2,
            i1=1e-7 * (432 + 356.6 * body_weight),
            i2=1e-7 * (2381 + 861.6 * body_weight),
            b11=0.03,
            b12=0.01,
            b21=0.01,
            b22=0.03,
            dt=dt,
        )

    @classmethod
    def human(cls, dt: float = 0.01) -> ArmParams:
        """Human arm of Li & Todorov (2004), "Iterative linear quadratic regulator design
        for nonlinear biological movement systems", ICINCO.

        m = (1.4, 1.0) kg, l = (0.30, 0.33) m, s = (0.11, 0.16) m. The published inertias
        (0.025, 0.045) kg m^2 are about the *joint axes*; about the centres of mass they are
        ``I = I_joint - m s^2``. Viscosity ``B = [[0.05, 0.025], [0.025, 0.05]]``.
        """
        m1, m2, s1, s2 = 1.4, 1.0, 0.11, 0.16
        return cls(
            m1=m1,
            m2=m2,
            l1=0.30,
            l2=0.33,
            s1=s1,
            s2=s2,
            i1=0.025 - m1 * s1**2,
            i2=0.045 - m2 * s2**2,
            b11=0.05,
            b12=0.025,
            b21=0.025,
            b22=0.05,
            dt=dt,
        )

    @classmethod
    def preset(cls, name: str) -> ArmParams:
        """``'monkey'`` or ``'human'``."""
        presets = {"monkey": cls.monkey, "human": cls.human}
        if name not in presets:
            raise ValueError(f"unknown arm preset {name!r}; expected one of {sorted(presets)}")
        return presets[name]()

    def validate(self) -> ArmParams:
        """Raise ``ValueError`` naming the first non-finite or non-physical parameter."""
        for field, value in zip(self._fields, self, strict=True):
            if not math.isfinite(float(value)):
                raise ValueError(f"ArmParams.{field} must be finite, got {value!r}")
        for field in ("m1", "m2", "l1", "l2", "i1", "i2", "dt"):
            if float(getattr(self, field)) <= 0:
                raise ValueError(f"ArmParams.{field} must be > 0, got {getattr(self, field)!r}")
        for field in ("s1", "s2"):
            if float(getattr(self, field)) < 0:
                raise ValueError(f"ArmParams.{field} must be >= 0, got {getattr(self, field)!r}")
        return self

    @property
    def reach(self) -> float:
        """Fully extended arm length l1 + l2 (m)."""
        return self.l1 + self.l2

    @property
    def viscosity(self) -> jnp.ndarray:
        """Joint viscosity matrix B, shape (2, 2)."""
        return jnp.array([[self.b11, self.b12], [self.b21, self.b22]])


STATE_DIM = 4
CONTROL_DIM = 2


def mass_matrix(params: ArmParams, q: jnp.ndarray) -> jnp.ndarray:
    """Inertia matrix M(q), shape ``q.shape[:-1] + (2, 2)``. Symmetric positive definite."""
    p = params
    c2 = jnp.cos(q[..., 1])
    m22 = jnp.broadcast_to(p.i2 + p.m2 * p.s2**2, c2.shape)
    m12 = p.i2 + p.m2 * (p.s2**2 + p.l1 * p.s2 * c2)
    m11 = p.i1 + p.i2 + p.m1 * p.s1**2 + p.m2 * (p.l1**2 + p.s2**2 + 2 * p.l1 * p.s2 * c2)
    row1 = jnp.stack([m11, m12], axis=-1)
    row2 = jnp.stack([m12, m22], axis=-1)
    return jnp.stack([row1, row2], axis=-2)


def coriolis(params: ArmParams, q: jnp.ndarray, dq: jnp.ndarray) -> jnp.ndarray:
    """Centripetal and Coriolis torques ``C(q, dq) dq``, shape ``q.shape``."""
    h = params.m2 * params.l1 * params.s2 * jnp.sin(q[..., 1])
    dq1, dq2 = dq[..., 0], dq[..., 1]
    return jnp.stack([-h * dq2 * (2 * dq1 + dq2), h * dq1**2], axis=-1)


def joint_acceleration(params: ArmParams, q: jnp.ndarray, dq: jnp.ndarray, tau: jnp.ndarray) -> jnp.ndarray:
    """``ddq = M(q)^-1 (tau - C(q, dq) dq - B dq)``."""
    rhs = tau - coriolis(params, q, dq) - dq @ params.viscosity.T
    m = mass_matrix(params, q)
    # Closed-form 2x2 solve: cheaper than a batched LU and exactly differentiable.
    det = m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0]
    a1 = (m[..., 1, 1] * rhs[..., 0] - m[..., 0, 1] * rhs[..., 1]) / det
    a2 = (m[..., 0, 0] * rhs[..., 1] - m[..., 1, 0] * rhs[..., 0]) / det
    return jnp.stack([a1, a2], axis=-1)


def step(params: ArmParams, x: jnp.ndarray, tau: jnp.ndarray) -> jnp.ndarray:
    """One Euler step of length ``params.dt`` under joint torques ``tau``.

    Semi-implicit (symplectic) Euler: the velocity is updated first and the new velocity
    moves the angles. This is what MuJoCo's ``Euler`` integrator does (with implicit
    damping switched off), which lets the MJCF model cross-check this plant step for step,
    and it keeps the undamped arm's energy bounded instead of growing each step.
    """
    q, dq = x[..., :2], x[..., 2:]
    dq_next = dq + params.dt * joint_acceleration(params, q, dq, tau)
    q_next = q + params.dt * dq_next
    return jnp.concatenate([q_next, dq_next], axis=-1)


def kinetic_energy(params: ArmParams, x: jnp.ndarray) -> jnp.ndarray:
    """``dq^T M(q) dq / 2`` (J)."""
    q, dq = x[..., :2], x[..., 2:]
    return 0.5 * jnp.einsum("...i,...ij,...j->...", dq, mass_matrix(params, q), dq)


def joint_positions(params: ArmParams, q: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Elbow and hand positions (m) in the shoulder frame, each shape ``q.shape``."""
    q1, q12 = q[..., 0], q[..., 0] + q[..., 1]
    elbow = jnp.stack([params.l1 * jnp.cos(q1), params.l1 * jnp.sin(q1)], axis=-1)
    hand = elbow + jnp.stack([params.l2 * jnp.cos(q12), params.l2 * jnp.sin(q12)], axis=-1)
    return elbow, hand


def forward_kinematics(params: ArmParams, q: jnp.ndarray) -> jnp.ndarray:
    """Hand position (m) for joint angles ``q``."""
    return joint_positions(params, q)[1]


def hand_jacobian(params: ArmParams, q: jnp.ndarray) -> jnp.ndarray:
    """``d hand / d q``, shape ``q.shape[:-1] + (2, 2)``."""
    q1, q12 = q[..., 0], q[..., 0] + q[..., 1]
    s1, c1 = jnp.sin(q1), jnp.cos(q1)
    s12, c12 = jnp.sin(q12), jnp.cos(q12)
    l1, l2 = params.l1, params.l2
    row_x = jnp.stack([-l1 * s1 - l2 * s12, -l2 * s12], axis=-1)
    row_y = jnp.stack([l1 * c1 + l2 * c12, l2 * c12], axis=-1)
    return jnp.stack([row_x, row_y], axis=-2)


def hand_velocity(params: ArmParams, x: jnp.ndarray) -> jnp.ndarray:
    """Hand velocity (m/s) ``J(q) dq``."""
    return jnp.einsum("...ij,...j->...i", hand_jacobian(params, x[..., :2]), x[..., 2:])


def hand_force_to_torque(params: ArmParams, q: jnp.ndarray, force: jnp.ndarray) -> jnp.ndarray:
    """Joint torques ``J(q)^T F`` equivalent (by virtual work) to hand force ``F`` (N)."""
    return jnp.einsum("...ji,...j->...i", hand_jacobian(params, q), force)


def is_reachable(params: ArmParams, hand: jnp.ndarray, margin: float = 0.0) -> jnp.ndarray:
    """Whether hand positions lie in the annulus ``|l1 - l2| + margin <= r <= l1 + l2 - margin``."""
    r = jnp.linalg.norm(hand, axis=-1)
    return (r >= abs(params.l1 - params.l2) + margin) & (r <= params.l1 + params.l2 - margin)


def inverse_kinematics(params: ArmParams, hand: jnp.ndarray) -> jnp.ndarray:
    """Joint angles reaching hand position ``hand`` with the elbow down (``q2 >= 0``).

    Unreachable points give NaN under tracing; check with :func:`is_reachable` (the tasks
    validate their targets at construction and raise a clear error).
    """
    x, y = hand[..., 0], hand[..., 1]
    l1, l2 = params.l1, params.l2
    c2 = (x**2 + y**2 - l1**2 - l2**2) / (2 * l1 * l2)
    q2 = jnp.arccos(c2)
    q1 = jnp.arctan2(y, x) - jnp.arctan2(l2 * jnp.sin(q2), l1 + l2 * jnp.cos(q2))
    return jnp.stack([q1, q2], axis=-1)
