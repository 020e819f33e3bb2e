"""HF, AHF and the baselines on real objectives; the run driver; rejection of non-finite steps;
the optimizer registry and its option checks."""

import math
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from armctl.optim import (
    OPTIMIZERS,
    Counters,
    History,
    Problem,
    adam,
    ahf,
    curvature_batch,
    gd,
    hf,
    lbfgs,
    losses,
    make,
    minimize,
    momentum,
    ncg,
    nesterov,
    objective,
)
from armctl.optim.second_order import LAMBDA_RANGE, levenberg_marquardt

# ----- problems ------------------------------------------------------------------------------
D_LS = 10
W_TRUE = jnp.linspace(-1.0, 1.0, D_LS)


def _ls_outputs(params, batch):
    return batch["x"] @ params["w"] + params["b"], ()


LEAST_SQUARES = Problem(_ls_outputs, lambda out, batch: losses.squared_error(out, batch["y"]))


@jax.jit
def _ls_batch(key):
    x = jax.random.normal(key, (32, D_LS))
    return {"x": x, "y": x @ W_TRUE + 0.5}


LS_PARAMS = {"w": jnp.zeros(D_LS), "b": jnp.zeros(())}

H, T, B = 8, 10, 64


def _rnn_init(key, scale):
    k = jax.random.split(key, 3)
    return {
        "w_in": jax.random.normal(k[0], (2, H)) / jnp.sqrt(2.0),
        "w_rec": scale * jax.random.normal(k[1], (H, H)) / jnp.sqrt(H),
        "b": jnp.zeros(H),
        "w_out": jax.random.normal(k[2], (H, 1)) / jnp.sqrt(H),
        "b_out": jnp.zeros(1),
    }


def _rnn_run(params, x):
    def body(h, x_t):
        a = x_t @ params["w_in"] + h @ params["w_rec"] + params["b"]
        h = jnp.tanh(a)
        return h, (h @ params["w_out"] + params["b_out"], a)

    _, (y, a) = jax.lax.scan(body, jnp.zeros((x.shape[0], H)), jnp.swapaxes(x, 0, 1))
    return jnp.swapaxes(y, 0, 1), jnp.swapaxes(a, 0, 1)


TEACHER = _rnn_init(jax.random.PRNGKey(42), 1.2)


@jax.jit
def _rnn_batch(key):
    x = jax.random.normal(key, (B, T, 2))
    return {"x": x, "y": _rnn_run(TEACHER, x)[0]}


RNN = Problem(
    lambda p, batch: _rnn_run(p, batch["x"]), lambda out, batch: losses.squared_error(out, batch["y"])
)
RNN_PARAMS = _rnn_init(jax.random.PRNGKey(0), 0.5)
RNN_EVAL = _rnn_batch(jax.random.PRNGKey(999))


def _train(problem, opt, params, sample, steps, eval_batch, key=0):
    return minimize(problem, opt, params, sample, jax.random.PRNGKey(key), steps=steps, eval_batch=eval_batch)


# ----- HF / AHF ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make", [lambda: hf(lambda_init=1.0, max_cg=50), lambda: ahf(max_cg=50)], ids=["hf", "ahf"]
)
def test_second_order_solves_least_squares(make):
    eval_batch = _ls_batch(jax.random.PRNGKey(7))
    _, state, hist = _train(LEAST_SQUARES, make(), LS_PARAMS, _ls_batch, 6, eval_batch)
    assert hist["eval_loss"][-1] < 1e-5 * float(objective(LEAST_SQUARES, LS_PARAMS, eval_batch))
    assert all(hist["accepted"][:3])
    assert hist["gv_calls"][-1] == state.counters.gv > 0 and hist["cg_iters"][0] > 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: hf(lambda_init=1.0, max_cg=60),
        lambda: hf(lambda_init=1.0, max_cg=60, structural_mu=0.3),
        lambda: ahf(
            lambda_init=1.0, max_cg=60, augment=False, line_search="backtracking", curvature_fraction=0.5
        ),
        lambda: ahf(max_cg=60),
        lambda: ahf(max_cg=60, max_group=8),
    ],
    ids=["hf", "hf-structural", "line-search-damping", "ahf", "ahf-grouped"],
)
def test_second_order_trains_tanh_rnn(make):
    start = float(objective(RNN, RNN_PARAMS, RNN_EVAL))
    _, _, hist = _train(RNN, make(), RNN_PARAMS, _rnn_batch, 8, RNN_EVAL)
    assert hist["eval_loss"][-1] < 0.03 * start, (start, hist["eval_loss"])
    assert all(isinstance(x, float) for x in hist["lambda"])


