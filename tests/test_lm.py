"""Character-level language modelling: data, models, Gauss-Newton products, training, sampling, CLI."""

from __future__ import annotations

import dataclasses
import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from armctl.sequence import char_models
from armctl.sequence import text as T

MODEL_NAMES = ("rnn", "mrnn", "lstm", "mlstm")


def tiny_model(name: str, vocab: int = 5, hidden: int = 3):
    return char_models.make_model(name, vocab, hidden)


def masked_nll(model, params, batch: T.TextBatch) -> jnp.ndarray:
    """Mean negative log-likelihood (nats) over the scored predictions, written out here
    independently of the library's loss so the gradient check tests the model alone."""
    logits, _ = model.apply(params, batch.inputs)
    logp = jax.nn.log_softmax(logits)
    nll = -jnp.take_along_axis(logp, batch.targets[..., None], axis=-1)[..., 0]
    return jnp.sum(nll * batch.mask) / jnp.sum(batch.mask)


# ----- data ------------------------------------------------------------------------------------
def test_alphabet_round_trip_and_unknown_symbol():
    text = "hello world, hello moon\n"
    alphabet = T.Alphabet.from_text(text)
    assert alphabet.symbols[0] == T.UNKNOWN
    assert alphabet.size == len(set(text)) + 1
    ids = alphabet.encode(text)
    assert ids.dtype == np.int32 and ids.min() >= 1
    assert alphabet.decode(ids) == text
    # characters outside the alphabet map to the unknown symbol and decode as it
    assert alphabet.encode("hZ").tolist() == [alphabet.symbols.index("h"), 0]
    assert alphabet.decode(alphabet.encode("hZ")) == "h" + T.UNKNOWN
    # rare characters go to the unknown symbol
    rare = T.Alphabet.from_text("aaab", min_count=2)
    assert rare.symbols == (T.UNKNOWN, "a") and rare.encode("b").tolist() == [0]
    assert T.Alphabet(alphabet.symbols) == alphabet  # rebuilt from the saved symbols


@pytest.mark.parametrize(
    "bad", [("a", "b"), (T.UNKNOWN, "ab"), (T.UNKNOWN, "a", "a"), ()], ids=["no-unk", "multi", "dup", "empty"]
)
def test_alphabet_rejects_bad_symbols(bad):
    with pytest.raises(ValueError):
        T.Alphabet(bad)


def test_alphabet_decode_rejects_out_of_range():
    with pytest.raises(ValueError, match="symbol indices"):
        T.Alphabet.from_text("ab").decode([0, 7])


def test_missing_and_empty_files_raise_naming_the_path(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        T.load_corpus(str(missing))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.txt"):
        T.load_corpus(str(empty))
    binary = tmp_path / "bad.txt"
    binary.write_bytes(b"\xff\xfe\xfa abc")
    with pytest.raises(ValueError, match="bad.txt"):
        T.load_corpus(str(binary))
    with pytest.raises(FileNotFoundError, match="ptb"):
        T.load_corpus(str(tmp_path))  # a directory without the PTB files


def test_default_corpus_splits_are_deterministic_and_contiguous():
    text = T.default_text()
    assert 300_000 < len(text) < 1_000_000
    a, b = T.load_corpus("default", min_count=5), T.load_corpus("default", min_count=5)
    assert a.digest == b.digest and a.alphabet == b.alphabet
    n_train, n_valid, n_test = T.split_sizes(len(text))
    assert (len(a.train), len(a.valid), len(a.test)) == (n_train, n_valid, n_test)
    assert n_train + n_valid + n_test == len(text) and abs(n_valid / len(text) - 0.05) < 1e-3
    assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)
    # the validation split continues the training split
    assert a.alphabet.decode(a.valid[:50]) == "".join(
        c if c in a.alphabet.symbols else T.UNKNOWN for c in text[n_train : n_train + 50]
    )
    # the alphabet comes from the training text only, with rare characters removed
    assert set(a.alphabet.symbols[1:]) <= set(text[:n_train])


