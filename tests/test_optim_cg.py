"""Linear CG: solves SPD systems, Martens' stopping rule, saved iterates, non-positive curvature.

Tolerances are norm-wise and come from the conditioning and float64's epsilon:

* a solve: ``||x - x*|| / ||x*|| <= cond(A) ||b - A x|| / ||b||`` (with the true residual);
* ``phi`` tracked by CG's recurrence (``-x^T (b + r) / 2``, with the updated residual ``r``)
  against ``phi`` computed directly: after ``i`` iterations the updated residual differs from
  ``b - A x`` by at most about ``i eps (||b|| + ||A|| ||x||)`` (Greenbaum 1997, sec. 4.1), so the
  two ``phi`` differ by at most ``i eps ||x|| (||b|| + ||A|| ||x||)``.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from armctl.optim import CGIterator, CGResult, cg
from armctl.optim.cg import ReductionStop, cg_step, deflated_start, progress_stop, save_points, zero_start

EPS = np.finfo(np.float64).eps


def _spd(n, cond, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return (q * np.logspace(0, -math.log10(cond), n)) @ q.T, rng.normal(size=n)


def _phi(a, b, x):
    x = np.asarray(x)
    return 0.5 * x @ a @ x - b @ x


def _assert_solves(a, b, x):
    """``x`` solves ``A x = b`` as well as its true residual allows: the norm-wise forward error
    bound ``||x - x*|| / ||x*|| <= cond(A) ||b - A x|| / ||b||``."""
    x, exact = np.asarray(x), np.linalg.solve(a, b)
    relative_residual = np.linalg.norm(b - a @ x) / np.linalg.norm(b)
    relative_error = np.linalg.norm(x - exact) / np.linalg.norm(exact)
    # 1 % over the bound for the rounding of the check's own numbers.
    assert relative_error <= np.linalg.cond(a) * relative_residual * 1.01, (relative_error, relative_residual)
    return relative_residual


def _phi_gap_bound(a, b, x, i):
    """How far CG's recurrence for phi(x) after ``i`` iterations may be from phi computed directly."""
    x = np.asarray(x)
    return (
        max(i, 1) * EPS * np.linalg.norm(x) * (np.linalg.norm(b) + np.linalg.norm(a, 2) * np.linalg.norm(x))
    )


def test_cg_solves_spd_system_to_tolerance():
    with jax.enable_x64(True):
        a, b = _spd(20, 1e3)
        res = cg(
            lambda v: jnp.asarray(a) @ v, jnp.asarray(b), max_iters=200, tol_k_factor=0.0, residual_tol=1e-10
        )
        assert isinstance(res, CGResult) and res.stop_reason == "converged"
        # converged: the updated residual is at 1e-10; the true one stays within float64's reach of it
        assert _assert_solves(a, b, res.x) <= 1e-9
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
        assert abs(res.phi_history[0] - _phi(a, b, start)) <= _phi_gap_bound(a, b, start, 1)
        _assert_solves(a, b, np.concatenate([res.x["u"], res.x["w"]]))
        # the exact diagonal preconditioner solves a diagonal system in one step
        pre = {"u": jnp.asarray(d[:6]), "w": jnp.asarray(d[6:])}
        res_p = cg(mv, bt, None, max_iters=50, preconditioner=pre, residual_tol=1e-12)
        assert res_p.iterations == 1 and res_p.stop_reason == "converged"
        _assert_solves(a, b, np.concatenate([res_p.x["u"], res_p.x["w"]]))


def test_warm_start_no_better_than_zero_is_dropped():
    with jax.enable_x64(True):
        a, b = _spd(10, 1e2)
        mv = lambda v: jnp.asarray(a) @ v
        bad = -10.0 * np.linalg.solve(a, b)  # phi(bad) = 60 b^T A^-1 b > 0
        res = cg(mv, jnp.asarray(b), jnp.asarray(bad), max_iters=3, tol_k_factor=0.0)
        cold = cg(mv, jnp.asarray(b), None, max_iters=3, tol_k_factor=0.0)
        assert res.phi_history[0] == 0.0 and res.matvecs == cold.matvecs + 1
        np.testing.assert_array_equal(res.x, cold.x)  # the same computation from zero


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
            assert abs(phi - _phi(a, b, x)) <= _phi_gap_bound(a, b, x, idx)
        # CG decreases phi monotonically (up to the recurrence's rounding of each value)
        gaps = [2 * _phi_gap_bound(a, b, x, idx) for idx, x in zip(res.indices, res.iterates, strict=True)]
        assert all(np.diff(phis) <= max(gaps))


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