def test_grouped_line_searches_evaluate_less_where_the_model_is_exact():
    """On least squares the Gauss-Newton quadratic is the objective (up to lam): groups are kept
    at their optimum with one evaluation and grow to max_group, so one step's evaluations per CG
    direction fall well below the thesis's one or more, and the step lowers the loss as much."""
    with jax.enable_x64(True):  # float64: the objective resolves the step's whole decrease
        params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), LS_PARAMS)
        batch = _ls_batch(jax.random.PRNGKey(7))
        start = float(objective(LEAST_SQUARES, params, batch))
        per_direction, after = {}, {}
        for group in (1, 8):
            opt = ahf(max_cg=50, max_group=group)
            _, state, info = opt.step(LEAST_SQUARES, params, opt.init(params), batch)
            searches = state.counters.objective - 1  # less the linearization
            per_direction[group] = searches / info["cg_iters"]
            after[group] = info["new_loss"]
        assert per_direction[1] >= 1.0 and per_direction[8] < 0.5, per_direction
        assert after[8] < 1e-3 * start and after[8] < 2 * after[1], (start, after)


def _nan_problem():
    """Finite for outputs <= 1e-3, NaN beyond: every step the optimizers try (towards 5) is past the cliff."""

    def loss(out, batch):
        return 0.5 * jnp.sum((out - 5.0) ** 2) + jnp.where(jnp.any(out > 1e-3), jnp.nan, 0.0)

    return Problem(lambda p, batch: (p["w"], ()), loss)


@pytest.mark.parametrize(
    "make",
    [lambda: hf(lambda_init=1e-3, max_cg=5), lambda: ahf(lambda_init=1e-3, max_cg=5)],
    ids=["hf", "ahf"],
)
def test_step_making_objective_nan_is_rejected_and_lambda_grows(make):
    opt, problem, params = make(), _nan_problem(), {"w": jnp.zeros(3)}
    state = opt.init(params)
    new_params, new_state, info = opt.step(problem, params, state, {}, jax.random.PRNGKey(0))
    assert not info["accepted"] and info["new_loss"] == info["loss"] == pytest.approx(37.5)
    np.testing.assert_array_equal(new_params["w"], params["w"])
    assert float(new_state.lam) > float(state.lam)
    assert np.isfinite(np.asarray(new_state.delta["w"])).all()


def test_same_seed_same_history_and_resume_from_numpy_checkpoint():
    opt = hf(lambda_init=1.0, max_cg=20, curvature_fraction=0.25)
    times = ("step_time", "wall_time")
    strip = lambda h: {k: v for k, v in h.items() if k not in times}
    p_a, _, h_a = _train(RNN, opt, RNN_PARAMS, _rnn_batch, 4, RNN_EVAL, key=3)
    _, _, h_b = _train(RNN, opt, RNN_PARAMS, _rnn_batch, 4, RNN_EVAL, key=3)
    assert strip(h_a) == strip(h_b)
    # interrupted after 2 steps, checkpointed as numpy + JSON, resumed: identical to uninterrupted
    p_half, s_half, h_half = _train(RNN, opt, RNN_PARAMS, _rnn_batch, 2, RNN_EVAL, key=3)
    to_numpy = lambda tree: jax.tree_util.tree_map(np.asarray, tree)
    blob = pickle.dumps((to_numpy(p_half), to_numpy(s_half)))
    p_np, s_np = pickle.loads(blob)
    h_res = History.from_json(h_half.to_json())
    key = jax.random.PRNGKey(3)
    p_c, _, h_c = minimize(
        RNN, opt, p_np, _rnn_batch, key, steps=4, eval_batch=RNN_EVAL, state=s_np, history=h_res
    )
    assert strip(h_c) == strip(h_a) and len(h_c) == 4
    np.testing.assert_array_equal(p_c["w_rec"], p_a["w_rec"])  # the same steps from the same numbers
    _, _, h_d = _train(RNN, opt, RNN_PARAMS, _rnn_batch, 4, RNN_EVAL, key=4)
    assert h_d["loss"] != h_a["loss"]