def test_text_file_and_ptb_corpora(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("The cat sat on the mat. " * 40, encoding="utf-8")
    corpus = T.load_corpus(str(path))
    assert corpus.name == "book.txt" and len(corpus.train) == 864 and len(corpus.valid) == 48
    ptb = tmp_path / "ptb"
    ptb.mkdir()
    for name, line in zip(T.PTB_FILES, ("a _ c a t", "t h e _ c a t", "a _ c a t"), strict=True):
        (ptb / name).write_text(line + "\n" + line + "\n")
    corpus = T.load_corpus(str(ptb))
    assert corpus.alphabet.decode(corpus.train) == "a cat\na cat\n"
    assert corpus.alphabet.decode(corpus.valid) == f"t{T.UNKNOWN}{T.UNKNOWN} cat\n" * 2
    assert T.load_corpus(str(ptb / T.PTB_FILES[0])).digest == corpus.digest


def test_split_rejects_bad_fractions():
    with pytest.raises(ValueError, match="fractions"):
        T.split_sizes(1000, (0.5, 0.5, 0.5))


def test_sample_batch_windows_come_from_the_text():
    ids = jnp.arange(1000, dtype=jnp.int32) % 97
    batch = T.sample_batch(jax.random.key(0), ids, 8, context=5, predict=20)
    assert batch.tokens.shape == (8, 26) and batch.mask.shape == (8, 25)
    assert float(batch.mask.sum()) == 8 * 20 and float(batch.mask[:, :5].sum()) == 0.0
    # every window is a contiguous piece of the text
    diffs = np.diff(np.asarray(batch.tokens), axis=1) % 97
    assert np.all(diffs == 1)
    again = T.sample_batch(jax.random.key(0), ids, 8, context=5, predict=20)
    assert np.array_equal(batch.tokens, again.tokens)
    with pytest.raises(ValueError, match="shorter than one window"):
        T.sample_batch(jax.random.key(0), ids[:10], 2, context=5, predict=20)


@pytest.mark.parametrize("n", [2, 26, 27, 100, 1001])
def test_sequential_batches_score_every_prediction_once(n):
    ids = (np.arange(n) * 7 % 11 + 1).astype(np.int32)
    batch = T.sequential_batches(ids, context=5, predict=20)
    mask = np.asarray(batch.mask, bool)
    assert mask.sum() == n - 1
    # the scored targets, read window by window, are the text from its second character on
    assert np.array_equal(np.asarray(batch.targets)[mask], ids[1:])
    # each scored prediction of a later window has at least `context` characters before it
    assert not mask[1:, :5].any()


# ----- models ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_gradient_matches_finite_differences(name):
    with jax.enable_x64(True):
        model = tiny_model(name)
        params = model.init_params(jax.random.key(1))
        params = jax.tree_util.tree_map(
            lambda x: x + 0.3 * jax.random.normal(jax.random.key(2), x.shape), params
        )
        ids = jnp.asarray(np.random.default_rng(0).integers(0, 5, 200), dtype=jnp.int32)
        batch = T.sample_batch(jax.random.key(3), ids, 3, context=2, predict=6)
        flat, unravel = ravel_pytree(params)
        f = jax.jit(lambda w: masked_nll(model, unravel(w), batch))
        grad = jax.grad(f)(flat)
        assert flat.dtype == jnp.float64
        for i in range(3):
            direction = jax.random.normal(jax.random.key(10 + i), flat.shape, flat.dtype)
            eps = 1e-6
            fd = (f(flat + eps * direction) - f(flat - eps * direction)) / (2 * eps)
            analytic = jnp.vdot(grad, direction)
            assert abs(float(fd - analytic)) < 1e-7 * max(1.0, abs(float(analytic)))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_apply_from_continues_a_sequence(name):
    # large weights so that the dependence on the first character is visible in float32
    model = dataclasses.replace(tiny_model(name, vocab=7, hidden=4), init_std=0.7)
    params = model.init_params(jax.random.key(0))
    tokens = jax.random.randint(jax.random.key(1), (2, 12), 0, 7)
    logits, preacts = model.apply(params, tokens)
    assert logits.shape == (2, 12, 7) and preacts.shape == (2, 12, 4)
    carry, first, _ = model.apply_from(params, model.initial_state(params, 2), tokens[:, :5])
    _, second, _ = model.apply_from(params, carry, tokens[:, 5:])
    np.testing.assert_allclose(jnp.concatenate([first, second], axis=1), logits, rtol=1e-5, atol=1e-6)
    # predictions depend on the past: changing the first character changes later logits
    changed, _ = model.apply(params, tokens.at[:, 0].set((tokens[:, 0] + 1) % 7))
    assert float(jnp.max(jnp.abs(changed[:, 6:] - logits[:, 6:]))) > 1e-6


def test_default_models_have_about_200k_parameters():
    for name in MODEL_NAMES:
        model = char_models.make_model(name, 101)
        count = char_models.n_params(jax.eval_shape(model.init_params, jax.random.key(0)))
        assert 180_000 < count < 230_000, (name, count)


def test_model_rejects_bad_sizes():
    with pytest.raises(ValueError, match="hidden"):
        char_models.LSTM(vocab=5, hidden=0)
    with pytest.raises(ValueError, match="init_std"):
        char_models.MRNN(vocab=5, init_std=-1.0)
    with pytest.raises(ValueError, match="unknown model 'gru'"):
        char_models.make_model("gru", 5)


# ----- Gauss-Newton products, evaluation, training ---------------------------------------------
@pytest.mark.parametrize("name", ["mrnn", "mlstm"])
def test_gauss_newton_product_matches_explicit_matrices(name):
    """G v + lam mu J_t^T H_D J_t v + lam v from the optimizer core equals the product with
    J^T H J built from an explicit Jacobian (jacfwd) and loss Hessian (jax.hessian)."""
    from armctl.optim import gauss_newton_product
    from armctl.sequence.lm_experiment import lm_problem

    with jax.enable_x64(True):
        model = tiny_model(name, vocab=4, hidden=2)
        params = model.init_params(jax.random.key(0))
        params = jax.tree_util.tree_map(
            lambda x: x + 0.2 * jax.random.normal(jax.random.key(1), x.shape), params
        )
        ids = jnp.asarray(np.random.default_rng(1).integers(0, 4, 50), dtype=jnp.int32)
        batch = T.sample_batch(jax.random.key(2), ids, 2, context=1, predict=3)
        problem = lm_problem(model)
        lam, mu = 0.7, 0.3
        gnp = gauss_newton_product(problem, params, batch, damping=lam, structural=mu)
        flat, unravel = ravel_pytree(params)
        v = jax.random.normal(jax.random.key(3), flat.shape, flat.dtype)

        logits, taps = problem.outputs(params, batch)
        j_out = jax.jacfwd(lambda w: problem.outputs(unravel(w), batch)[0].ravel())(flat)
        j_tap = jax.jacfwd(lambda w: problem.outputs(unravel(w), batch)[1].ravel())(flat)
        h_loss = jax.hessian(lambda o: problem.loss(o.reshape(logits.shape), batch))(logits.ravel())
        h_tap = jnp.diag((1.0 - jnp.tanh(taps.ravel()) ** 2) / taps.shape[0])
        explicit = j_out.T @ h_loss @ j_out + lam * mu * j_tap.T @ h_tap @ j_tap + lam * jnp.eye(flat.size)
        got = ravel_pytree(gnp(unravel(v)))[0]
        np.testing.assert_allclose(got, explicit @ v, rtol=1e-9, atol=1e-11)


def test_uniform_model_scores_log2_of_the_alphabet_size():
    from armctl.sequence.lm_experiment import bits_per_character

    model = tiny_model("lstm", vocab=13, hidden=4)
    params = model.init_params(jax.random.key(0))
    params["out"] = jax.tree_util.tree_map(jnp.zeros_like, params["out"])  # logits 0: uniform
    ids = np.random.default_rng(0).integers(0, 13, 777).astype(np.int32)
    assert bits_per_character(model, params, ids, context=5, predict=20, chunk=8) == pytest.approx(
        math.log2(13)
    )


TRAIN_ARGS = [
    "lm",
    "train",
    "--model",
    "lstm",
    "--hidden",
    "12",
    "--optimizer",
    "hf",
    "--batch-size",
    "16",
    "--context",
    "6",
    "--predict",
    "24",
    "--optimizer-option",
    "max_cg=30",
    "--optimizer-option",
    "lambda_init=1",
    "--min-count",
    "1",
    "--eval-every",
    "5",
]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A tiny LSTM trained with HF for 25 steps (through the CLI) on a short periodic text: it
    must learn it. The budget is in steps (no minutes), so the run is the same on any machine."""
    from armctl.cli import main

    root = tmp_path_factory.mktemp("lm")
    corpus = root / "hello.txt"
    corpus.write_text("hello world\n" * 400, encoding="utf-8")
    run_dir = root / "run"
    argv = [*TRAIN_ARGS, "--corpus", str(corpus), "--steps", "25", "--out", str(run_dir)]
    assert main(argv) == 0
    return run_dir, corpus


def test_tiny_model_learns_a_short_periodic_string(trained_run, capsys):
    from armctl.cli import main
    from armctl.sequence.lm_experiment import evaluate

    run_dir, _ = trained_run
    result = evaluate(run_dir)["evaluation"]
    # 9 symbols + unknown: log2(10) = 3.3 bpc for a uniform guess; 2 characters determine the next one
    assert result["test_bpc"] < 0.1 and result["valid_bpc"] < 0.1
    report = json.loads((run_dir / "report.json").read_text())
    assert report["evaluation"]["test_bpc"] == result["test_bpc"] and report["steps"] == 25
    history = json.loads((run_dir / "history.json").read_text())
    assert [i + 1 for i, v in enumerate(history["valid_bpc"]) if v is not None] == [5, 10, 15, 20, 25]
    # `armctl eval` knows a language-model run when it sees one.
    capsys.readouterr()
    assert main(["eval", str(run_dir)]) == 0 and "test_bpc" in capsys.readouterr().out
    assert main(["lm", "eval", str(run_dir)]) == 0 and "test_bpc" in capsys.readouterr().out
    assert main(["eval", str(run_dir), "--gym"]) == 2
    assert "--gym needs an arm run" in capsys.readouterr().err


def test_sampling_is_reproducible_by_seed(trained_run, capsys):
    from armctl.cli import main
    from armctl.sequence.lm_experiment import sample_run

    run_dir, _ = trained_run
    a = sample_run(run_dir, "hello", length=36, temperature=1.0, seed=3)
    assert a == sample_run(run_dir, "hello", length=36, temperature=1.0, seed=3)
    assert a.startswith("hello") and len(a) == 41
    # the model learned the text, so a low temperature continues it
    assert (
        sample_run(run_dir, "hello", length=24, temperature=0.1, seed=0) == "hello world\nhello world\nhello"
    )
    hot = {sample_run(run_dir, "hello", length=36, temperature=50.0, seed=s) for s in range(3)}
    assert len(hot) == 3  # different seeds, different texts at a high temperature
    capsys.readouterr()
    assert main(["lm", "sample", str(run_dir), "--prompt", "hel", "--length", "9", "--seed", "1"]) == 0
    assert capsys.readouterr().out.startswith("hel")
    with pytest.raises(ValueError, match="temperature"):
        sample_run(run_dir, "hello", temperature=0.0)
    with pytest.raises(ValueError, match="prompt"):
        sample_run(run_dir, "")


def test_checkpoint_is_atomic_and_a_corrupt_one_raises(trained_run, tmp_path):
    import shutil

    from armctl.runs import CHECKPOINT, load_run
    from armctl.sequence.lm_experiment import alphabet_of, params_of

    run_dir, _ = trained_run
    assert not [f for f in os.listdir(run_dir) if ".tmp" in f]  # no temporary file left behind
    loaded = load_run(run_dir)
    assert loaded.config.model == "lstm" and alphabet_of(loaded).size == 10 and len(loaded.history) == 25
    assert params_of(loaded).keys() == params_of(loaded, best=False).keys()
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    path = broken / CHECKPOINT
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match="corrupt"):
        load_run(broken)
    with pytest.raises(FileNotFoundError, match="no run in .*missing: config.json is missing"):
        load_run(tmp_path / "missing")


def test_resume_reproduces_the_uninterrupted_run_and_refuses_other_settings(trained_run, tmp_path, capsys):
    from armctl.cli import main
    from armctl.runs import load_run

    run_dir, corpus = trained_run
    split = tmp_path / "split"
    argv = [*TRAIN_ARGS, "--corpus", str(corpus), "--out", str(split)]
    assert main([*argv, "--steps", "5"]) == 0
    assert main([*argv, "--steps", "5"]) == 2  # a second start into the same directory
    assert "already holds a run" in capsys.readouterr().err
    assert main(["lm", "train", "--resume", str(split), "--steps", "10"]) == 0
    # The first 10 steps of the uninterrupted 25-step run, number for number.
    a, b = load_run(run_dir), load_run(split)
    assert len(b.history) == 10 and b.history["loss"] == a.history["loss"][:10]
    assert b.history["valid_bpc"] == a.history["valid_bpc"][:10]
    assert main(["lm", "train", "--resume", str(split), "--seed", "5"]) == 2
    assert "seed=5 (the run has 0)" in capsys.readouterr().err


def test_rematerialized_scan_gives_identical_values_and_gradients():
    from armctl.sequence.char_models import make_model

    model = make_model("mlstm", 7, hidden=6)
    params = model.init_params(jax.random.key(0))
    tokens = jax.random.randint(jax.random.key(1), (3, 12), 0, 7)

    def loss(p, remat_block):
        logits, preacts = model.apply(p, tokens, remat_block)
        return jnp.sum(jnp.tanh(logits)) + jnp.sum(preacts**2)

    plain = jax.grad(loss)(params, 0)
    remat = jax.jit(jax.grad(loss), static_argnums=1)(params, 4)
    assert float(loss(params, 0)) == pytest.approx(float(loss(params, 4)), rel=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(plain), jax.tree_util.tree_leaves(remat), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