@pytest.mark.parametrize(
    "options,message",
    [
        ({"max_iters": 0}, "max_iters must be an integer >= 1, got 0"),
        ({"max_iters": 2.5}, "max_iters must be an integer >= 1, got 2.5"),
        ({"max_iters": True}, "max_iters must be an integer >= 1, got True"),
        ({"max_iters": 3, "min_iters": 5}, r"min_iters must be an integer in \[0, 3\], got 5"),
        ({"max_iters": 3, "save_schedule": 1.0}, "save_schedule must be a finite number > 1, got 1.0"),
        ({"max_iters": 3, "tol_k_factor": "abc"}, "tol_k_factor must be a finite number >= 0, got 'abc'"),
        (
            {"max_iters": 3, "residual_tol": float("nan")},
            "residual_tol must be a finite number >= 0, got nan",
        ),
    ],
)
def test_cg_rejects_bad_arguments(options, message):
    with pytest.raises(ValueError, match=message):
        cg(lambda v: v, jnp.ones(3), **options)


def test_cg_rejects_a_matrix_for_a_product():
    with pytest.raises(TypeError, match="matvec"):
        cg(np.eye(3), jnp.ones(3), max_iters=3)


def test_cg_iterator_yields_the_iterations_cg_takes_and_stops_when_told():
    with jax.enable_x64(True):
        a, b = _spd(30, 1e4, seed=6)
        mv, bj = (lambda v: jnp.asarray(a) @ v), jnp.asarray(b)
        solved = cg(mv, bj, max_iters=100)
        iterator = CGIterator(mv, bj, zero_start(None, bj), max_iters=100)
        seen = list(iterator)
        assert [it.i for it in seen] == list(range(1, solved.iterations + 1))
        assert iterator.stop_reason == solved.stop_reason and iterator.iterations == solved.iterations
        assert iterator.phi_history == solved.phi_history and iterator.matvecs == solved.matvecs
        np.testing.assert_array_equal(seen[-1].state.x, solved.x)  # the same computation
        for it in seen:  # each iteration reports the step it took along its direction
            assert it.phi == solved.phi_history[it.i]
            previous = seen[it.i - 2].state.x if it.i > 1 else np.zeros_like(b)
            step = np.asarray(it.state.x) - np.asarray(previous)
            moved = it.alpha * np.asarray(it.direction)
            assert np.linalg.norm(step - moved) <= 4 * EPS * (
                np.linalg.norm(it.state.x) + np.linalg.norm(moved)
            )
            # a dot product of n terms is within n eps |b|^T |p| of the exact one
            dot_error = len(b) * EPS * (np.abs(b) @ np.abs(it.direction))
            assert abs(it.b_dot_direction - b @ np.asarray(it.direction)) <= dot_error
        # the loop body stops it for its own reason: no more iterations, nothing else overrides it
        stopped = CGIterator(mv, bj, zero_start(None, bj), max_iters=100)
        for it in stopped:
            if it.i == 4:
                stopped.stop("enough")
                break
        assert stopped.stop_reason == "enough" and stopped.iterations == 4 and stopped.matvecs == 4
        # a zero right-hand side is solved before any product
        zero = CGIterator(mv, jnp.zeros(30), zero_start(None, jnp.zeros(30)), max_iters=10)
        assert list(zero) == [] and zero.stop_reason == "converged" and zero.matvecs == 0


def test_deflated_cg_keeps_directions_conjugate_to_the_extra_vector_and_solves():
    """AHF's augmented basis: w first, then CG directions A-conjugate to w (and to each other)."""
    from jax.tree_util import Partial

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
    growing = ReductionStop(0.9)
    assert not any(growing(r) for r in [0.1, 0.5, 0.5, 0.9, 2.0, 2.0, 5.0])
    assert growing.best == 5.0
    falling = ReductionStop(0.9)
    assert [falling(r) for r in [1.0, 2.0, 1.85, 1.79]] == [False, False, False, True]  # 0.9 * 2 = 1.8
    rising_objective = ReductionStop(0.9)
    assert not rising_objective(-1.0) and not rising_objective(-3.0)  # no positive maximum yet
    assert not rising_objective(0.5) and rising_objective(float("nan"))  # NaN objective counts as -inf
    with pytest.raises(ValueError, match=r"fraction must be a finite number in \(0, 1\], got 0.0"):
        ReductionStop(0.0)


