"""The two-joint planar arm: parameters, equations of motion, Euler step, kinematics.

This module is the *only* implementation of the arm's physics. The world step
(:mod:`armctl.world`), and through it the differentiable rollout, the Gymnasium environments,
iLQR and the benchmarks, all call these functions.

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

**One source, three kinds of numbers.** The equations are written once, on the components
of each vector, with ``+ - * /`` and the few elementwise functions of an injected namespace
``xp`` (``cos``, ``sin``, ...). The same functions therefore run on

* JAX arrays and tracers (any leading batch shape; ``jit``, ``vmap``, ``grad`` and ``jvp`` work
  through them): the rollout, iLQR and the vector env;
* NumPy arrays: task construction, rendering, plots;
* plain Python floats, a vector being a tuple of floats: the single Gymnasium env, whose one-arm
  step would otherwise be dominated by array-dispatch overhead;
* traced Python numbers (:mod:`armctl.scalar_trace`), which write down what the equations compute
  on floats: ``compile_scalar`` turns a function of Python floats into straight-line Python once,
  so the single env's step runs without the calls and look-ups between its float operations.

:func:`namespace_of` picks the namespace from the arguments; this module never imports JAX
itself, so ``import armctl`` and the single env do not pay JAX's import time.
"""

from __future__ import annotations

import math
import operator
from typing import NamedTuple

import numpy as np


# ----- the namespaces the equations run on ---------------------------------------------------
class ScalarMath:
    """Elementwise math on Python floats; a vector is a tuple of its components."""

    cos = staticmethod(math.cos)
    sin = staticmethod(math.sin)
    sqrt = staticmethod(math.sqrt)
    arccos = staticmethod(math.acos)
    arctan2 = staticmethod(math.atan2)
    isfinite = staticmethod(math.isfinite)
    logical_not = staticmethod(operator.not_)

    @staticmethod
    def where(condition, if_true, if_false):
        return if_true if condition else if_false

    @staticmethod
    def where_lazy(condition, if_true, if_false):
        """``where`` of two callables, calling only the one the condition picks."""
        return if_true() if condition else if_false()

    @staticmethod
    def clip(value, low, high):
        return min(max(value, low), high)

    #: A vector of floats is the tuple of its components (``tuple`` hands a tuple back as is).
    components = staticmethod(tuple)

    @staticmethod
    def vector(*components) -> tuple:
        return components

    @staticmethod
    def stack(rows, axis=-2) -> tuple:
        """A matrix as the tuple of its rows."""
        return tuple(rows)

    #: Row ``t`` of a per-step table (a list of rows): ``table[t]``.
    at_step = staticmethod(operator.getitem)

    @staticmethod
    def zeros_like(value):
        return type(value)()  # the zero of the value's type: 0, 0.0 or False


class ArrayMath:
    """Elementwise math on NumPy or JAX arrays whose last axis holds a vector's components.

    Every name the wrapped module has (``cos``, ``where``, ``sum``, ``linalg``, ...) is the
    module's own; the methods below add the vector operations :class:`ScalarMath` also has.
    """

    def __init__(self, module):
        self.module = module

    def __getattr__(self, name):
        return getattr(self.module, name)

    def components(self, vector) -> tuple:
        if isinstance(vector, tuple):  # already components (a vector of floats among arrays)
            return vector
        vector = self.module.asarray(vector)
        return tuple(vector[..., i] for i in range(vector.shape[-1]))

    def vector(self, *components):
        return self.module.stack(self.module.broadcast_arrays(*components), axis=-1)

    def where_lazy(self, condition, if_true, if_false):
        """``where`` of two callables (arrays need both; floats call only the one picked)."""
        return self.module.where(condition, if_true(), if_false())

    def at_step(self, table, t):
        """Row ``t`` of a per-step table ``(..., T, k)``; ``t`` is one step or one per episode."""
        t = self.module.broadcast_to(t, table.shape[:-2])
        return self.module.take_along_axis(table, t[..., None, None], axis=-2)[..., 0, :]


