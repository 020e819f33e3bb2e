"""iLQR and online iLQR (baselines/): optimality against L-BFGS-B, monotone descent, task-cost
identity, feedback gains, the planner's ignorance of disturbances, the reference-loss cache, CLI."""

from __future__ import annotations

import argparse
import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from armctl.baselines import ilqr as ilqr_module
from armctl.baselines.ilqr import (
    episode,
    ilqr,
    open_loop,
    reference_loss,
    rollout,
    solve_task,
    task_cost,
    task_dynamics,
)
from armctl.baselines.online import online_ilqr

from armctl.commands import ilqr as ilqr_command
from armctl.tasks import DDN, CenterOut, Postural, RandomReach

PRESETS = ("monkey", "human")


def _f64(tree):
    return jax.tree_util.tree_map(
        lambda a: jnp.asarray(a, jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree
    )


@pytest.fixture(scope="module")
def center_out():
    """Float64 iLQR solutions of 4 center-out reaches for each arm preset."""
    solved = {}
    for preset in PRESETS:
        task = CenterOut(arm=preset, n_targets=4)
        batch = task.sample(jax.random.PRNGKey(0))
        solved[preset] = (task, batch, solve_task(task, batch, dtype=jnp.float64))
    return solved


def _lbfgs_cost(task, batch, i) -> float:
    """Brute force: L-BFGS-B on the command table of reach ``i`` with exact float64 JAX gradients."""
    with jax.enable_x64(True):
        ep = _f64(episode(batch, i))
        cost, dynamics = task_cost(task, ep.target), task_dynamics(task, ep)
        objective = lambda u: jnp.sum(
            jax.vmap(cost)(
                rollout(dynamics, ep.x0, u),
                jnp.concatenate([u, jnp.zeros((1, 2))]),
                jnp.arange(task.horizon + 1),
            )
        )
        value_and_grad = jax.jit(jax.value_and_grad(lambda flat: objective(flat.reshape(task.horizon, 2))))
        scale = float(value_and_grad(jnp.zeros(2 * task.horizon))[0])  # make the objective O(1)

        def fun(flat):
            v, g = value_and_grad(jnp.asarray(flat))
            return float(v) / scale, np.asarray(g, np.float64) / scale

        res = scipy.optimize.minimize(
            fun,
            np.zeros(2 * task.horizon),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 20000, "maxfun": 40000, "ftol": 1e-15, "gtol": 1e-12, "maxcor": 50},
        )
        return res.fun * scale


@pytest.mark.parametrize("preset", PRESETS)
def test_ilqr_matches_brute_force_lbfgs(center_out, preset):
    task, batch, result = center_out[preset]
    for i in (0, 1):
        reference = _lbfgs_cost(task, batch, i)
        got = float(result.cost[i])
        assert abs(got - reference) <= 1e-3 * reference, (preset, i, got, reference)
    assert np.all(np.asarray(result.converged))
    assert np.max(np.asarray(result.iterations)) <= 10


@pytest.mark.parametrize("preset", PRESETS)
def test_cost_is_the_task_cost_of_the_returned_trajectory(center_out, preset):
    task, batch, result = center_out[preset]
    with jax.enable_x64(True):
        batch = _f64(batch)
        cost = task.cost(result.states, result.commands, batch.target)
        replayed = open_loop(task, batch, result.commands)
        np.testing.assert_allclose(np.asarray(result.cost), np.asarray(cost), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(replayed.states), np.asarray(result.states), rtol=0, atol=1e-12)
        # Stationarity: the exact gradient of the task cost with respect to the commands vanishes.
        loss = lambda u: jnp.sum(task.cost(open_loop(task, batch, u).states, u, batch.target))
        grad_fn = jax.jit(jax.grad(loss))
        grad, initial_grad = grad_fn(result.commands), grad_fn(jnp.zeros_like(result.commands))
        assert float(jnp.linalg.norm(grad)) < 1e-5 * float(jnp.linalg.norm(initial_grad))
        np.testing.assert_allclose(
            np.asarray(result.gradient_norm),
            np.linalg.norm(np.asarray(grad), axis=(1, 2)),
            rtol=1e-6,
            atol=1e-15,
        )


