"""The tasks and the differentiable rollout: gradients, delay, disturbance, noise, reproducibility, errors."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from armctl.controllers import ArmController
from armctl.controllers.table import CommandTable
from jax.flatten_util import ravel_pytree

from armctl import plant
from armctl.rollout import simulate
from armctl.tasks import DDN, CenterOut, Postural, RandomReach, TaskBatch, make_task
from armctl.world import WorldState, env_step, scalar_episode

SMALL = ArmController(hidden=(6, 5))
# One compiled rollout per (controller, task) configuration, shared by the tests.
sim = jax.jit(simulate, static_argnums=(0, 2))


def small_tasks():
    return [
        CenterOut(n_targets=3, horizon=6),
        Postural(horizon=8, delay=3),
        DDN(horizon=8, delay=2, batch_size=3),
        RandomReach(horizon=5, batch_size=2),
    ]


@pytest.mark.parametrize("task", small_tasks(), ids=lambda t: t.name)
def test_gradient_matches_finite_differences(task):
    with jax.enable_x64(True):
        params = SMALL.init_params(jax.random.PRNGKey(0))
        params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)
        batch = task.sample(jax.random.PRNGKey(1))
        if task.name == "postural":  # keep the 72-case batch small for finite differences
            batch = jax.tree_util.tree_map(lambda a: a[::24], batch)

        @jax.jit
        def loss(p):
            r = simulate(SMALL, p, task, batch)
            return task.loss(r.states, r.commands, batch.target)

        flat, unravel = ravel_pytree(params)
        grad = ravel_pytree(jax.grad(loss)(params))[0]
        rng = np.random.default_rng(0)
        for _ in range(3):
            d = jnp.asarray(rng.normal(size=flat.shape))
            eps = 1e-6
            fd = (loss(unravel(flat + eps * d)) - loss(unravel(flat - eps * d))) / (2 * eps)
            np.testing.assert_allclose(float(grad @ d), float(fd), rtol=1e-6, atol=1e-12)


def test_controller_sees_state_exactly_delay_steps_old():
    task = DDN(horizon=10, delay=3, batch_size=2)
    batch = task.sample(jax.random.PRNGKey(0))
    r = sim(FeedbackProbe(), jnp.zeros(()), task, batch)
    for t in range(task.horizon):
        # Before the first delayed observation arrives the controller sees the start state.
        np.testing.assert_array_equal(r.commands[:, t], r.states[:, max(t - task.delay, 0), 2:])


class FeedbackProbe:
    """Commands equal to the observed velocities: exposes exactly which state the controller saw."""

    def initial_state(self, params, batch_size):
        return ()

    def step(self, params, carry, observation, target):
        return carry, observation[:, 2:], ()

    def __hash__(self):
        return 1

    def __eq__(self, other):
        return isinstance(other, FeedbackProbe)


def test_disturbance_zero_before_onset_and_constant_after():
    task = DDN(horizon=12, delay=0, batch_size=4, command_noise_std=0.0)
    batch = task.sample(jax.random.PRNGKey(3))
    batch = batch._replace(onset=jnp.array([0, 3, 5, 11], jnp.int32))
    r = sim(CommandTable(task.horizon), jnp.zeros((task.horizon, 2)), task, batch)
    # With zero commands and no noise, the applied torque *is* the disturbance.
    for i, onset in enumerate([0, 3, 5, 11]):
        np.testing.assert_array_equal(r.torques[i, :onset], 0.0)
        np.testing.assert_allclose(
            r.torques[i, onset:], np.broadcast_to(batch.joint_disturbance[i], r.torques[i, onset:].shape)
        )


def test_postural_force_is_applied_through_the_jacobian():
    task = Postural(horizon=5, delay=1)
    batch = task.sample(jax.random.PRNGKey(0))
    r = sim(CommandTable(task.horizon), jnp.zeros((task.horizon, 2)), task, batch)
    expected = plant.hand_force_to_torque(task.arm, r.states[:, :-1, :2], batch.hand_force[:, None, :])
    np.testing.assert_allclose(r.torques, expected, rtol=1e-5, atol=1e-8)


def test_zero_command_gives_zero_multiplicative_noise():
    task = DDN(horizon=6, delay=2, batch_size=3, disturbance_std=0.0, command_noise_std=0.5)
    batch = task.sample(jax.random.PRNGKey(0))
    assert float(jnp.abs(batch.command_noise).max()) > 0
    r = sim(CommandTable(task.horizon), jnp.zeros((task.horizon, 2)), task, batch)
    np.testing.assert_array_equal(r.torques, 0.0)
    table = jnp.full((task.horizon, 2), 0.1)
    r = sim(CommandTable(task.horizon), table, task, batch)
    np.testing.assert_allclose(r.torques, 0.1 * (1 + batch.command_noise), rtol=1e-6)


def test_same_key_gives_identical_batch_and_rollout():
    task = DDN(horizon=10, batch_size=5)
    params = SMALL.init_params(jax.random.PRNGKey(0))
    b1, b2 = task.sample(jax.random.PRNGKey(7)), task.sample(jax.random.PRNGKey(7))
    for a, b in zip(b1, b2, strict=True):
        np.testing.assert_array_equal(a, b)
    r1, r2 = sim(SMALL, params, task, b1), sim(SMALL, params, task, b2)
    np.testing.assert_array_equal(r1.states, r2.states)
    b3 = task.sample(jax.random.PRNGKey(8))
    assert not np.array_equal(b1.x0, b3.x0)


def test_task_batches_follow_their_definitions():
    co = CenterOut(n_targets=8)
    b = co.sample(jax.random.PRNGKey(0))
    hands = plant.forward_kinematics(co.arm, b.target[:, :2])
    center = plant.forward_kinematics(co.arm, b.x0[:, :2])
    np.testing.assert_allclose(jnp.linalg.norm(hands - center, axis=-1), co.radius, rtol=1e-5)
    np.testing.assert_array_equal(b.target[:, 2:], 0.0)

    po = Postural()
    b = po.sample(jax.random.PRNGKey(0))
    assert b.size == 72 and len(np.unique(np.asarray(b.target[:, 0]))) == 9
    np.testing.assert_allclose(jnp.linalg.norm(b.hand_force, axis=-1), po.force, rtol=1e-6)
    np.testing.assert_array_equal(b.x0, b.target)

    ddn = DDN(batch_size=2000)
    b = ddn.sample(jax.random.PRNGKey(0))
    assert 0 <= int(b.onset.min()) and int(b.onset.max()) < ddn.horizon // 2
    assert float(jnp.std(b.joint_disturbance)) == pytest.approx(ddn.disturbance_std, rel=0.05)
    assert float(jnp.std(b.command_noise)) == pytest.approx(ddn.command_noise_std, rel=0.05)


def test_postural_cost_counts_velocity_only_in_second_half():
    task = Postural(horizon=10, delay=1)
    target = jnp.zeros((1, 4))
    x = jnp.array([[0.0, 0.0, 1.0, 0.0]])
    assert float(task.state_cost(x, target, 5)[0]) == 0.0
    assert float(task.state_cost(x, target, 6)[0]) == pytest.approx(0.5)


def test_metrics_report_hand_error_in_mm():
    task = CenterOut(n_targets=4)
    b = task.sample(jax.random.PRNGKey(0))
    states = jnp.repeat(b.x0[:, None], task.horizon + 1, axis=1)
    m = task.metrics(states, jnp.zeros((4, task.horizon, 2)), b.target)
    np.testing.assert_allclose(m["final_error_mm"], 1000 * task.radius, rtol=1e-4)
    np.testing.assert_array_equal(m["energy"], 0.0)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: make_task("reach-the-moon"), "unknown task 'reach-the-moon'"),
        (lambda: make_task("ddn", delays=3), r"unknown option\(s\) \['delays'\]"),
        (lambda: DDN(delay=-1), "delay must be an integer >= 0, got -1"),
        (lambda: DDN(delay=60), "delay must be smaller than the horizon"),
        (lambda: CenterOut(radius=0.5), "outside the arm's workspace"),
        (lambda: CenterOut(alpha=float("nan")), "alpha must be a finite number >= 0, got nan"),
        (lambda: CenterOut(arm=plant.ArmParams.monkey()._replace(m2=float("nan"))), "m2 must be finite"),
        (lambda: ArmController(hidden=(10,)), "hidden must be two positive layer sizes"),
    ],
)
def test_bad_configuration_raises_clear_error(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_wrong_batch_shape_raises_naming_the_field():
    task = CenterOut(n_targets=4)
    batch = task.sample(jax.random.PRNGKey(0))
    bad = batch._replace(command_noise=jnp.zeros((4, 7, 2)))
    with pytest.raises(
        ValueError, match=r"TaskBatch.command_noise has shape \(4, 7, 2\).*expects \(4, 40, 2\)"
    ):
        sim(SMALL, SMALL.init_params(jax.random.PRNGKey(0)), task, bad)
    with pytest.raises(TypeError, match="expected a TaskBatch"):
        sim(SMALL, SMALL.init_params(jax.random.PRNGKey(0)), task, tuple(batch))


def test_tasks_are_hashable_static_arguments():
    task = dataclasses.replace(DDN(), batch_size=3)
    f = jax.jit(lambda p, b, task: simulate(SMALL, p, task, b).states, static_argnums=2)
    out = f(SMALL.init_params(jax.random.PRNGKey(0)), task.sample(jax.random.PRNGKey(0)), task)
    assert out.shape == (3, task.horizon + 1, 4)
    assert isinstance(task.sample(jax.random.PRNGKey(0)), TaskBatch)


@pytest.mark.parametrize(
    "task",
    [Postural(horizon=8, delay=3, force=2.0), DDN(horizon=8, delay=2, batch_size=6, plant_noise_std=0.01)],
    ids=lambda t: t.name,
)
def test_world_step_on_floats_numpy_and_jax_agree(task):
    """One world step, three kinds of numbers: Python floats one arm at a time, NumPy arrays and
    JAX float64 arrays give the same state, observation, torque and costs (to float64 rounding)
    from random states, delay lines, times (before and after the disturbance's onset) and commands."""
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        batch = jax.tree_util.tree_map(np.asarray, task.sample(jax.random.PRNGKey(2)))
        batch = jax.tree_util.tree_map(
            lambda a: a[:6].astype(np.float64) if a.dtype.kind == "f" else a[:6], batch
        )
        n = batch.size
        x = rng.uniform([-np.pi, 0.1, -10, -10], [np.pi, 3.0, 10, 10], (n, 4))
        line = tuple(rng.normal(size=(n, 4)) for _ in range(task.delay + 1))
        t = rng.integers(0, task.horizon, n).astype(np.int32)
        t[-1] = task.horizon - 1  # the last step, where the final state cost falls due
        u = rng.normal(size=(n, 2))
        by_numpy = env_step(task, batch, WorldState(x, line, t), u)
        as_jax = lambda tree: jax.tree_util.tree_map(jnp.asarray, tree)
        by_jax = env_step(task, as_jax(batch), as_jax(WorldState(x, line, t)), jnp.asarray(u))
    for i in range(n):
        episode = scalar_episode(jax.tree_util.tree_map(lambda a, i=i: a[i : i + 1], batch))
        state = WorldState(tuple(x[i]), tuple(tuple(entry[i]) for entry in line), int(t[i]))
        by_floats = env_step(task, episode, state, tuple(u[i]))
        assert isinstance(by_floats[0].x, tuple) and isinstance(by_floats[0].t, int)
        for ref in (by_numpy, by_jax):
            for got, want in zip(_fields(by_floats), _fields(ref), strict=True):
                np.testing.assert_allclose(
                    got,
                    np.asarray(want)[..., i, :] if np.ndim(want) > 1 else np.asarray(want)[i],
                    rtol=1e-12,  # float64 rounding through a few dozen operations
                    atol=1e-13,
                )


def _fields(step_result):
    """state x, delay line (stacked), t, observation, torque, command cost, state cost."""
    state, obs, parts = step_result
    return state.x, np.stack([np.asarray(entry) for entry in state.line]), state.t, obs, *parts


def test_parameters_of_another_controller_raise_naming_the_mismatch():
    task = CenterOut(n_targets=3, horizon=6)
    batch = task.sample(jax.random.PRNGKey(0))
    other = ArmController(hidden=(7, 5)).init_params(jax.random.PRNGKey(0))
    with pytest.raises(
        ValueError,
        match=r"params\['layer1'\]\['b'\] has shape \(7,\); ArmController\(hidden=\(6, 5\).*expects \(6,\)",
    ):
        simulate(SMALL, other, task, batch)
    params = SMALL.init_params(jax.random.PRNGKey(0))
    with pytest.raises(
        ValueError,
        match=r"params do not fit ArmController.*missing \[\"\['out'\]\['b'\]\", \"\['out'\]\['w'\]\"\]",
    ):
        simulate(SMALL, {k: v for k, v in params.items() if k != "out"}, task, batch)
    # A command table per episode carries a leading batch axis: that fits.
    table = CommandTable(task.horizon)
    assert simulate(table, table.init_params(batch_size=3), task, batch).states.shape == (3, 7, 4)


def test_rematerialized_rollout_gives_the_same_loss_gradient_and_gauss_newton_product():
    from armctl.arm_problem import arm_problem
    from armctl.optim import gauss_newton_product

    task = DDN(horizon=11, delay=2, batch_size=4)
    params = SMALL.init_params(jax.random.PRNGKey(0))
    batch = task.sample(jax.random.PRNGKey(1))
    v = jax.tree_util.tree_map(jnp.ones_like, params)
    results = []
    for block in (0, 4):  # 4 does not divide 11: two blocks of 4 and a last one of 3

        def loss(p, block=block):
            r = simulate(SMALL, p, task, batch, remat_block=block)
            return task.loss(r.states, r.commands, batch.target)

        value, grad = jax.jit(jax.value_and_grad(loss))(params)
        gv = gauss_newton_product(
            arm_problem(SMALL, task, block), params, batch, damping=0.1, structural=0.3
        )(v)
        results.append((value, grad, gv))
    for a, b in zip(*(jax.tree_util.tree_leaves(r) for r in results), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)