SCALAR = ScalarMath()
NUMPY = ArrayMath(np)
_ARRAY_MATH = {np: NUMPY}
_PLAIN = (tuple, list, float, int, bool)


def namespace_of(*values):
    """The namespace for these values: JAX's if any is a JAX array or tracer, else NumPy's if
    any is a NumPy array or scalar, else :data:`SCALAR` (Python floats, vectors as tuples,
    per-step tables as lists of rows)."""
    found = SCALAR
    for value in values:
        if type(value) in _PLAIN or value is None:
            continue
        traced = getattr(value, "scalar_namespace", None)  # a stand-in of armctl.scalar_trace
        if traced is not None:
            return traced
        module = value.__array_namespace__() if hasattr(value, "__array_namespace__") else np
        if module is not np:
            if module not in _ARRAY_MATH:
                _ARRAY_MATH[module] = ArrayMath(module)
            return _ARRAY_MATH[module]
        found = NUMPY
    return found


# ----- parameters ------------------------------------------------------------------------------
class _ArmFields(NamedTuple):
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


def _concrete(values) -> bool:
    """Whether these are parameter values to check: real numbers, not all integers (JAX rebuilds
    an ArmParams from tracers inside ``jit``, and ``vmap``'s ``in_axes`` spells one with ints and
    ``None``; neither is an arm)."""
    numbers = [
        v for v in values if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
    ]
    return len(numbers) == len(values) and not all(isinstance(v, int | np.integer) for v in numbers)


class ArmParams(_ArmFields):
    """Physical parameters of the arm (SI units). A pytree of floats.

    Use the presets :meth:`monkey` (default) or :meth:`human`. Built from numbers, an
    ``ArmParams`` checks itself (:meth:`validate`): a zero mass, a negative length or ``dt = 0``
    raise ``ValueError`` naming the field here, not as NaN in a rollout later.
    """

    __slots__ = ()

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls, *args, **kwargs)
        if _concrete(tuple(self)):
            self.validate()
        return self

    @classmethod
    def _make(cls, iterable) -> ArmParams:  # NamedTuple's _make (and _replace) bypass __new__
        return cls(*iterable)

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
        """Raise ``ValueError`` naming the first non-finite or non-physical parameter.

        Checked: every field finite; masses, lengths, inertias and ``dt`` positive; each centre
        of mass on its segment (``0 <= s <= l``); the viscosity matrix B positive semidefinite (its
        symmetric part, the one that dissipates energy ``dq^T B dq``); and a time step within
        the integrator's stable range, ``dt <= 1 / viscous_rate()``.

        The time-step bound: linearized about a posture, the viscous part of the velocity
        update of :func:`step` is ``dq' = (I - dt M(q)^-1 B) dq``, stable while
        ``dt * |lambda| < 2`` for every eigenvalue ``lambda`` of ``M^-1 B`` (real and positive
        for a symmetric positive-definite B). The bound asks for half of that,
        ``dt * max_q |lambda| <= 1``: at that point viscosity stops a joint within one step,
        and beyond it the Euler step overshoots, reversing the motion each step, which
        viscosity never does. The margin also leaves room for what the linearization leaves
        out: the velocity-dependent Coriolis and centripetal forces, which add to the
        effective damping. The presets allow ``dt`` up to 18.8 ms (monkey) and 291 ms (human).
        """
        for field, value in zip(self._fields, self, strict=True):
            if not math.isfinite(float(value)):
                raise ValueError(f"ArmParams.{field} must be finite, got {value!r}")
        for field in ("m1", "m2", "l1", "l2", "i1", "i2", "dt"):
            if float(getattr(self, field)) <= 0:
                raise ValueError(f"ArmParams.{field} must be > 0, got {getattr(self, field)!r}")
        for s, l in (("s1", "l1"), ("s2", "l2")):
            if not 0 <= float(getattr(self, s)) <= float(getattr(self, l)):
                raise ValueError(
                    f"ArmParams.{s} (joint to centre of mass) must lie in [0, {l} = {getattr(self, l)!r}], "
                    f"got {getattr(self, s)!r}"
                )
        b_sym = 0.5 * (self.viscosity + self.viscosity.T)
        if not np.all(np.linalg.eigvalsh(b_sym) >= 0):
            raise ValueError(
                "the viscosity matrix B = [[b11, b12], [b21, b22]] must be positive semidefinite (its "
                "symmetric part dissipates energy; B = 0 is a frictionless arm), got "
                f"[[{self.b11!r}, {self.b12!r}], [{self.b21!r}, {self.b22!r}]]"
            )
        rate = self.viscous_rate()
        if self.dt * rate > 1:
            raise ValueError(
                f"ArmParams.dt = {self.dt!r} s is too long for this arm's viscosity: the Euler step needs "
                f"dt <= 1 / max eig(M^-1 B) = {1 / rate:.4g} s (see ArmParams.validate)"
            )
        return self

    def viscous_rate(self) -> float:
        """Largest ``|eigenvalue|`` (1/s) of ``M(q)^-1 B`` over all elbow angles: the fastest
        viscous decay of a joint velocity. ``M`` depends on ``cos q2`` only, sampled densely."""
        cos_q2 = np.linspace(-1.0, 1.0, 181)
        m11, m12, m22 = mass_entries(self, cos_q2)
        m = np.stack([np.stack([m11, m12], -1), np.stack([m12, np.broadcast_to(m22, m11.shape)], -1)], -2)
        return float(np.max(np.abs(np.linalg.eigvals(np.linalg.solve(m, self.viscosity)))))

    @property
    def reach(self) -> float:
        """Fully extended arm length l1 + l2 (m)."""
        return self.l1 + self.l2

    @property
    def viscosity(self) -> np.ndarray:
        """Joint viscosity matrix B, shape (2, 2)."""
        return np.array([[self.b11, self.b12], [self.b21, self.b22]])

    @property
    def max_joint_speed(self) -> float:
        """``1 / dt`` rad/s (100 rad/s at dt = 10 ms): the edge of the range the plant model holds in.

        The arm is torque driven without muscle dynamics, so only viscosity limits its speed,
        and full torque can spin it up without end (the human arm at the default torque
        limit passes 100 rad/s within 0.2 s and overflows soon after). A joint faster
        than ``1 / dt`` turns more than a radian within one Euler step, over which the step
        holds the angle-dependent inertia and Coriolis forces fixed, so the discrete model no
        longer resolves the motion; and it is far outside a real arm's range (primate reaching
        peaks at a few rad/s; the fastest human joint rotation, a pitcher's shoulder, at about
        120 rad/s). The Gymnasium envs end an episode whose arm exceeds it
        (:func:`armctl.world.diverged`).
        """
        return 1.0 / self.dt