def test_cost_decreases_monotonically_over_iterations():
    # Large random reaches are far from linear, so the line search and regularization are exercised.
    task = RandomReach(batch_size=6)
    batch = task.sample(jax.random.PRNGKey(3))
    result = solve_task(task, batch, max_iters=30, dtype=jnp.float32)
    history = np.asarray(result.cost_history)
    assert np.all(np.diff(history, axis=1) <= 0), history
    assert np.all(history[:, -1] < 1e-3 * history[:, 0])
    # Entries past the last iteration repeat the final cost.
    for h, n, c in zip(history, np.asarray(result.iterations), np.asarray(result.cost), strict=True):
        assert np.all(h[n:] == c)


@pytest.mark.parametrize("preset", PRESETS)
def test_reach_to_the_start_posture_needs_no_torque(preset):
    task = CenterOut(arm=preset, n_targets=4)
    batch = task.sample(jax.random.PRNGKey(0))
    batch = batch._replace(target=batch.x0)
    # Start away from zero so the solver must find its way back to "do nothing".
    result = solve_task(task, batch, commands=jnp.full((4, task.horizon, 2), 0.01))
    assert np.max(np.abs(np.asarray(result.commands))) < 1e-9
    assert np.max(np.asarray(result.cost)) < 1e-18


@pytest.mark.parametrize("preset", PRESETS)
def test_unreachable_center_out_target_raises_at_construction(preset):
    with pytest.raises(ValueError, match="outside the arm's workspace"):
        CenterOut(arm=preset, radius=1.0)


def test_feedback_gains_correct_a_perturbed_start(center_out):
    task, batch, result = center_out["monkey"]
    delta = jnp.array([0.01, -0.01, 0.1, 0.05])
    with jax.enable_x64(True):
        batch = _f64(batch)
        perturbed = batch._replace(x0=batch.x0 + delta)

        @jax.jit
        def feedback_cost(gains):
            def one(ep, states, commands, gains):
                dynamics = task_dynamics(task, ep)

                def body(x, inputs):
                    x_ref, u_ref, k, t = inputs
                    u = u_ref + k @ (x - x_ref)
                    return dynamics(x, u, t), (dynamics(x, u, t), u)

                _, (xs, us) = jax.lax.scan(
                    body, ep.x0, (states[:-1], commands, gains, jnp.arange(task.horizon))
                )
                return task.cost(jnp.concatenate([ep.x0[None], xs])[None], us[None], ep.target[None])[0]

            return jax.vmap(one)(perturbed, result.states, result.commands, gains)

        open_cost = feedback_cost(jnp.zeros_like(result.gains))
        closed_cost = feedback_cost(result.gains)
    optimum = np.asarray(solve_task(task, perturbed, commands=result.commands).cost)
    closed_cost, open_cost = np.asarray(closed_cost), np.asarray(open_cost)
    assert np.all((optimum < closed_cost) & (closed_cost < open_cost))
    # The gains are the first-order optimal correction: what remains is second order.
    assert np.all(closed_cost - optimum < 0.02 * (open_cost - optimum))


