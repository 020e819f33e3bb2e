"""Physics invariants of the arm plant."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from armctl import plant
from armctl.plant import ArmParams

PRESETS = [ArmParams.monkey(), ArmParams.human()]


@pytest.mark.parametrize("arm", PRESETS, ids=["monkey", "human"])
def test_mass_matrix_symmetric_positive_definite_on_dense_grid(arm):
    q2 = np.concatenate([np.linspace(-np.pi, np.pi, 721), [0.0, 1e-6, np.pi - 1e-6, np.pi, -np.pi]])
    q = np.stack([np.zeros_like(q2), q2], axis=-1)
    with jax.enable_x64(True):
        m = np.asarray(plant.mass_matrix(arm, jnp.asarray(q)))
    np.testing.assert_array_equal(m, np.swapaxes(m, -1, -2))
    eig = np.linalg.eigvalsh(m)
    assert eig.min() > 0
    # The closed-form determinant of the centre-of-mass form is bounded away from zero.
    det_min = (arm.i1 + arm.m1 * arm.s1**2) * (arm.i2 + arm.m2 * arm.s2**2) + arm.i2 * arm.m2 * arm.l1**2
    np.testing.assert_allclose(np.linalg.det(m).min(), det_min, rtol=1e-9)


def test_monkey_preset_follows_cheng_scott_regressions():
    arm = ArmParams.monkey(body_weight=10.0)
    assert arm.m1 == pytest.approx(0.001 * (23 + 344))
    assert arm.m2 == pytest.approx(0.001 * (53 + 252))
    assert arm.i1 == pytest.approx(1e-7 * (432 + 3566))
    assert arm.i2 == pytest.approx(1e-7 * (2381 + 8616))
    assert arm.s1 == pytest.approx(0.247 * 0.177) and arm.s2 == pytest.approx(0.248 * 0.2035)


def test_human_preset_inertias_about_joint_axes_match_li_todorov():
    arm = ArmParams.human()
    assert arm.i1 + arm.m1 * arm.s1**2 == pytest.approx(0.025)
    assert arm.i2 + arm.m2 * arm.s2**2 == pytest.approx(0.045)


def _free_motion_energy_drift(arm, dt, seconds=0.5):
    arm = arm._replace(b11=0.0, b12=0.0, b21=0.0, b22=0.0, dt=dt)
    x0 = jnp.array([0.3, 1.2, 2.0, -3.0])
    steps = int(round(seconds / dt))

    def body(x, _):
        x = plant.step(arm, x, jnp.zeros(2))
        return x, plant.kinetic_energy(arm, x)

    _, energy = jax.lax.scan(body, x0, None, length=steps)
    e0 = plant.kinetic_energy(arm, x0)
    return float(jnp.max(jnp.abs(energy - e0)) / e0)


def test_undamped_free_motion_conserves_energy_up_to_euler_error():
    with jax.enable_x64(True):
        drifts = [_free_motion_energy_drift(ArmParams.monkey(), dt) for dt in (1e-3, 5e-4, 2.5e-4)]
    assert drifts[0] < 0.05
    # First-order method: halving dt roughly halves the energy error.
    assert drifts[1] < 0.65 * drifts[0] and drifts[2] < 0.65 * drifts[1]


def test_viscosity_dissipates_energy():
    arm = ArmParams.monkey()
    x = jnp.array([0.3, 1.2, 2.0, -3.0])
    e = [float(plant.kinetic_energy(arm, x))]
    for _ in range(50):
        x = plant.step(arm, x, jnp.zeros(2))
        e.append(float(plant.kinetic_energy(arm, x)))
    assert e[-1] < 0.5 * e[0]


def test_step_matches_equations_of_motion():
    arm = ArmParams.human()
    x = jnp.array([0.4, 1.1, 0.7, -0.5])
    tau = jnp.array([0.3, -0.2])
    ddq = plant.joint_acceleration(arm, x[:2], x[2:], tau)
    # Residual of M ddq + C dq + B dq - tau.
    residual = (
        plant.mass_matrix(arm, x[:2]) @ ddq + plant.coriolis(arm, x[:2], x[2:]) + arm.viscosity @ x[2:] - tau
    )
    np.testing.assert_allclose(residual, 0.0, atol=1e-6)
    nxt = plant.step(arm, x, tau)
    np.testing.assert_allclose(nxt[2:], x[2:] + arm.dt * ddq, rtol=1e-6)
    np.testing.assert_allclose(nxt[:2], x[:2] + arm.dt * nxt[2:], rtol=1e-6)


def test_coriolis_matches_lagrangian_derivation():
    """C(q, dq) dq equals d/dt(dL/ddq) - dL/dq - M ddq computed by autodiff from the kinetic energy."""
    arm = ArmParams.monkey()
    with jax.enable_x64(True):
        q, dq = jnp.array([0.2, 0.9]), jnp.array([1.3, -0.7])
        ke = lambda q, dq: plant.kinetic_energy(arm, jnp.concatenate([q, dq]))
        dke_dq = jax.grad(ke, argnums=0)(q, dq)
        # d/dt (dKE/ddq) with ddq = 0 is (d/dq dKE/ddq) dq.
        mixed = jax.jacfwd(jax.grad(ke, argnums=1), argnums=0)(q, dq) @ dq
        np.testing.assert_allclose(mixed - dke_dq, plant.coriolis(arm, q, dq), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("arm", PRESETS, ids=["monkey", "human"])
def test_forward_inverse_kinematics_round_trip(arm):
    key = jax.random.PRNGKey(0)
    with jax.enable_x64(True):
        q = jax.random.uniform(
            key, (200, 2), minval=jnp.array([-np.pi, 0.05]), maxval=jnp.array([np.pi, 3.0])
        )
        hand = plant.forward_kinematics(arm, q)
        q_back = plant.inverse_kinematics(arm, hand)
        np.testing.assert_allclose(plant.forward_kinematics(arm, q_back), hand, atol=1e-10)
        # Elbow-down branch: the angles themselves come back (shoulder modulo 2 pi).
        np.testing.assert_allclose(q_back[:, 1], q[:, 1], atol=1e-8)
        np.testing.assert_allclose(np.cos(q_back[:, 0] - q[:, 0]), 1.0, atol=1e-10)


def test_hand_jacobian_is_derivative_of_forward_kinematics():
    arm = ArmParams.monkey()
    with jax.enable_x64(True):
        q = jnp.array([0.3, 1.4])
        np.testing.assert_allclose(
            plant.hand_jacobian(arm, q), jax.jacfwd(lambda q: plant.forward_kinematics(arm, q))(q), atol=1e-12
        )


def test_hand_force_torque_equals_virtual_work():
    """tau . dq == F . (J dq) for any virtual displacement dq."""
    arm = ArmParams.human()
    rng = np.random.default_rng(0)
    q, force, dq = rng.normal(size=2), rng.normal(size=2), rng.normal(size=2)
    tau = plant.hand_force_to_torque(arm, jnp.asarray(q), jnp.asarray(force))
    hand_disp = plant.hand_jacobian(arm, jnp.asarray(q)) @ dq
    assert float(tau @ dq) == pytest.approx(float(force @ hand_disp), rel=1e-5)


def test_dynamics_differentiable_under_jit_vmap_grad_jvp():
    arm = ArmParams.monkey()
    xs = jnp.tile(jnp.array([0.3, 1.2, 0.1, -0.1]), (5, 1))
    f = jax.jit(jax.vmap(lambda x, u: plant.step(arm, x, u)))
    assert f(xs, jnp.ones((5, 2))).shape == (5, 4)
    g = jax.grad(lambda u: jnp.sum(plant.step(arm, xs[0], u) ** 2))(jnp.ones(2))
    assert np.all(np.isfinite(g))
    _, tangent = jax.jvp(lambda u: plant.step(arm, xs[0], u), (jnp.ones(2),), (jnp.ones(2),))
    assert tangent.shape == (4,)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"m1": float("nan")}, "m1 must be finite"),
        ({"m2": 0.0}, r"m2 must be > 0, got 0.0"),
        ({"m1": -1.0}, r"m1 must be > 0, got -1.0"),
        ({"i2": -1e-4}, "i2 must be > 0"),
        ({"l2": -0.1}, "l2 must be > 0"),
        ({"dt": 0.0}, "dt must be > 0"),
        ({"s1": 0.3}, r"s1 \(joint to centre of mass\) must lie in \[0, l1 = 0.177\]"),
        ({"s2": -0.01}, r"s2 \(joint to centre of mass\) must lie in \[0, l2"),
        ({"b12": 0.05, "b21": 0.05}, "viscosity matrix B .* must be positive semidefinite"),
        ({"b11": 0.0}, "viscosity matrix B .* must be positive semidefinite"),
        ({"dt": 1.0}, r"dt = 1.0 s is too long .* dt <= 1 / max eig\(M\^-1 B\) = 0.01876 s"),
    ],
)
def test_bad_params_raise_naming_the_field(change, message):
    # At construction: _replace builds a new ArmParams, which checks itself.
    with pytest.raises(ValueError, match=message):
        ArmParams.monkey()._replace(**change)
    with pytest.raises(ValueError, match=message):
        ArmParams(**{**ArmParams.monkey()._asdict(), **change})


def test_arm_params_check_themselves_but_not_tracers_or_axis_specs():
    with pytest.raises(ValueError, match="dt must be > 0, got 0.0"):
        ArmParams.monkey(dt=0.0)
    with pytest.raises(ValueError, match="dt must be > 0"):
        ArmParams.human(dt=-0.01)
    frictionless = ArmParams.monkey()._replace(b11=0.0, b12=0.0, b21=0.0, b22=0.0)  # B = 0 is an arm
    assert frictionless.viscous_rate() == 0.0
    arm = ArmParams.monkey()
    # Inside jit the arm is rebuilt from tracers, and vmap's in_axes spell it with ints: no check.
    step = jax.jit(lambda p: plant.step(p, jnp.zeros(4), jnp.ones(2)))
    assert step(arm).shape == (4,)
    stacked = jax.tree_util.tree_map(lambda v: jnp.full(3, v), arm)
    spec = ArmParams(*[0] * len(arm))
    assert jax.vmap(lambda p: plant.step(p, jnp.zeros(4), jnp.ones(2)), in_axes=(spec,))(stacked).shape == (
        3,
        4,
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda a: plant.step(a, jnp.zeros(4), jnp.zeros(3)),
            r"tau must have 2 components .* got shape \(3,\)",
        ),
        (
            lambda a: plant.step(a, jnp.zeros(3), jnp.zeros(2)),
            r"x must have 4 components .* got shape \(3,\)",
        ),
        (
            lambda a: plant.step(a, (0.0, 0.0, 0.0, 0.0), (1.0,)),
            "tau must have 2 components .* got 1 components",
        ),
        (lambda a: plant.forward_kinematics(a, np.zeros(3)), "q must hold the 2 joint angles"),
        (lambda a: plant.mass_matrix(a, np.zeros(4)), "q must have 2 components"),
        (lambda a: plant.hand_force_to_torque(a, np.zeros(2), np.zeros(3)), "force must have 2 components"),
        (lambda a: plant.inverse_kinematics(a, np.zeros((5, 1))), r"hand must have 2 components .* \(5, 1\)"),
        (lambda a: plant.kinetic_energy(a, np.zeros(2)), "x must have 4 components"),
    ],
)
def test_plant_functions_refuse_vectors_of_the_wrong_size(call, message):
    with pytest.raises(ValueError, match=message):
        call(ArmParams.monkey())


def test_time_step_bound_is_where_viscosity_stops_a_joint_within_one_step():
    """At dt = 1 / max eig(M^-1 B) the linearized viscous velocity update stops the fastest mode in
    one step; twice that is where the Euler step goes unstable (the bound keeps a margin of 2)."""
    for arm in PRESETS:
        rate = arm.viscous_rate()
        arm._replace(dt=1 / rate).validate()
        with pytest.raises(ValueError, match="too long"):
            arm._replace(dt=1.01 / rate).validate()

        def update_eigenvalues(dt, arm=arm):  # of the linearized viscous velocity update, all postures
            eig = []
            for c2 in np.linspace(-1, 1, 181):
                m11, m12, m22 = plant.mass_entries(arm, c2)
                eig.append(
                    np.linalg.eigvals(
                        np.eye(2) - dt * np.linalg.solve([[m11, m12], [m12, m22]], arm.viscosity)
                    )
                )
            return np.real(np.array(eig))

        assert update_eigenvalues(1 / rate).min() == pytest.approx(0.0, abs=1e-9)  # reversal begins here
        assert np.abs(update_eigenvalues(1.9 / rate)).max() < 1 < np.abs(update_eigenvalues(2.1 / rate)).max()


def test_one_source_floats_numpy_and_jax_agree():
    """The same equations on Python floats (one arm), NumPy and JAX (float64): one step, the
    kinematics and the hand-force torques agree to float64 rounding."""
    rng = np.random.default_rng(0)
    arm = ArmParams.human()
    x = rng.uniform([-np.pi, 0.1, -10, -10], [np.pi, 3.0, 10, 10], (16, 4))
    tau, force = rng.normal(size=(16, 2)), rng.normal(size=(16, 2))
    with jax.enable_x64(True):
        by_jax = {
            "step": plant.step(arm, jnp.asarray(x), jnp.asarray(tau)),
            "hand": plant.forward_kinematics(arm, jnp.asarray(x[:, :2])),
            "torque": plant.hand_force_to_torque(arm, jnp.asarray(x[:, :2]), jnp.asarray(force)),
        }
    by_numpy = {
        "step": plant.step(arm, x, tau),
        "hand": plant.forward_kinematics(arm, x[:, :2]),
        "torque": plant.hand_force_to_torque(arm, x[:, :2], force),
    }
    floats = lambda a: tuple(float(v) for v in a)
    by_floats = {
        "step": [plant.step(arm, floats(xi), floats(ti)) for xi, ti in zip(x, tau, strict=True)],
        "hand": [plant.forward_kinematics(arm, floats(xi[:2])) for xi in x],
        "torque": [
            plant.hand_force_to_torque(arm, floats(xi[:2]), floats(fi))
            for xi, fi in zip(x, force, strict=True)
        ],
    }
    # float64 rounding (1e-16) through a few dozen operations of a well-conditioned step (det M is
    # bounded away from zero), in whatever order and fusion each backend picks.
    for name, ref in by_jax.items():
        assert isinstance(by_numpy[name], np.ndarray) and isinstance(by_floats[name][0], tuple)
        np.testing.assert_allclose(by_numpy[name], ref, rtol=1e-12, atol=1e-13, err_msg=name)
        np.testing.assert_allclose(np.array(by_floats[name]), ref, rtol=1e-12, atol=1e-13, err_msg=name)


def test_unknown_preset_raises():
    with pytest.raises(ValueError, match="unknown arm preset 'gorilla'"):
        ArmParams.preset("gorilla")