def test_run_callback_budget_and_validation():
    seen = []
    callback = lambda step, p, s, rec: seen.append((step, rec["function_calls"]))
    key = jax.random.PRNGKey(0)
    _, state, hist = minimize(
        LEAST_SQUARES, gd(0.05), LS_PARAMS, _ls_batch, key, max_function_calls=5, callback=callback
    )
    assert seen == [(i, i + 1) for i in range(5)] and len(hist) == 5 and hist["eval_loss"] == [None] * 5
    assert state.counters == Counters(0, 5, 0) and state.counters.function_calls == 5
    assert History.from_json(hist.to_json()) == hist and hist.record(4)["gradient_calls"] == 5
    with pytest.raises(ValueError, match="unknown History columns"):
        History({"steps": [1]})
    with pytest.raises(ValueError, match="steps or max_function_calls"):
        minimize(LEAST_SQUARES, gd(0.1), LS_PARAMS, _ls_batch, jax.random.PRNGKey(0))
    with pytest.raises(TypeError, match="Optimizer"):
        minimize(LEAST_SQUARES, "adam", LS_PARAMS, _ls_batch, jax.random.PRNGKey(0), steps=1)


def test_batch_refresh_keeps_each_batch_for_k_steps():
    """``batch_refresh=3`` (the thesis's L-BFGS protocol, with 25): steps 0-2 share a batch, 3-5
    the next; on a kept batch the next step starts from the objective the last one ended at."""
    seen = []

    def sample(key):
        seen.append(np.asarray(key))
        return _ls_batch(key)

    key = jax.random.PRNGKey(5)
    _, _, hist = minimize(LEAST_SQUARES, lbfgs(), LS_PARAMS, sample, key, steps=7, batch_refresh=3)
    same = [[bool(np.array_equal(a, b)) for b in seen] for a in seen]
    assert [same[0][i] for i in range(7)] == [True, True, True, False, False, False, False]
    assert same[3][4] and same[3][5] and not same[3][6]
    for i in (0, 1, 3, 4):  # within a batch, loss before step i + 1 = loss after step i
        assert hist["loss"][i + 1] == hist["new_loss"][i]  # the same objective at the same parameters
    assert hist["loss"][3] != pytest.approx(hist["new_loss"][2], rel=1e-6)
    # batch_refresh=1 is the default: a fresh batch every step, the same history as before
    _, _, h1 = minimize(LEAST_SQUARES, lbfgs(), LS_PARAMS, _ls_batch, key, steps=3)
    _, _, h1b = minimize(LEAST_SQUARES, lbfgs(), LS_PARAMS, _ls_batch, key, steps=3, batch_refresh=1)
    assert h1["loss"] == h1b["loss"]
    with pytest.raises(ValueError, match="batch_refresh must be an integer >= 1, got 0"):
        minimize(LEAST_SQUARES, lbfgs(), LS_PARAMS, _ls_batch, key, steps=1, batch_refresh=0)


def test_lbfgs_keeps_its_pairs_newest_first_and_a_new_pair_moves_no_old_one():
    opt, batch = lbfgs(memory=3), _ls_batch(jax.random.PRNGKey(0))
    params, state = LS_PARAMS, opt.init(LS_PARAMS)
    history = []
    for _ in range(5):  # one fixed batch: every step is accepted and stores its pair
        before = state
        params, state, info = opt.step(LEAST_SQUARES, params, state, batch)
        assert info["accepted"]
        # The older pairs are the very same arrays, one place further back: nothing was copied.
        assert all(a is b for a, b in zip(state.s[1:], before.s[:-1], strict=True))
        assert all(a is b for a, b in zip(state.y[1:], before.y[:-1], strict=True))
        history.append((state.s[0], state.y[0]))
    assert state.count == 3  # the memory is full, the two oldest pairs dropped
    for j, (s, y) in enumerate(reversed(history[-3:])):
        assert state.s[j] is s and state.y[j] is y
        # float32 parameters: a few units of its 1.2e-7 resolution, whatever the summation order
        np.testing.assert_allclose(state.rho[j], 1.0 / float(s @ y), rtol=1e-5)
    s, y = history[-1]
    np.testing.assert_allclose(state.gamma, float(s @ y) / float(y @ y), rtol=1e-5)