STATE_DIM = 4
CONTROL_DIM = 2


# ----- the equations, on components ------------------------------------------------------------
def mass_entries(p: ArmParams, cos_q2):
    """``(M11, M12, M22)`` of the inertia matrix for ``cos q2`` (M22 does not depend on it)."""
    m22 = p.i2 + p.m2 * p.s2**2
    m12 = p.i2 + p.m2 * (p.s2**2 + p.l1 * p.s2 * cos_q2)
    m11 = p.i1 + p.i2 + p.m1 * p.s1**2 + p.m2 * (p.l1**2 + p.s2**2 + 2 * p.l1 * p.s2 * cos_q2)
    return m11, m12, m22


def coriolis_components(p: ArmParams, q2, dq1, dq2, xp):
    """``C(q, dq) dq``: the centripetal and Coriolis torques on the two joints."""
    h = p.m2 * p.l1 * p.s2 * xp.sin(q2)
    return -h * dq2 * (2 * dq1 + dq2), h * dq1**2


def acceleration_components(p: ArmParams, x: tuple, tau: tuple, xp) -> tuple:
    """``ddq = M(q)^-1 (tau - C(q, dq) dq - B dq)`` for the state and torque components."""
    _, q2, dq1, dq2 = x
    c1, c2 = coriolis_components(p, q2, dq1, dq2, xp)
    r1 = tau[0] - c1 - (p.b11 * dq1 + p.b12 * dq2)
    r2 = tau[1] - c2 - (p.b21 * dq1 + p.b22 * dq2)
    m11, m12, m22 = mass_entries(p, xp.cos(q2))
    # Closed-form 2x2 solve: cheaper than a batched LU and exactly differentiable.
    det = m11 * m22 - m12 * m12
    return (m22 * r1 - m12 * r2) / det, (m11 * r2 - m12 * r1) / det


