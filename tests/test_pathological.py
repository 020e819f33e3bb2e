"""The pathological problems: each generator against its definition (thesis sec. 4.4), the success
criterion on hand-made predictions, and a short HF run on the addition problem."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from armctl import optim, runs
from armctl.cli import main
from armctl.sequence import pathological as P
from armctl.sequence import pathological_experiment as TP

N = 2000  # sequences per generator check: enough to hit the ends of every range


def ceil_div(a, b):
    return -(-a // b)


def draw(name, T, n=N, seed=0):
    batch = P.sampler(name, T, n)(jax.random.key(seed))
    return jax.tree.map(np.asarray, batch)


def symbols(batch):
    """1-based symbols of 1-of-N inputs, checking that they are exactly one-hot."""
    assert np.all(batch.inputs.sum(-1) == 1) and np.all((batch.inputs == 0) | (batch.inputs == 1))
    return batch.inputs.argmax(-1) + 1


def common_shape_checks(name, T, batch):
    spec = P.spec(name, T)
    assert batch.inputs.shape == (N, spec.length, spec.n_in)
    assert batch.loss_mask.shape == batch.score_mask.shape == batch.valid.shape == (N, spec.length)
    if spec.kind == "continuous":
        assert batch.targets.shape == (N, spec.length, spec.n_out)
    else:
        assert batch.targets.shape == (N, spec.length) and np.issubdtype(batch.targets.dtype, np.integer)
        assert batch.targets.min() >= 0 and batch.targets.max() < spec.n_out
    # The loss never applies outside a sequence, and every scored step carries loss.
    assert not np.any((batch.loss_mask > 0) & ~batch.valid)
    assert np.all(batch.loss_mask[batch.score_mask] == 1)


@pytest.mark.parametrize("name", ["addition", "multiplication", "xor"])
@pytest.mark.parametrize("T", [30, 50])
def test_marked_number_problems(name, T):
    b = draw(name, T)
    common_shape_checks(name, T, b)
    lengths = b.valid.sum(1)
    assert np.all(b.valid == (np.arange(b.valid.shape[1]) < lengths[:, None]))  # padding only at the end
    # T' ~ i[T, 11T/10], every value reached.
    assert set(lengths) == set(range(T, 11 * T // 10 + 1))
    u, marker = b.inputs[..., 0], b.inputs[..., 1]
    assert np.all(u[~b.valid] == 0) and np.all(marker[~b.valid] == 0)
    if name == "xor":
        assert set(np.unique(u[b.valid])) == {0.0, 1.0}
    else:
        assert u[b.valid].min() >= 0 and u[b.valid].max() <= 1 and u[b.valid].std() > 0.25
    assert np.all(marker.sum(1) == 2) and set(np.unique(marker)) == {0.0, 1.0}
    first = marker.argmax(1) + 1  # 1-based positions
    second = b.inputs.shape[1] - marker[:, ::-1].argmax(1)
    assert np.all(first >= 1) and np.all(first <= lengths // 10)
    assert np.all(second >= ceil_div(lengths, 10)) and np.all(second <= lengths // 2)
    assert set(first) == set(range(1, (11 * T // 10) // 10 + 1))
    # One target, at T'.
    end = np.arange(b.valid.shape[1]) == (lengths - 1)[:, None]
    assert np.all(b.loss_mask == end) and np.all(b.score_mask == end)
    rows = np.arange(N)
    ua, ub = u[rows, first - 1], u[rows, second - 1]
    if name == "xor":
        np.testing.assert_array_equal(b.targets[end], (ua != ub).astype(int))
        assert 0.4 < b.targets[end].mean() < 0.6
    else:
        expected = (ua + ub) / 2 if name == "addition" else ua * ub
        np.testing.assert_allclose(b.targets[end][:, 0], expected, rtol=1e-6)


@pytest.mark.parametrize("n_special", [2, 3])
def test_temporal_order(n_special):
    T = 50
    name = "temporal_order" if n_special == 2 else "temporal_order_3bit"
    b = draw(name, T)
    common_shape_checks(name, T, b)
    s = symbols(b)
    assert np.all(b.valid)
    special = s <= 2
    assert np.all(special.sum(1) == n_special)
    assert set(np.unique(s[~special])) == {3, 4, 5, 6}
    positions = np.sort(np.nonzero(special)[1].reshape(N, n_special), axis=1) + 1
    ranges = [(1, 2), (5, 6)] if n_special == 2 else [(1, 2), (3, 4), (6, 7)]
    label = np.zeros(N, int)
    for k, (lo, hi) in enumerate(ranges):
        p = positions[:, k]
        assert p.min() == ceil_div(lo * T, 10) and p.max() == hi * T // 10  # whole range i[loT/10, hiT/10]
        label = 2 * label + (s[np.arange(N), p - 1] - 1)
    end = np.zeros_like(b.valid)
    end[:, -1] = True
    assert np.all(b.loss_mask == end) and np.all(b.score_mask == end)
    np.testing.assert_array_equal(b.targets[:, -1], label)
    assert set(label) == set(range(2**n_special))


def test_random_permutation():
    T = 30
    b = draw("random_permutation", T)
    common_shape_checks("random_permutation", T, b)
    s = symbols(b)
    assert np.all(s[:, 0] == s[:, -1]) and set(np.unique(s[:, 0])) == {1, 2}
    assert set(np.unique(s[:, 1:-1])) == set(range(3, 101))
    # The target at every step is the next input; none at the last step; success judged on y_{T-1}.
    np.testing.assert_array_equal(b.targets[:, :-1] + 1, s[:, 1:])
    np.testing.assert_array_equal(b.loss_mask, np.broadcast_to(np.arange(T) < T - 1, (N, T)))
    np.testing.assert_array_equal(b.score_mask, np.broadcast_to(np.arange(T) == T - 2, (N, T)))


@pytest.mark.parametrize(
    ("name", "n_items", "n_values"), [("memorization_5bit", 5, 2), ("memorization_20bit", 10, 5)]
)
def test_memorization(name, n_items, n_values):
    T = 40
    b = draw(name, T)
    common_shape_checks(name, T, b)
    assert b.inputs.shape[1] == T + 2 * n_items
    s = symbols(b)
    items = s[:, :n_items]
    assert set(np.unique(items)) == set(range(1, n_values + 1))
    blank, trigger = n_values + 1, n_values + 2
    rest = s[:, n_items:]
    assert np.all(rest[:, T - 1] == trigger)  # t = T + n_items (1-based)
    assert np.all(np.delete(rest, T - 1, axis=1) == blank)
    y = b.targets + 1
    assert np.all(y[:, : T + n_items] == blank)
    np.testing.assert_array_equal(y[:, T + n_items :], items)
    assert np.all(b.loss_mask == 1)
    np.testing.assert_array_equal(
        b.score_mask, np.broadcast_to(np.arange(T + 2 * n_items) >= T + n_items, y.shape)
    )


def test_all_5bit_sequences_are_the_32_distinct_ones():
    b = jax.tree.map(np.asarray, P.memorization_5bit_all(20))
    bits = b.inputs[:, :5].argmax(-1)
    assert len({tuple(r) for r in bits}) == 32
    assert b.inputs.shape == (32, 30, 4)
    one = jax.tree.map(np.asarray, P.sample("memorization_5bit", jax.random.key(3), 20, 1))
    row = int(np.nonzero((bits == one.inputs[0, :5].argmax(-1)).all(1))[0][0])
    for got, want in zip(b, one, strict=True):
        np.testing.assert_array_equal(got[row], want[0])


def test_generators_are_pure_functions_of_the_key():
    draw_8 = P.sampler("addition", 30, 8)
    a, b, c = draw_8(jax.random.key(4)), draw_8(jax.random.key(4)), draw_8(jax.random.key(5))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.inputs, c.inputs)
    np.testing.assert_allclose(P.sample("addition", jax.random.key(4), 30, 8).inputs, a.inputs)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="'adition'"):
        P.sample("adition", jax.random.key(0), 30, 4)
    with pytest.raises(ValueError, match="T must be an int >= 10"):
        P.spec("addition", 5)
    with pytest.raises(ValueError, match="batch_size"):
        P.sample("xor", jax.random.key(0), 30, 0)


# --- success criterion ------------------------------------------------------------------------------


def test_continuous_misclassification_uses_the_004_tolerance_on_scored_steps():
    b = P.sampler("addition", 30, 8)(jax.random.key(6))
    out = b.targets + 0.03  # within tolerance everywhere
    assert not np.any(P.misclassified(out, b))
    end = np.asarray(b.score_mask)
    out = np.asarray(out).copy()
    out[0][end[0]] += 0.02  # error 0.05 on the scored step of sequence 0
    out[1][~end[1]] += 5.0  # huge errors off the scored step of sequence 1 do not count
    np.testing.assert_array_equal(P.misclassified(jnp.asarray(out), b), [True] + [False] * 7)
    assert float(P.error_rate(jnp.asarray(out), b)) == pytest.approx(1 / 8)


def test_symbolic_misclassification_is_argmax_on_scored_steps():
    b = P.sample("memorization_5bit", jax.random.key(7), 10, 3)
    logits = 4.0 * jax.nn.one_hot(b.targets, 3)
    assert not np.any(P.misclassified(logits, b))
    wrong = np.asarray(logits).copy()
    wrong[0, -1] = np.roll(wrong[0, -1], 1)  # one recalled bit wrong
    wrong[1, 0] = np.roll(wrong[1, 0], 1)  # a wrong "blank" prediction is not scored
    np.testing.assert_array_equal(P.misclassified(jnp.asarray(wrong), b), [True, False, False])
    with pytest.raises(ValueError, match="shape"):
        P.misclassified(logits[:, :-1], b)


def test_success_means_fewer_than_one_percent():
    assert P.solved(0.0099) and not P.solved(0.01) and not P.solved(float("nan"))


@pytest.mark.parametrize("name", ["addition", "memorization_5bit"])
def test_nan_outputs_are_never_correct(name):
    b = P.sampler(name, 10, 4)(jax.random.key(8))
    spec = P.spec(name, 10)
    exact = b.targets if spec.kind == "continuous" else 4.0 * jax.nn.one_hot(b.targets, spec.n_out)
    assert not np.any(P.misclassified(exact, b))
    nan = jnp.full_like(jnp.asarray(exact, jnp.float32), jnp.nan)
    assert np.all(P.misclassified(nan, b)) and float(P.error_rate(nan, b)) == 1.0


# --- training ---------------------------------------------------------------------------------------


def quiet(*_):
    pass


def config(problem="addition", T=50, **kwargs):
    return TP.PathologicalConfig(problem=problem, T=T, **kwargs)


def test_default_batch_sizes_and_minibatch_count_follow_the_paper():
    hf = config()
    name, options = hf.optimizer_settings()
    assert (hf.gradient_sequences, hf.curvature_sequences, hf.test_batch, options["max_cg"]) == (
        10_000,
        1000,
        10_000,
        300,
    )
    assert name == "hf" and hf.max_minibatches == 50_000
    mem = config("memorization_5bit")
    assert (mem.gradient_sequences, mem.curvature_sequences) == (32, 32)
    assert config(optimizer="adam").gradient_sequences == 100
    # One gradient on 10,000 sequences is 10 minibatches, a G v product on 1,000 is one.
    assert hf.minibatches(optim.Counters(objective=7, gradient=2, gv=30)) == 50.0
    # On the 5-bit problem's whole data set (32 sequences) every evaluation is one minibatch.
    assert mem.minibatches(optim.Counters(gradient=1, gv=10)) == 11.0
    assert config("memorization_5bit", batch_size=64).minibatches(optim.Counters(gradient=1, gv=10)) == (
        pytest.approx(0.704)
    )
    small = config(batch_size=500, optimizer_options={"curvature_fraction": 0.2})
    assert (small.gradient_sequences, small.curvature_sequences, small.curvature_batch) == (500, 100, 100)
    assert config(batch_size=500, curvature_batch=100).optimizer_settings()[1]["curvature_fraction"] == 0.2


def test_presets_fill_what_a_run_does_not_give():
    thesis, quick = config(preset="thesis"), config(preset="quick")
    # The thesis's protocol as written, the 90 % CG stop checked at every iterate included.
    assert (thesis.batch_size, thesis.curvature_batch, thesis.test_batch, thesis.max_minibatches) == (
        10_000,
        1000,
        10_000,
        50_000,
    )
    options = thesis.optimizer_settings()[1]
    assert options["reduction_stop"] == 0.9 and options["reduction_check"] == "every"
    assert "reduction_stop" not in config(preset="thesis", optimizer="ahf").optimizer_settings()[1]
    assert (quick.batch_size, quick.curvature_sequences, quick.test_batch) == (1000, 200, 2000)
    # What a run gives wins over its preset, and config.json records the resolved values.
    mine = config(preset="quick", batch_size=3000, test_batch=500, input_std=0.02, recurrent_gain=1.2)
    assert (mine.batch_size, mine.curvature_batch, mine.test_batch) == (3000, 200, 500)
    assert TP.PathologicalConfig.from_json(mine.to_json()) == mine
    assert mine.to_json()["input_std"] == 0.02 and mine.to_json()["curvature_batch"] == 200
    assert (
        config(preset="thesis", optimizer_options={"reduction_stop": None}).optimizer_settings()[1][
            "reduction_stop"
        ]
        is None
    )
    with pytest.raises(ValueError, match="unknown preset 'fast'"):
        config(preset="fast")
    with pytest.raises(ValueError, match="give the curvature batch once"):
        config(curvature_batch=100, optimizer_options={"curvature_fraction": 0.5})
    # Resolved configs rebuild to themselves (resume and campaigns replace fields of them).
    by_fraction = config(batch_size=1000, optimizer_options={"curvature_fraction": 0.2})
    assert dataclasses.replace(by_fraction, seed=1).curvature_batch == 200
    with pytest.raises(ValueError, match=r"curvature_batch \(2000\) must not exceed batch_size \(1000\)"):
        config(batch_size=1000, curvature_batch=2000)


def test_damping_settings_follow_the_appendix():
    params = TP.model_for("addition", 30).init_params(jax.random.key(0))
    lam = lambda cfg: float(cfg.make_optimizer().init(params).lam)
    assert lam(config(T=30, optimizer="hf")) == pytest.approx(0.1)
    assert lam(config(T=30, optimizer="hf-tikhonov")) == pytest.approx(0.3)
    assert lam(config("random_permutation", 30, optimizer="hf")) == pytest.approx(3.0)
    assert config(optimizer="hf").optimizer_settings()[1]["structural_mu"] == pytest.approx(1 / 30)
    assert config(optimizer="hf-tikhonov").optimizer_settings()[1]["structural_mu"] == 0.0


def test_hf_thesis_cg_stop_is_an_option():
    params = TP.model_for("addition", 10, hidden=8).init_params(jax.random.key(0))
    batch = P.sampler("addition", 10, 40)(jax.random.key(1))
    model = TP.model_for("addition", 10, hidden=8)
    problem = TP.make_problem("addition", 10, model)
    assert "reduction_stop" not in config(T=10).optimizer_settings()[1]  # off by default: see the module
    infos = {}
    for stop in (0.9, None):
        cfg = config(
            T=10, batch_size=40, optimizer_options={"curvature_fraction": 0.5, "reduction_stop": stop}
        )
        opt = cfg.make_optimizer()
        _, state, info = opt.step(problem, params, opt.init(params), batch)
        infos[stop] = (info, state.counters)
    # The rule evaluates the objective on the curvature batch: f(theta) and every saved iterate
    # (on top of the linearization and at least one backtracking evaluation on the gradient batch).
    from armctl.optim.cg import save_points

    (on, c_on), (off, _) = infos[0.9], infos[None]
    assert off["cg_stop"] != "monitor" and on["cg_iters"] <= off["cg_iters"]
    saved = len([i for i in save_points(300, 1.3) if i <= on["cg_iters"]])
    assert c_on.objective >= 1 + 1 + saved + 1
    with pytest.raises(ValueError, match="reduction_stop"):
        config(T=10, optimizer_options={"reduction_stop": 1.5})


def test_float64_training_is_scoped_to_the_run(monkeypatch, tmp_path):
    from armctl.sequence.rnn import SparseTanhRNN

    dtypes, init = [], SparseTanhRNN.init_params

    def recording(self, key):
        params = init(self, key)
        dtypes.append(params["w_rec"].dtype)
        return params

    monkeypatch.setattr(SparseTanhRNN, "init_params", recording)
    cfg = config(
        "memorization_5bit", 3, hidden=8, precision="float64", max_minibatches=0.05, out=str(tmp_path)
    )
    report = TP.train(cfg, log=quiet)
    assert dtypes == [jnp.float64] and not jax.config.jax_enable_x64
    history = json.loads((tmp_path / "history.json").read_text())
    assert report["iterations"] >= 1 and np.isfinite(history["loss"]).all()


def test_problem_loss_and_taps():
    T = 30
    model = TP.model_for("addition", T, hidden=8)
    problem = TP.make_problem("addition", T, model)
    params = model.init_params(jax.random.key(1))
    batch = P.sampler("addition", T, 8)(jax.random.key(2))
    out, taps = problem.outputs(params, batch)
    # Squared error at T' only, summed over time and averaged over sequences.
    err = np.asarray(out - batch.targets)[..., 0][np.asarray(batch.loss_mask) == 1]
    assert float(problem.loss(out, batch)) == pytest.approx(0.5 * np.sum(err**2) / 8, rel=1e-5)
    # Structural damping sees no padding: the taps are constant (zero) after T'.
    assert np.all(np.asarray(taps)[~np.asarray(batch.valid)] == 0)
    sym = TP.make_problem("memorization_5bit", 5, TP.model_for("memorization_5bit", 5, 8))
    b = P.memorization_5bit_all(5)
    logits = jnp.zeros((32, 15, 3))
    assert float(sym.loss(logits, b)) == pytest.approx(15 * np.log(3), rel=1e-5)


def test_bad_training_configs_raise():
    with pytest.raises(ValueError, match="'sgd'"):
        config(T=30, optimizer="sgd")
    with pytest.raises(ValueError, match="curvature_fraction"):
        config(T=30, batch_size=100, optimizer_options={"curvature_fraction": 2.0})
    with pytest.raises(ValueError, match="T must be"):
        config("xor", 3)
    with pytest.raises(ValueError, match="recurrent_gain must be a positive number, got -1.2"):
        config(T=30, recurrent_gain=-1.2)
    with pytest.raises(ValueError, match=r"unknown adam option\(s\) \['max_cg'\]"):
        config(T=30, optimizer="adam", optimizer_options={"max_cg": 3})


def test_hf_with_structural_damping_solves_short_addition(tmp_path):
    # Reduced batches (the thesis: 10,000 / 1,000 / 10,000); about 25 HF iterations, ~100 minibatches.
    cfg = config(
        T=10,
        batch_size=500,
        optimizer_options={"curvature_fraction": 0.2},
        test_batch=500,
        eval_every=0.1,
        max_minibatches=600,
        out=str(tmp_path / "run"),
    )
    report = TP.train(cfg, log=quiet)
    assert report["success"] and report["test_error"] < 0.01
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    scored = [e for e in history["test_error"] if e is not None]
    assert 0 < report["minibatches"] <= 600 and report["iterations"] == len(scored) == len(history["loss"])
    assert scored[0] > 0.5 and scored[-1] == report["test_error"]  # it did have to learn the task
    assert history["minibatches"][-1] == report["minibatches"] and "lambda" in history
    # The network's memory, measured wherever the test set was scored.
    memory = [(e is None, m is None) for e, m in zip(history["test_error"], history["lyapunov"], strict=True)]
    assert all(a == b for a, b in memory) and all(
        np.isfinite(m) for m in history["lyapunov"] if m is not None
    )


@pytest.fixture(scope="module")
def adam_run(tmp_path_factory):
    """Four Adam steps on addition through the CLI: a failure, reported by the exit code."""
    root = tmp_path_factory.mktemp("patho")
    argv = ["pathological", "addition", "--T", "10", "--optimizer", "adam", "--input-std", "0.5"]
    argv += ["--recurrent-gain", "1.1", *SMALL, "--out", str(root / "run")]
    assert main(argv) == 1
    return root / "run"


SMALL = ["--batch-size", "50", "--test-batch", "200", "--max-minibatches", "0.2", "--eval-every", "0.05"]


def test_cli_single_run_is_a_run_directory(adam_run):
    report = json.loads((adam_run / "report.json").read_text())
    assert report["success"] is False and report["minibatches"] == pytest.approx(0.2)
    assert report["config"]["problem"] == "addition" and report["iterations"] == 4
    assert report["config"]["input_std"] == 0.5 and report["config"]["recurrent_gain"] == 1.1
    history = json.loads((adam_run / "history.json").read_text())
    assert history["gradient_calls"] == [1, 2, 3, 4] and None not in history["test_error"]
    assert (adam_run / "progress.png").read_bytes()[:4] == b"\x89PNG"


def test_pathological_runs_resume_to_the_uninterrupted_numbers(adam_run, tmp_path):
    split = tmp_path / "split"
    argv = ["pathological", "addition", "--T", "10", "--optimizer", "adam", "--input-std", "0.5"]
    argv += ["--recurrent-gain", "1.1", *SMALL, "--out", str(split)]
    assert main([*argv, "--steps", "2"]) == 1
    assert main(["pathological", "--resume", str(split), "--steps", "4"]) == 1
    straight, resumed = (json.loads((d / "history.json").read_text()) for d in (adam_run, split))
    assert resumed["loss"] == straight["loss"] and resumed["test_error"] == straight["test_error"]
    params_a, params_b = runs.load_run(adam_run).params, runs.load_run(split).params
    np.testing.assert_array_equal(params_a["w_rec"], params_b["w_rec"])


def test_sweeps_merge_their_runs(adam_run, tmp_path):
    out = tmp_path / "sweep"
    base = [
        "pathological",
        "sweep",
        "--problems",
        "addition",
        "--optimizer",
        "adam",
        *SMALL,
        "--out",
        str(out),
    ]
    assert main([*base, "--T", "10,12", "--seed", "0"]) == 0
    assert main([*base, "--T", "10", "--seed", "1"]) == 0  # another seed into the same directory
    results = json.loads((out / "results.json").read_text())
    runs_done = {(r["config"]["T"], r["config"]["seed"]) for r in results}
    assert runs_done == {(10, 0), (12, 0), (10, 1)} and (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_sweep_summary_counts_successes_and_failures(tmp_path):
    def result(T, seed, success, minibatches):
        cfg = config(T=T, seed=seed)
        return {"config": cfg.to_json(), "success": success, "minibatches": minibatches}

    results = [
        result(30, 0, True, 100.0),
        result(30, 1, True, 300.0),
        result(30, 2, False, 50_000.0),
        result(50, 0, False, 50_000.0),
    ]
    summary = TP.summarize(results)
    stats, failure_rate = summary[("addition", "hf")][30]
    assert stats == (200.0, 100.0, 300.0) and failure_rate == pytest.approx(1 / 3)
    assert summary[("addition", "hf")][50] == (None, 1.0)
    TP.plot_sweep(results, tmp_path / "fig.png")
    assert (tmp_path / "fig.png").read_bytes()[:4] == b"\x89PNG"