def test_curvature_batch_is_an_evenly_spaced_share_of_every_leaf():
    batch = {"x": jnp.arange(10.0), "y": jnp.arange(30.0).reshape(10, 3), "s": jnp.asarray(2.0)}
    cb = curvature_batch(batch, 0.25)
    np.testing.assert_array_equal(cb["x"], [0.0, 3.0, 6.0])
    np.testing.assert_array_equal(cb["y"], np.arange(30.0).reshape(10, 3)[[0, 3, 6]])
    assert float(cb["s"]) == 2.0
    # An ordered batch (center-out's targets by angle) keeps its spread: a quarter of 64 targets
    # is every fourth one, around the whole circle, not the first quadrant.
    np.testing.assert_array_equal(curvature_batch(jnp.arange(64), 0.25), np.arange(0, 64, 4))
    assert curvature_batch(batch, 1.0) is batch
    # A ratio of counts gives back exactly that count: 7 / 25 * 25 rounds to 7.000000000000001.
    for k, n in [(7, 25), (15, 29), (200, 1000), (1000, 10_000)]:
        assert curvature_batch({"x": jnp.arange(n)}, k / n)["x"].shape == (k,)


# ----- first-order and quasi-Newton baselines -----------------------------------------------
@pytest.mark.parametrize(
    "make,steps,factor",
    [
        (lambda: lbfgs(memory=20), 40, 0.1),
        (lambda: ncg(), 40, 0.3),
        (lambda: adam(0.02, clip_norm=10.0), 60, 0.3),
        (lambda: gd(0.1), 60, 0.7),
        (lambda: momentum(0.05, 0.9), 60, 0.5),
        (lambda: nesterov(0.05, 0.9), 60, 0.5),
    ],
    ids=["lbfgs", "ncg", "adam", "gd", "momentum", "nesterov"],
)
def test_baselines_reduce_rnn_objective(make, steps, factor):
    start = float(objective(RNN, RNN_PARAMS, RNN_EVAL))
    _, state, hist = _train(RNN, make(), RNN_PARAMS, _rnn_batch, steps, RNN_EVAL)
    assert hist["eval_loss"][-1] < factor * start, (start, hist["eval_loss"][-5:])
    assert state.counters.gradient >= steps and hist["function_calls"][-1] == state.counters.function_calls


def test_ncg_grows_its_step_when_the_gradient_is_tiny():
    """A loss scaled by 1e-6 has gradients of 1e-6: the step that carries the last step's
    first-order decrease over (Nocedal & Wright 3.60) must be allowed to grow, or NCG crawls (it
    stalled arm center-out at 1e4 x iLQR when capped at 1 and never grown)."""
    tiny = Problem(_ls_outputs, lambda out, batch: 1e-6 * losses.squared_error(out, batch["y"]))
    batch = _ls_batch(jax.random.PRNGKey(0))
    start = float(objective(tiny, LS_PARAMS, batch))
    _, _, hist = _train(tiny, ncg(), LS_PARAMS, lambda key: batch, 30, batch)
    assert hist["eval_loss"][-1] < 1e-3 * start, (start, hist["eval_loss"][-5:])


def test_ncg_restarts_after_a_rejected_step_instead_of_repeating_it():
    """A carried-over step far too short to change the loss is rejected (Armijo passes on a
    rounding tie, the loss does not fall); NCG must not retry it from the same point forever."""
    batch = _ls_batch(jax.random.PRNGKey(0))
    opt = ncg()
    params, state, info = opt.step(LEAST_SQUARES, LS_PARAMS, opt.init(LS_PARAMS), batch)
    assert info["accepted"]
    stuck = state._replace(step_size=1e-30)  # the step center-out seed 0 repeated for 30k calls
    params2, state2, info2 = opt.step(LEAST_SQUARES, params, stuck, batch)
    assert not info2["accepted"] and info2["step_size"] < 1e-20
    _, _, info3 = opt.step(LEAST_SQUARES, params2, state2, batch)
    assert info3["accepted"] and info3["new_loss"] < 0.9 * info3["loss"], info3


@pytest.mark.parametrize(
    "make",
    [
        lambda: hf(max_cg=10),
        lambda: ahf(max_cg=10),
        lambda: lbfgs(memory=5),
        lambda: ncg(),
        lambda: adam(0.01),
        lambda: nesterov(0.01),
    ],
    ids=["hf", "ahf", "lbfgs", "ncg", "adam", "nesterov"],
)
def test_state_survives_numpy_pickle_between_steps(make):
    opt, key = make(), jax.random.PRNGKey(0)
    batches = [_ls_batch(jax.random.PRNGKey(i)) for i in range(3)]

    def three_steps(convert):
        params, state = LS_PARAMS, opt.init(LS_PARAMS)
        for batch in batches:
            if convert:
                state = pickle.loads(pickle.dumps(jax.tree_util.tree_map(np.asarray, state)))
            params, state, info = opt.step(LEAST_SQUARES, params, state, batch, key)
            assert {"loss", "new_loss", "accepted"} <= set(info)
        return params, state

    (p_a, s_a), (p_b, s_b) = three_steps(False), three_steps(True)
    np.testing.assert_array_equal(p_a["w"], p_b["w"])  # numpy leaves hold the very same numbers
    assert s_a.counters.as_dict() == s_b.counters.as_dict()


