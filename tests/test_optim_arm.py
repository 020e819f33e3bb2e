"""AHF on the real arm: the center-out problem through the plant, via armctl.arm_problem."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from armctl.controllers.arm import ArmController

from armctl import controllers
from armctl.arm_problem import arm_problem
from armctl.optim import adam, ahf, gauss_newton_product, lbfgs, minimize, objective
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


def test_factored_product_is_the_generic_one_and_the_layer_inputs_remake_the_taps(setup):
    """The thesis controller's parameters enter only through affine pre-activations, so its problem
    multiplies through a perturbation of them (``Factored``): the same products as through the
    parameters (structural damping on), up to the order of float64 sums (~1e3 terms
    of eps 1.1e-16 each, so 1e-12 is loose). The layer inputs it keeps remake the pre-activations
    (the taps and the commands), and a zero perturbation changes no bit of the rollout. (Sharded,
    the factored product is what test_parallel's two-process run trains with.)"""
    from armctl.rollout import simulate

    controller, task, batch, params = setup
    problem = arm_problem(controller, task)
    assert problem.factored is not None
    with jax.enable_x64(True):
        wide = lambda a: (
            jnp.asarray(a, jnp.float64) if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating) else a
        )
        params, batch = jax.tree_util.tree_map(wide, (params, batch))
        v = jax.tree_util.tree_map(lambda a: jnp.cos(jnp.arange(a.size).reshape(a.shape) + 0.0), params)
        leaves = jax.tree_util.tree_leaves
        # With the taps; without them: tests/test_optim_gn.py's factored problem.
        fast = gauss_newton_product(problem, params, batch, damping=0.1, structural=0.5)
        slow = gauss_newton_product(
            problem._replace(factored=None), params, batch, damping=0.1, structural=0.5
        )
        assert fast.preactivations is not None and slow.preactivations is None
        for a, b in zip(leaves(fast(v)), leaves(slow(v)), strict=True):
            assert float(jnp.max(jnp.abs(a - b))) <= 1e-12 * float(jnp.max(jnp.abs(b))), a.shape

        plain = simulate(controller, params, task, batch, return_taps=True)
        assert plain.inputs is None  # only when asked for
        r = simulate(controller, params, task, batch, return_taps=True, return_inputs=True)
        pre = controller.preactivations(params, r.inputs)
        # The same sums computed twice, perhaps by other kernels (per step and over the whole
        # batch): each within n eps sum |x| |w| of the exact value (n <= 209 terms, the bias
        # included), so within twice that of each other; the commands add one product's rounding.
        absolute = lambda tree: jax.tree_util.tree_map(jnp.abs, tree)
        magnitude = controller.preactivations(absolute(params), absolute(r.inputs))
        size = {name: 2 * 209 * np.finfo(np.float64).eps * m for name, m in magnitude.items()}
        assert np.all(np.abs(pre["layer1"] - r.taps[0]) <= size["layer1"])
        assert np.all(np.abs(pre["layer2"] - r.taps[1]) <= size["layer2"])
        commands = controller.torque_scale * pre["out"]
        room = controller.torque_scale * size["out"] + np.finfo(np.float64).eps * np.abs(commands)
        assert np.all(np.abs(commands - r.commands) <= room)
        zeros = jax.tree_util.tree_map(jnp.zeros_like, pre)
        perturbed = simulate(controller, params, task, batch, return_taps=True, perturbation=zeros)
        for a, b in zip(leaves(perturbed[:3]), leaves(plain[:3]), strict=True):
            np.testing.assert_array_equal(a, b)
        with pytest.raises(ValueError, match=r"perturbation has keys \['hidden'\]"):
            simulate(controller, params, task, batch, perturbation={"hidden": pre["layer1"]})
    gru = controllers.gru((4,))
    with pytest.raises(ValueError, match="GatedController has no perturbed_step"):
        simulate(gru, gru.init_params(jax.random.PRNGKey(0)), task, batch, return_inputs=True)
    assert arm_problem(gru, task).factored is None


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


@pytest.mark.parametrize(
    "make, quiet_from", [(lambda: ahf(max_cg=10), 2), (lbfgs, 1), (adam, 1)], ids=["ahf", "lbfgs", "adam"]
)
def test_steps_after_the_first_compile_nothing(make, quiet_from):
    """A state leaf whose type changes between steps (a weak-typed start, a dtype drift) makes the
    next step trace and compile its whole program again; in PPO that cost ~10 s a run. The run
    starts from parameters with a weak-typed leaf, which ``minimize`` makes strong. AHF's
    second step compiles by design (CG starts from the previous direction from then on). A network
    size no other test uses, so no earlier test's programs are in the cache."""
    controller, task = ArmController(hidden=(5, 3)), CenterOut(n_targets=4)
    batch = task.sample(jax.random.PRNGKey(0))
    leaves, tree = jax.tree_util.tree_flatten(controller.init_params(jax.random.PRNGKey(1)))
    leaves[0] = jnp.full(leaves[0].shape, 0.01)  # weak-typed, as an array made from a Python float
    assert leaves[0].weak_type
    compiled, per_step = [], []

    def listen(event, duration, **info):
        if event == "/jax/core/compile/backend_compile_duration":
            compiled.append(info.get("fun_name"))

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        minimize(
            arm_problem(controller, task),
            make(),
            jax.tree_util.tree_unflatten(tree, leaves),
            lambda key: batch,
            jax.random.PRNGKey(0),
            steps=6,
            eval_batch=batch,
            callback=lambda *_: (per_step.append(list(compiled)), compiled.clear()),
        )
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert len(per_step) == 6 and per_step[0], per_step  # the first step did compile: the listener hears
    assert per_step[quiet_from:] == [[]] * (6 - quiet_from), per_step