def step_components(p: ArmParams, x: tuple, tau: tuple, xp) -> tuple:
    """One semi-implicit Euler step (see :func:`step`) on the components."""
    a1, a2 = acceleration_components(p, x, tau, xp)
    dq1, dq2 = x[2] + p.dt * a1, x[3] + p.dt * a2
    return x[0] + p.dt * dq1, x[1] + p.dt * dq2, dq1, dq2


def position_components(p: ArmParams, q1, q2, xp) -> tuple:
    """``(elbow_x, elbow_y, hand_x, hand_y)`` (m) in the shoulder frame."""
    q12 = q1 + q2
    ex, ey = p.l1 * xp.cos(q1), p.l1 * xp.sin(q1)
    return ex, ey, ex + p.l2 * xp.cos(q12), ey + p.l2 * xp.sin(q12)


def jacobian_components(p: ArmParams, q1, q2, xp) -> tuple:
    """``d hand / d q`` as ``((dx/dq1, dx/dq2), (dy/dq1, dy/dq2))``."""
    q12 = q1 + q2
    s1, c1 = xp.sin(q1), xp.cos(q1)
    s12, c12 = xp.sin(q12), xp.cos(q12)
    return (-p.l1 * s1 - p.l2 * s12, -p.l2 * s12), (p.l1 * c1 + p.l2 * c12, p.l2 * c12)


def force_torque_components(p: ArmParams, q1, q2, f1, f2, xp) -> tuple:
    """Joint torques ``J(q)^T F`` of the hand force ``(f1, f2)`` (N)."""
    (jx1, jx2), (jy1, jy2) = jacobian_components(p, q1, q2, xp)
    return jx1 * f1 + jy1 * f2, jx2 * f1 + jy2 * f2


# ----- the same equations on vectors: arrays (..., k) or tuples of floats -----------------------
def _parts(xp, name: str, value, n: int) -> tuple:
    """The ``n`` components of the vector argument ``name``; ``ValueError`` naming it otherwise."""
    parts = xp.components(value)
    if len(parts) != n:
        shape = getattr(value, "shape", None)
        got = f"shape {tuple(shape)}" if shape is not None else f"{len(parts)} components"
        raise ValueError(f"{name} must have {n} components (the last axis of an array), got {got}")
    return parts


def _angles(xp, q) -> tuple:
    """``(q1, q2)`` of joint angles, or of a state whose first two components are the angles."""
    parts = xp.components(q)
    if len(parts) not in (2, 4):
        shape = getattr(q, "shape", None)
        got = f"shape {tuple(shape)}" if shape is not None else f"{len(parts)} components"
        raise ValueError(f"q must hold the 2 joint angles (or a 4-component state), got {got}")
    return parts[:2]


def mass_matrix(params: ArmParams, q):
    """Inertia matrix M(q), shape ``q.shape[:-1] + (2, 2)``. Symmetric positive definite."""
    xp = namespace_of(q)
    m11, m12, m22 = mass_entries(params, xp.cos(_parts(xp, "q", q, 2)[1]))
    return xp.stack([xp.vector(m11, m12), xp.vector(m12, m22)], axis=-2)


def coriolis(params: ArmParams, q, dq):
    """Centripetal and Coriolis torques ``C(q, dq) dq``, shape ``q.shape``."""
    xp = namespace_of(q, dq)
    dq1, dq2 = _parts(xp, "dq", dq, 2)
    return xp.vector(*coriolis_components(params, _parts(xp, "q", q, 2)[1], dq1, dq2, xp))


def joint_acceleration(params: ArmParams, q, dq, tau):
    """``ddq = M(q)^-1 (tau - C(q, dq) dq - B dq)``."""
    xp = namespace_of(q, dq, tau)
    x = _parts(xp, "q", q, 2) + _parts(xp, "dq", dq, 2)
    return xp.vector(*acceleration_components(params, x, _parts(xp, "tau", tau, 2), xp))