def test_ilqr_rejects_bad_shapes():
    cost = lambda x, u, t: jnp.sum(x**2) + jnp.sum(u**2)
    dynamics = lambda x, u, t: x + u
    with pytest.raises(ValueError, match="x0 must be one state vector"):
        ilqr(cost, dynamics, jnp.zeros((2, 2)), jnp.zeros((5, 2)))
    with pytest.raises(ValueError, match="commands must have shape"):
        ilqr(cost, dynamics, jnp.zeros(2), jnp.zeros(5))
    with pytest.raises(ValueError, match="max_iters"):
        ilqr(cost, dynamics, jnp.zeros(2), jnp.zeros((5, 2)), max_iters=0)
    task = CenterOut(n_targets=4)
    batch = task.sample(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="commands must have shape"):
        solve_task(task, batch, commands=jnp.zeros((4, 3, 2)))
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        solve_task(task, batch, dtype=jnp.int32)
    with pytest.raises(ValueError, match="horizon must be None or an integer"):
        online_ilqr(task, batch, horizon=0)


def test_ilqr_solves_a_linear_quadratic_problem_in_one_step():
    # LQ problem: one Gauss-Newton step is exact, so iLQR must stop after two backward passes.
    a = jnp.array([[1.0, 0.1], [0.0, 1.0]])
    b = jnp.array([[0.0], [0.1]])
    dynamics = lambda x, u, t: a @ x + b @ u
    cost = lambda x, u, t: jnp.where(t == 20, 10 * jnp.sum(x**2), 0.0) + 0.01 * jnp.sum(u**2)
    result = jax.jit(lambda x0, u0: ilqr(cost, dynamics, x0, u0))(jnp.array([1.0, 0.0]), jnp.zeros((20, 1)))
    assert int(result.iterations) == 2 and bool(result.converged)
    assert result.cost_history[1] == result.cost


def test_online_ilqr_without_disturbance_recovers_the_open_loop_optimum():
    # No disturbance and no noise: predicting over the delay is exact, so re-planning each step
    # must reproduce the open-loop iLQR optimum; planning from the stale observation must not.
    task = DDN(horizon=12, delay=3, batch_size=3, disturbance_std=0.0, command_noise_std=0.0)
    batch = task.sample(jax.random.PRNGKey(0))
    optimum = np.asarray(solve_task(task, batch).cost)
    predicted = online_ilqr(task, batch, iters_per_step=1)
    stale = online_ilqr(task, batch, iters_per_step=1, predict_delay=False)
    cost = lambda r: task.cost(r.states, r.commands, batch.target)
    # The rollout comes back in the batch's float32, which limits the agreement.
    np.testing.assert_allclose(np.asarray(cost(predicted)), optimum, rtol=1e-3)
    assert float(jnp.mean(cost(stale))) > 10 * np.mean(optimum)


def test_online_ilqr_does_not_know_the_disturbance():
    # Postural: the arm starts at rest on target and the force acts from t = 0. Until the first
    # disturbed state is observed (step delay + 1) the planner must command nothing at all.
    task = Postural(horizon=14, delay=3, force=0.2)
    batch = task.sample(jax.random.PRNGKey(0))
    result = online_ilqr(task, batch)
    d = task.delay
    assert float(jnp.max(jnp.abs(result.commands[:, : d + 1]))) < 1e-7
    assert float(jnp.min(jnp.max(jnp.abs(result.commands[:, d + 1]), axis=-1))) > 1e-4
    idle = open_loop(task, batch, jnp.zeros_like(result.commands))
    online_cost = task.cost(result.states, result.commands, batch.target)
    idle_cost = task.cost(idle.states, idle.commands, batch.target)
    assert float(jnp.mean(online_cost)) < 0.5 * float(jnp.mean(idle_cost))
    # The true plant did receive the force: applied torques differ from the commands.
    assert float(jnp.min(jnp.max(jnp.abs(result.torques - result.commands), axis=(1, 2)))) > 1e-3
    # The open-loop solver, by contrast, optimizes through the batch's force (a clairvoyant
    # oracle): its commands, replayed on the true plant, hold the posture far better.
    oracle = solve_task(task, batch)
    replay = open_loop(task, batch, np.asarray(oracle.commands, np.float32))
    replay_cost = np.asarray(task.cost(replay.states, replay.commands, batch.target))
    np.testing.assert_allclose(replay_cost, np.asarray(oracle.cost), rtol=1e-3, atol=1e-9)
    assert replay_cost.mean() < 0.01 * float(jnp.mean(online_cost))