def test_gradient_clipping_bounds_the_step():
    state = gd(1.0, clip_norm=0.01).init(LS_PARAMS)
    params, _, info = gd(1.0, clip_norm=0.01).step(
        LEAST_SQUARES, LS_PARAMS, state, _ls_batch(jax.random.PRNGKey(0))
    )
    moved = np.sqrt(np.sum(np.asarray(params["w"]) ** 2) + float(params["b"]) ** 2)
    # the clipped step's norm, computed twice over 11 float32 entries: within 32 roundings of 0.01
    assert info["grad_norm"] > 1.0 and moved == pytest.approx(0.01, rel=32 * float(np.finfo(np.float32).eps))


def test_levenberg_marquardt_rule_and_saturation():
    assert levenberg_marquardt(1.0, 0.1, 2 / 3, 3 / 2) == 1.5  # rho < 1/4: boost
    assert levenberg_marquardt(1.0, 0.5, 2 / 3, 3 / 2) == 1.0  # in between: keep
    assert levenberg_marquardt(1.0, 0.9, 2 / 3, 3 / 2) == 2 / 3  # rho > 3/4: drop
    assert levenberg_marquardt(1.0, -math.inf, 2 / 3, 3 / 2) == 1.5
    lam = 1.0
    for _ in range(2000):  # a plateau where every step is rejected (NaN rho: a non-finite objective)
        lam = levenberg_marquardt(lam, float("nan"), 2 / 3, 3 / 2)
    assert lam == LAMBDA_RANGE[1]
    assert levenberg_marquardt(lam, 0.9, 2 / 3, 3 / 2) == LAMBDA_RANGE[1] * 2 / 3
    assert levenberg_marquardt(LAMBDA_RANGE[0], 0.9, 2 / 3, 3 / 2) == LAMBDA_RANGE[0]


def test_ahf_without_augmentation_forgets_the_previous_update():
    """``augment=False`` starts CG from zero every step: a step depends on the state's lam only,
    not on the previous update it carries; with augmentation the previous update changes it."""
    batches = [_ls_batch(jax.random.PRNGKey(i)) for i in range(2)]
    for augment in (False, True):
        opt = ahf(lambda_init=1e-2, max_cg=4, augment=augment)
        params, state, _ = opt.step(LEAST_SQUARES, LS_PARAMS, opt.init(LS_PARAMS), batches[0])
        assert np.any(np.asarray(state.delta["w"]) != 0)
        fresh = state._replace(delta=jax.tree_util.tree_map(jnp.zeros_like, state.delta))
        p_kept, _, info_kept = opt.step(LEAST_SQUARES, params, state, batches[1])
        p_fresh, _, info_fresh = opt.step(LEAST_SQUARES, params, fresh, batches[1])
        same = np.array_equal(p_kept["w"], p_fresh["w"]) and info_kept == info_fresh
        assert same != augment, (augment, info_kept, info_fresh)


# ----- the registry and the option checks ------------------------------------------------------
def test_registry_names_every_trainer_and_make_builds_them():
    builtin = {"ahf", "hf", "hf-tikhonov", "lbfgs", "ncg", "adam", "momentum", "nesterov", "gd"}
    assert builtin <= set(OPTIMIZERS)
    assert OPTIMIZERS["ahf"].factory is ahf and OPTIMIZERS["gd"].factory is gd
    assert OPTIMIZERS["hf-tikhonov"].factory is hf and OPTIMIZERS["hf"].second_order
    needs = {
        "gd": {"learning_rate": 0.1},
        "momentum": {"learning_rate": 0.1},
        "nesterov": {"learning_rate": 0.1},
    }
    batch = _ls_batch(jax.random.PRNGKey(0))
    for name in OPTIMIZERS:
        opt = make(name, **needs.get(name, {}))
        _, _, info = opt.step(LEAST_SQUARES, LS_PARAMS, opt.init(LS_PARAMS), batch)
        assert info["accepted"]
    # options arrive as JSON values: an integer where a float is expected is fine
    assert make("hf", lambda_init=1, max_cg=5).init(LS_PARAMS).lam == 1.0
    with pytest.raises(TypeError):
        OPTIMIZERS["sgd"] = gd  # read-only