def step(params: ArmParams, x, tau):
    """One Euler step of length ``params.dt`` under joint torques ``tau``.

    Semi-implicit (symplectic) Euler: the velocity is updated first and the new velocity
    moves the angles. This is what MuJoCo's ``Euler`` integrator does (with implicit
    damping switched off), which lets the MJCF model cross-check this plant step for step,
    and it keeps the undamped arm's energy bounded instead of growing each step.
    """
    xp = namespace_of(x, tau)
    return xp.vector(*step_components(params, _parts(xp, "x", x, 4), _parts(xp, "tau", tau, 2), xp))


def kinetic_energy(params: ArmParams, x):
    """``dq^T M(q) dq / 2`` (J)."""
    xp = namespace_of(x)
    _, q2, dq1, dq2 = _parts(xp, "x", x, 4)
    m11, m12, m22 = mass_entries(params, xp.cos(q2))
    return 0.5 * (m11 * dq1**2 + 2 * m12 * dq1 * dq2 + m22 * dq2**2)


def joint_positions(params: ArmParams, q):
    """Elbow and hand positions (m) in the shoulder frame, each shape ``q.shape``."""
    xp = namespace_of(q)
    ex, ey, hx, hy = position_components(params, *_angles(xp, q), xp)
    return xp.vector(ex, ey), xp.vector(hx, hy)


def forward_kinematics(params: ArmParams, q):
    """Hand position (m) for joint angles ``q``."""
    return joint_positions(params, q)[1]


def hand_jacobian(params: ArmParams, q):
    """``d hand / d q``, shape ``q.shape[:-1] + (2, 2)``."""
    xp = namespace_of(q)
    row_x, row_y = jacobian_components(params, *_angles(xp, q), xp)
    return xp.stack([xp.vector(*row_x), xp.vector(*row_y)], axis=-2)


def hand_velocity(params: ArmParams, x, xp=None):
    """Hand velocity (m/s) ``J(q) dq``; ``xp`` (:func:`namespace_of`) is found from ``x`` when not given."""
    xp = xp or namespace_of(x)
    q1, q2, dq1, dq2 = _parts(xp, "x", x, 4)
    (jx1, jx2), (jy1, jy2) = jacobian_components(params, q1, q2, xp)
    return xp.vector(jx1 * dq1 + jx2 * dq2, jy1 * dq1 + jy2 * dq2)


def hand_force_to_torque(params: ArmParams, q, force):
    """Joint torques ``J(q)^T F`` equivalent (by virtual work) to hand force ``F`` (N)."""
    xp = namespace_of(q, force)
    return xp.vector(*force_torque_components(params, *_angles(xp, q), *_parts(xp, "force", force, 2), xp))


def is_reachable(params: ArmParams, hand, margin: float = 0.0):
    """Whether hand positions lie in the annulus ``|l1 - l2| + margin <= r <= l1 + l2 - margin``."""
    xp = namespace_of(hand)
    x, y = _parts(xp, "hand", hand, 2)
    r = xp.sqrt(x**2 + y**2)
    return (r >= abs(params.l1 - params.l2) + margin) & (r <= params.l1 + params.l2 - margin)


def inverse_kinematics(params: ArmParams, hand):
    """Joint angles reaching hand position ``hand`` with the elbow down (``q2 >= 0``).

    Unreachable points give NaN (arrays) or raise (floats); check with :func:`is_reachable`
    (the tasks validate their targets at construction and raise a clear error).
    """
    xp = namespace_of(hand)
    x, y = _parts(xp, "hand", hand, 2)
    l1, l2 = params.l1, params.l2
    q2 = xp.arccos((x**2 + y**2 - l1**2 - l2**2) / (2 * l1 * l2))
    q1 = xp.arctan2(y, x) - xp.arctan2(l2 * xp.sin(q2), l1 + l2 * xp.cos(q2))
    return xp.vector(q1, q2)