def test_reference_loss_is_cached_per_task_configuration(center_out, tmp_path, monkeypatch):
    monkeypatch.setenv("ARMCTL_CACHE_DIR", str(tmp_path))
    task, _, result = center_out["monkey"]
    loss = reference_loss(task)
    np.testing.assert_allclose(loss, np.mean(np.asarray(result.cost)), rtol=1e-12)
    files = list((tmp_path / "ilqr").glob("*.json"))
    assert len(files) == 1
    # A second call reads the file instead of solving again.
    cached = json.loads(files[0].read_text())
    files[0].write_text(json.dumps({**cached, "mean_loss": 123.0}))
    assert reference_loss(task) == 123.0
    assert reference_loss(task, refresh=True) == pytest.approx(loss, rel=1e-12)
    # Another configuration gets its own entry.
    monkeypatch.setattr(ilqr_module, "solve_task", lambda *a, **k: result)
    reference_loss(CenterOut(n_targets=4, radius=0.05))
    assert len(list((tmp_path / "ilqr").glob("*.json"))) == 2
    with pytest.raises(TypeError, match="CenterOut"):
        reference_loss(Postural())
    with pytest.raises(ValueError, match="noise-free"):
        reference_loss(CenterOut(n_targets=4, command_noise_std=0.1))


def test_an_unreadable_reference_loss_cache_file_is_named_and_recomputed(center_out, tmp_path, monkeypatch):
    monkeypatch.setenv("ARMCTL_CACHE_DIR", str(tmp_path))
    task, _, result = center_out["monkey"]
    monkeypatch.setattr(ilqr_module, "solve_task", lambda *a, **k: result)  # the solve itself is tested above
    loss = reference_loss(task)
    (path,) = (tmp_path / "ilqr").glob("*.json")
    bad_loss = json.dumps({**json.loads(path.read_text()), "mean_loss": "abc"})
    for corrupt in ("{not json", "[1, 2]", bad_loss):
        path.write_text(corrupt)
        with pytest.warns(UserWarning, match=f"unreadable iLQR cache file {re.escape(str(path))}"):
            assert reference_loss(task) == loss
        assert json.loads(path.read_text())["mean_loss"] == loss  # rewritten


def test_cli_center_out_writes_report_and_plots(center_out, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARMCTL_CACHE_DIR", str(tmp_path / "cache"))
    parser = argparse.ArgumentParser()
    ilqr_command.register(parser.add_subparsers())
    args = parser.parse_args(["ilqr", "center-out", "--out", str(tmp_path / "run"), "--targets", "4"])
    assert args.func(args) == 0
    report = json.loads((tmp_path / "run" / "ilqr_report.json").read_text())
    _, _, result = center_out["monkey"]
    assert report["mean_loss"] == pytest.approx(np.mean(np.asarray(result.cost)), rel=1e-12)
    assert report["reference_loss"] == pytest.approx(report["mean_loss"], rel=1e-12)
    assert len(report["costs"]) == 4 and report["all_converged"]
    assert report["max_abs_torque"] == pytest.approx(np.max(np.abs(np.asarray(result.commands))))
    for name in ("ilqr_paths.png", "ilqr_torques.png"):
        assert (tmp_path / "run" / name).read_bytes()[:4] == b"\x89PNG"
    assert "mean loss" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_online_postural_reports_metrics(tmp_path):
    parser = argparse.ArgumentParser()
    ilqr_command.register(parser.add_subparsers())
    args = parser.parse_args(["ilqr", "postural", "--out", str(tmp_path)])
    assert args.func(args) == 0
    report = json.loads((tmp_path / "ilqr_report.json").read_text())
    assert report["online_ilqr"]["mean_cost"] < report["do_nothing"]["mean_cost"]