@pytest.mark.parametrize(
    "name,options,message",
    [
        ("sgd", {}, r"unknown optimizer 'sgd'; expected one of \['ahf', 'hf', .*'gd'\]"),
        ("ahf", {"foo": 1}, "unknown option foo for optimizer 'ahf'; valid options: lambda_init, .*augment"),
        ("hf", {"damping": "line-search"}, "unknown option damping for optimizer 'hf'; valid options: "),
        ("gd", {}, "optimizer 'gd' needs the option learning_rate"),
    ],
)
def test_make_rejects_unknown_names_and_options(name, options, message):
    with pytest.raises(ValueError, match=message):
        make(name, **options)


# One bad value per class, for every factory whose options have that class: the message names the
# option, the bad value and what is valid.
BAD_OPTIONS = [
    # a string where a number is expected
    ("ahf", {"lambda_init": "abc"}, "lambda_init must be a finite number > 0, got 'abc'"),
    ("hf", {"structural_mu": "0.1"}, "structural_mu must be a finite number >= 0, got '0.1'"),
    ("adam", {"learning_rate": "fast"}, "learning_rate must be a finite number > 0, got 'fast'"),
    ("lbfgs", {"c1": "x"}, r"c1 must be a finite number in \(0, 1\), got 'x'"),
    # a bool where a number is expected
    ("hf", {"lambda_init": True}, "lambda_init must be a finite number > 0, got True"),
    ("momentum", {"learning_rate": 0.1, "momentum": False}, r"momentum must be a finite number in \[0, 1\)"),
    # not finite
    ("ahf", {"tol_k_factor": float("nan")}, "tol_k_factor must be a finite number >= 0, got nan"),
    ("gd", {"learning_rate": float("inf")}, "learning_rate must be a finite number > 0, got inf"),
    # out of range
    ("hf", {"curvature_fraction": 0.0}, r"curvature_fraction must be a finite number in \(0, 1\], got 0.0"),
    ("ahf", {"lambda_drop": 1.5}, r"lambda_drop must be a finite number in \(0, 1\), got 1.5"),
    ("hf", {"lambda_boost": 0.5}, "lambda_boost must be a finite number > 1, got 0.5"),
    ("hf", {"line_search_shrink": 1.0}, r"line_search_shrink must be a finite number in \(0, 1\), got 1.0"),
    ("adam", {"b2": 1.0}, r"b2 must be a finite number in \[0, 1\), got 1.0"),
    ("nesterov", {"learning_rate": 0.1, "clip_norm": 0}, "clip_norm must be a finite number > 0, got 0"),
    ("ncg", {"shrink": 0}, r"shrink must be a finite number in \(0, 1\), got 0"),
    # a non-integer where an integer is expected
    ("ahf", {"max_cg": 2.5}, "max_cg must be an integer >= 1, got 2.5"),
    ("hf", {"max_cg": "50"}, "max_cg must be an integer >= 1, got '50'"),
    ("lbfgs", {"memory": True}, "memory must be an integer >= 1, got True"),
    ("ahf", {"min_cg": 300}, r"min_cg must be an integer in \[0, 250\], got 300"),
    ("hf", {"max_line_search": 0}, "max_line_search must be an integer >= 1, got 0"),
    ("ncg", {"max_line_search": 1.0}, "max_line_search must be an integer >= 1, got 1.0"),
    # a non-bool where a bool is expected
    ("ahf", {"adapt_lambda": "maybe"}, "adapt_lambda must be true or false, got 'maybe'"),
    ("ahf", {"augment": 1}, "augment must be true or false, got 1"),
    ("ahf", {"max_group": 0}, "max_group must be an integer >= 1, got 0"),
    # a string outside its choices
    (
        "ahf",
        {"line_search": "cubic"},
        r"line_search must be one of \['parabolic', 'backtracking'\], got 'cubic'",
    ),
    # an optional number
    ("hf", {"reduction_stop": 0.0}, r"reduction_stop must be a finite number in \(0, 1\], got 0.0"),
]


@pytest.mark.parametrize("name,options,message", BAD_OPTIONS)
def test_factories_name_the_bad_option_its_value_and_what_is_valid(name, options, message):
    with pytest.raises(ValueError, match=message):
        make(name, **options)
    with pytest.raises(ValueError, match=message):  # the factory itself checks, not only make()
        OPTIMIZERS[name].factory(**options)
