"""Linear CG: solves SPD systems, Martens' stopping rule, saved iterates, non-positive curvature."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from armctl.optim import CGResult, cg
from armctl.optim.cg import progress_stop, save_points


def _spd(n, cond, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return (q * np.logspace(0, -math.log10(cond), n)) @ q.T, rng.normal(size=n)


def _phi(a, b, x):
    x = np.asarray(x)
    return 0.5 * x @ a @ x - b @ x


def test_cg_solves_spd_system_to_tolerance():
    with jax.enable_x64(True):
        a, b = _spd(20, 1e3)
        res = cg(
            lambda v: jnp.asarray(a) @ v, jnp.asarray(b), max_iters=200, tol_k_factor=0.0, residual_tol=1e-10
        )
        assert isinstance(res, CGResult) and res.stop_reason == "converged"
        np.testing.assert_allclose(res.x, np.linalg.solve(a, b), rtol=1e-7, atol=1e-8)
        assert res.matvecs == res.iterations


def test_cg_pytree_warm_start_and_preconditioner():
    with jax.enable_x64(True):
        d = np.logspace(0, 4, 12)
        a, b = np.diag(d), np.arange(1.0, 13.0)
        mv = lambda v: {"u": jnp.asarray(d[:6]) * v["u"], "w": jnp.asarray(d[6:]) * v["w"]}
        bt = {"u": jnp.asarray(b[:6]), "w": jnp.asarray(b[6:])}
        start = 0.5 * b / d  # halfway to the solution: phi(x0) < 0, so CG keeps the warm start
        x0 = {"u": jnp.asarray(start[:6]), "w": jnp.asarray(start[6:])}
        res = cg(mv, bt, x0, max_iters=50, tol_k_factor=0.0, residual_tol=1e-12)
        assert res.indices[0] != 0 and res.matvecs == res.iterations + 1
        np.testing.assert_allclose(res.phi_history[0], _phi(a, b, start), rtol=1e-12)
        np.testing.assert_allclose(np.concatenate([res.x["u"], res.x["w"]]), b / d, rtol=1e-8)
        # the exact diagonal preconditioner solves a diagonal system in one step
        pre = {"u": jnp.asarray(d[:6]), "w": jnp.asarray(d[6:])}
        res_p = cg(mv, bt, None, max_iters=50, preconditioner=pre, residual_tol=1e-12)
        assert res_p.iterations == 1
        np.testing.assert_allclose(np.concatenate([res_p.x["u"], res_p.x["w"]]), b / d, rtol=1e-10)


def test_warm_start_no_better_than_zero_is_dropped():
    with jax.enable_x64(True):
        a, b = _spd(10, 1e2)
        mv = lambda v: jnp.asarray(a) @ v
        bad = -10.0 * np.linalg.solve(a, b)  # phi(bad) = 60 b^T A^-1 b > 0
        res = cg(mv, jnp.asarray(b), jnp.asarray(bad), max_iters=3, tol_k_factor=0.0)
        cold = cg(mv, jnp.asarray(b), None, max_iters=3, tol_k_factor=0.0)
        assert res.phi_history[0] == 0.0 and res.matvecs == cold.matvecs + 1
        np.testing.assert_allclose(res.x, cold.x, rtol=1e-12)


def test_stop_rule_triggers_exactly_as_specified_and_iterates_are_saved():
    with jax.enable_x64(True):
        # an ill-conditioned system whose quadratic keeps improving slowly: the progress rule stops it
        a, b = _spd(60, 1e6, seed=1)
        max_iters = 300
        res = cg(lambda v: jnp.asarray(a) @ v, jnp.asarray(b), max_iters=max_iters, min_iters=5)
        phis = res.phi_history
        i = res.iterations
        assert res.stop_reason == "progress" and 10 < i < max_iters
        k = max(10, math.ceil(0.1 * i))
        assert phis[i] < 0 and (phis[i] - phis[i - k]) / phis[i] < k * 5e-4
        assert not any(progress_stop(phis, j, 5e-4) for j in range(5, i))
        # the same system with a 10x looser tolerance stops earlier
        looser = cg(lambda v: jnp.asarray(a) @ v, jnp.asarray(b), max_iters=max_iters, tol_k_factor=5e-3)
        assert looser.iterations < i
        # saved at ceil(1.3^j) and at the end, with their phi values
        expected = sorted({p for p in save_points(max_iters, 1.3) if p <= i} | {i})
        assert res.indices == expected
        assert expected[:8] == [1, 2, 3, 4, 5, 7, 9, 11]
        for idx, x, phi in zip(res.indices, res.iterates, res.phi, strict=True):
            assert phi == phis[idx]
            np.testing.assert_allclose(phi, _phi(a, b, x), rtol=1e-6)
        assert all(np.diff(phis) <= 1e-12)  # CG decreases phi monotonically


def test_min_iters_delays_the_stop_rule():
    with jax.enable_x64(True):
        a, b = _spd(60, 1e6, seed=1)
        free = cg(lambda v: jnp.asarray(a) @ v, jnp.asarray(b), max_iters=300)
        forced = cg(
            lambda v: jnp.asarray(a) @ v, jnp.asarray(b), max_iters=300, min_iters=free.iterations + 20
        )
        assert forced.iterations >= free.iterations + 20


def test_non_positive_curvature_exits_without_taking_the_step():
    a = jnp.diag(jnp.array([1.0, 2.0, -30.0]))
    res = cg(lambda v: a @ v, jnp.array([1.0, 1.0, 1.0]), max_iters=10)
    assert res.stop_reason == "negative_curvature" and res.iterations == 0
    np.testing.assert_array_equal(res.x, np.zeros(3))
    assert res.indices == [0] and res.matvecs == 1


def test_cg_rejects_bad_arguments():
    b = jnp.ones(3)
    with pytest.raises(ValueError, match="max_iters"):
        cg(lambda v: v, b, max_iters=0)
    with pytest.raises(ValueError, match="min_iters"):
        cg(lambda v: v, b, max_iters=3, min_iters=5)
    with pytest.raises(ValueError, match="save_schedule"):
        cg(lambda v: v, b, max_iters=3, save_schedule=1.0)
    with pytest.raises(TypeError, match="matvec"):
        cg(np.eye(3), b, max_iters=3)


def test_deflated_cg_keeps_directions_conjugate_to_the_extra_vector_and_solves():
    """AHF's augmented basis: w first, then CG directions A-conjugate to w (and to each other)."""
    from jax.tree_util import Partial

    from armctl.optim.cg import cg_step, deflated_start

    with jax.enable_x64(True):
        a, b = _spd(15, 1e2, seed=3)
        w = jnp.asarray(np.random.default_rng(4).normal(size=15))
        mv = Partial(lambda v: jnp.asarray(a) @ v)
        state, deflation, (waw, alpha_w, bw) = deflated_start(mv, jnp.asarray(b), w)
        np.testing.assert_allclose(alpha_w, (b @ w) / (w @ a @ w), rtol=1e-12)
        directions = [np.asarray(w)]
        for _ in range(14):
            directions.append(np.asarray(state.p))
            state, (pap, *_rest) = cg_step(mv, None, jnp.asarray(b), deflation, state)
            assert float(pap) > 0
        d = np.stack(directions)
        gram = d @ a @ d.T
        scale = np.sqrt(np.outer(np.diag(gram), np.diag(gram)))
        cosines = np.abs(gram - np.diag(np.diag(gram))) / scale  # A-cosines between basis vectors
        assert cosines[0].max() < 1e-10  # every direction A-conjugate to w
        # and to each other (before convergence, where finite precision erodes conjugacy as in plain CG)
        assert cosines[:9, :9].max() < 1e-8, cosines[:9, :9].max()
        # In exact arithmetic w plus 14 conjugate directions span R^15 and x solves the system. In
        # floating point the lost conjugacy leaves a residual that depends on the CPU's rounding, so
        # the test lets CG go on until the residual is at the level float64 can reach for this
        # conditioning, and bounds the error through the condition number: the relative error of x
        # is at most cond(A) times its relative residual.
        for _ in range(30):
            if np.linalg.norm(b - a @ np.asarray(state.x)) <= 1e-12 * np.linalg.norm(b):
                break
            state, (pap, *_rest) = cg_step(mv, None, jnp.asarray(b), deflation, state)
            assert float(pap) > 0
        x, exact = np.asarray(state.x), np.linalg.solve(a, b)
        relative_residual = np.linalg.norm(b - a @ x) / np.linalg.norm(b)
        assert relative_residual <= 1e-12
        relative_error = np.linalg.norm(x - exact) / np.linalg.norm(exact)
        assert relative_error <= np.linalg.cond(a) * relative_residual * 1.01


