"""AHF on the real arm: the center-out problem through the plant, via armctl.arm_problem."""

import jax
import numpy as np
import optax
import pytest
from armctl.controllers.arm import ArmController

from armctl.arm_problem import arm_problem
from armctl.optim import ahf, gauss_newton_product, minimize, objective
from armctl.tasks import CenterOut


@pytest.fixture(scope="module")
def setup():
    controller, task = ArmController(hidden=(16, 16)), CenterOut(n_targets=8)
    batch = task.sample(jax.random.PRNGKey(0))  # no noise: every center-out batch is the same
    return controller, task, batch, controller.init_params(jax.random.PRNGKey(1))


def test_arm_problem_matches_task_loss_and_is_cached(setup):
    from armctl.rollout import simulate

    controller, task, batch, params = setup
    problem = arm_problem(controller, task)
    assert arm_problem(controller, task) is problem  # one Problem per configuration: jit caches hit
    r = simulate(controller, params, task, batch)
    np.testing.assert_allclose(
        objective(problem, params, batch), task.loss(r.states, r.commands, batch.target), rtol=1e-6
    )
    (states, commands), taps = problem.outputs(params, batch)
    assert states.shape == (8, task.horizon, 4) and commands.shape == (8, task.horizon, 2)
    assert [t.shape for t in taps] == [(8, task.horizon, 16), (8, task.horizon, 16)]
    gnp = gauss_newton_product(problem, params, batch, damping=0.1, structural=0.5)
    v = jax.tree_util.tree_map(np.ones_like, params)
    assert float(optax.tree.vdot(v, gnp(v))) >= 0.1 * float(optax.tree.vdot(v, v)) * (
        1 - 1e-4
    )  # PSD part plus the Tikhonov term


def test_ahf_lowers_center_out_loss_monotonically(setup):
    controller, task, batch, params = setup
    problem = arm_problem(controller, task)
    _, state, hist = minimize(
        problem, ahf(max_cg=30), params, lambda key: batch, jax.random.PRNGKey(0), steps=4, eval_batch=batch
    )
    start = float(objective(problem, params, batch))
    losses = [start] + hist["eval_loss"]
    assert all(b <= a for a, b in zip(losses, losses[1:], strict=False)), losses
    assert losses[-1] < 0.6 * start, losses
    assert state.counters.gv > 0 and hist["function_calls"][-1] == state.counters.function_calls