def test_cg_monitor_is_called_at_saved_iterates_and_can_stop():
    with jax.enable_x64(True):
        a, b = _spd(40, 1e4, seed=2)
        seen = []

        def monitor(i, x):
            seen.append(i)
            assert abs(_phi(a, b, x) - phis_free[i]) <= _phi_gap_bound(a, b, x, i)
            return i == 7

        free = cg(lambda v: jnp.asarray(a) @ v, jnp.asarray(b), max_iters=100, tol_k_factor=0.0)
        phis_free = free.phi_history
        res = cg(
            lambda v: jnp.asarray(a) @ v, jnp.asarray(b), max_iters=100, tol_k_factor=0.0, monitor=monitor
        )
        assert seen == [1, 2, 3, 4, 5, 7]
        assert res.stop_reason == "monitor" and res.iterations == 7 and res.indices[-1] == 7
        np.testing.assert_array_equal(res.x, free.iterates[free.indices.index(7)])  # the same computation

        # monitor_every: called at every iterate; stopping at one that is not on the save schedule
        # (6) saves it as the last iterate.
        seen.clear()
        res = cg(
            lambda v: jnp.asarray(a) @ v,
            jnp.asarray(b),
            max_iters=100,
            tol_k_factor=0.0,
            monitor=lambda i, x: seen.append(i) or i == 6,
            monitor_every=True,
        )
        assert seen == [1, 2, 3, 4, 5, 6]
        assert res.stop_reason == "monitor" and res.iterations == 6 and res.indices == [1, 2, 3, 4, 5, 6]
        assert res.phi[-1] == phis_free[6]


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
    from armctl.optim import objective

    with jax.enable_x64(True):
        problem, params = _sine_problem(), {"w": jnp.zeros(8)}
        # The reductions at the saved iterates, from plain CG on the same quadratic.
        gnp = optim.gauss_newton_product(problem, params, None, damping=1e-3)
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
        # the same iterate's objective, evaluated jitted by HF and eagerly here: a sum of 8 squares,
        # each evaluation within a few eps of f0
        assert abs(f0 - info["new_loss"] - red[1]) <= 16 * EPS * f0
        # objective calls: the linearization, f(theta) and 3 iterates for the rule, reused by the
        # backtracking (curvature batch = gradient batch); the line search accepts its first trial
        assert state.counters.objective == 5 and state.counters.gv == 3

        off = optim.hf(lambda_init=1e-3, max_cg=50, tol_k_factor=0.0)
        _, off_state, off_info = off.step(problem, params, off.init(params), None)
        assert off_info["cg_iters"] > 3 and off_info["cg_stop"] != "monitor"

        # Checked at every iterate, the rule stops at the first iterate whose reduction falls
        # below 90 % of the best before it, whether saved or not.
        every = [f0 - float(objective(problem, {"w": plain_x}, None)) for plain_x in _cg_iterates(gnp, grad)]
        first = next(
            k for k in range(2, len(every)) if every[k] < 0.9 * max(every[1:k]) and max(every[1:k]) > 0
        )
        opt = optim.hf(
            lambda_init=1e-3, max_cg=50, tol_k_factor=0.0, reduction_stop=0.9, reduction_check="every"
        )
        _, state, info = opt.step(problem, params, opt.init(params), None)
        assert info["cg_stop"] == "monitor" and info["cg_iters"] == first
        assert state.counters.objective == 2 + first  # linearization, f(theta), one per iterate


def _cg_iterates(gnp, grad):
    """Every iterate of plain CG on ``gnp x = -grad`` (index 0: the start), on the ``w`` leaf."""
    from armctl.optim.cg import CGIterator, zero_start

    b = jax.tree_util.tree_map(jnp.negative, grad)
    start = zero_start(None, b)
    return [
        start.x["w"],
        *(it.state.x["w"] for it in CGIterator(gnp, b, start, max_iters=50, tol_k_factor=0.0)),
    ]


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
        np.testing.assert_array_equal(p_on["w"], p_off["w"])  # the same steps, computed the same way


def test_hf_reduction_stop_validates():
    from armctl import optim

    with pytest.raises(ValueError, match=r"reduction_stop must be a finite number in \(0, 1\], got 1.5"):
        optim.hf(reduction_stop=1.5)
    with pytest.raises(ValueError, match="reduction_stop must be a finite number in .* got '0.9'"):
        optim.hf(reduction_stop="0.9")
    with pytest.raises(ValueError, match=r"reduction_check must be one of \['saved', 'every'\], got 'all'"):
        optim.hf(reduction_stop=0.9, reduction_check="all")