# --- the thesis's stop on the objective's reduction (appendix 4.4) ------------------------------------


def test_reduction_stop_rule():
    from armctl.optim.cg import ReductionStop

    growing = ReductionStop(0.9)
    assert not any(growing(r) for r in [0.1, 0.5, 0.5, 0.9, 2.0, 2.0, 5.0])
    assert growing.best == 5.0
    falling = ReductionStop(0.9)
    assert [falling(r) for r in [1.0, 2.0, 1.85, 1.79]] == [False, False, False, True]  # 0.9 * 2 = 1.8
    rising_objective = ReductionStop(0.9)
    assert not rising_objective(-1.0) and not rising_objective(-3.0)  # no positive maximum yet
    assert not rising_objective(0.5) and rising_objective(float("nan"))  # NaN objective counts as -inf
    with pytest.raises(ValueError, match="fraction"):
        ReductionStop(0.0)


def test_cg_monitor_is_called_at_saved_iterates_and_can_stop():
    with jax.enable_x64(True):
        a, b = _spd(40, 1e4, seed=2)
        seen = []

        def monitor(i, x):
            seen.append(i)
            np.testing.assert_allclose(_phi(a, b, x), phis_free[i], rtol=1e-8)
            return i == 7

        free = cg(lambda v: jnp.asarray(a) @ v, jnp.asarray(b), max_iters=100, tol_k_factor=0.0)
        phis_free = free.phi_history
        res = cg(
            lambda v: jnp.asarray(a) @ v, jnp.asarray(b), max_iters=100, tol_k_factor=0.0, monitor=monitor
        )
        assert seen == [1, 2, 3, 4, 5, 7]
        assert res.stop_reason == "monitor" and res.iterations == 7 and res.indices[-1] == 7
        np.testing.assert_allclose(res.x, free.iterates[free.indices.index(7)], rtol=1e-12)


def _sine_problem():
    """Outputs ``sin(s w)``, squared error to targets some of which (4.0) no sine can reach: the
    Gauss-Newton quadratic at ``w = 0`` overshoots there, so the objective rises after a few CG steps."""
    from armctl import optim

    s = jnp.array([3.0, 2.0, 1.5, 1.0, 0.7, 0.5, 0.3, 0.2])
    y = jnp.array([0.9, 0.9, 0.9, 0.9, 0.9, 4.0, 4.0, 4.0])
    return optim.Problem(
        lambda p, batch: (jnp.sin(s * p["w"]), ()), lambda o, batch: 0.5 * jnp.sum((o - y) ** 2)
    )


def _linear_problem():
    from armctl import optim

    rng = np.random.default_rng(5)
    a, y = jnp.asarray(rng.normal(size=(30, 12)) * np.logspace(0, -2, 12)), jnp.asarray(rng.normal(size=30))
    return optim.Problem(lambda p, batch: (a @ p["w"], ()), lambda o, batch: 0.5 * jnp.sum((o - y) ** 2))


def test_hf_reduction_stop_ends_cg_where_the_objective_turns():
    from armctl import optim
    from armctl.optim.base import objective

    with jax.enable_x64(True):
        problem, params = _sine_problem(), {"w": jnp.zeros(8)}
        # The reductions at the saved iterates, from plain CG on the same quadratic.
        gnp = optim.gn.gauss_newton_product(problem, params, None, damping=1e-3)
        grad = jax.grad(lambda p: objective(problem, p, None))(params)
        plain = cg(gnp, jax.tree_util.tree_map(jnp.negative, grad), max_iters=50, tol_k_factor=0.0)
        f0 = float(objective(problem, params, None))
        red = [f0 - float(objective(problem, x, None)) for x in plain.iterates]
        stop = next(k for k in range(1, len(red)) if red[k] < 0.9 * max(red[:k]))
        assert plain.indices[stop] == 3 and red[1] > red[0] > 0  # it rose, then fell below 90 %

        opt = optim.hf(lambda_init=1e-3, max_cg=50, tol_k_factor=0.0, reduction_stop=0.9)
        new, state, info = opt.step(problem, params, opt.init(params), None)
        assert info["cg_stop"] == "monitor" and info["cg_iters"] == 3
        assert info["backtrack_iter"] == 2 and info["accepted"]  # the best saved iterate
        np.testing.assert_allclose(f0 - info["new_loss"], red[1], rtol=1e-10)
        # objective calls: the linearization, f(theta) and 3 iterates for the rule, reused by the
        # backtracking (curvature batch = gradient batch); the line search accepts its first trial
        assert state.counters.objective == 5 and state.counters.gv == 3

        off = optim.hf(lambda_init=1e-3, max_cg=50, tol_k_factor=0.0)
        _, off_state, off_info = off.step(problem, params, off.init(params), None)
        assert off_info["cg_iters"] > 3 and off_info["cg_stop"] != "monitor"


def test_hf_reduction_stop_never_stops_while_the_reduction_grows():
    from armctl import optim

    with jax.enable_x64(True):
        # Linear least squares: the objective along CG's iterates is the undamped quadratic, whose
        # reduction grows at every iterate, so the rule must not fire and HF is unchanged.
        problem, params = _linear_problem(), {"w": jnp.zeros(12)}
        runs = []
        for stop in (None, 0.9):
            opt = optim.hf(lambda_init=1e-2, max_cg=40, reduction_stop=stop)
            p, state, infos = params, opt.init(params), []
            for _ in range(3):
                p, state, info = opt.step(problem, p, state, None)
                infos.append(info)
            runs.append((p, infos))
        (p_off, off), (p_on, on) = runs
        assert all(i["cg_stop"] != "monitor" for i in on)
        assert [i["cg_iters"] for i in on] == [i["cg_iters"] for i in off]
        np.testing.assert_allclose(p_on["w"], p_off["w"], rtol=1e-12)


def test_hf_reduction_stop_validates():
    from armctl import optim

    with pytest.raises(ValueError, match="fraction"):
        optim.hf(reduction_stop=1.5)
    with pytest.raises(ValueError, match="tikhonov"):
        optim.hf(reduction_stop=0.9, damping="line-search")
