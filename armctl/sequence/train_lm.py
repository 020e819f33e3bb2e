"""Training, evaluation and sampling of character-level language models on the optimizer core.

Objective (thesis ch. 5.3): the negative log-likelihood of the next character under
``softmax(logits)``, on random windows of ``context + predict + 1`` characters, scored on the
last ``predict`` predictions (thesis ch. 5.4.2: 250-character sequences, the last 200 scored).
For HF and AHF the loss is in nats per *sequence* (summed over the scored characters, averaged
over sequences), the scale of Martens & Sutskever and of the thesis, so lambda and mu mean what
they mean there (thesis MRNN: lambda 10, mu 0.1, at most 150 CG steps). For Adam it is in nats
per *character*, so learning rate and clipping threshold read as usual. Reported numbers are
always bits per character (bpc).

A run directory holds ``checkpoint.pkl`` (the config, the alphabet, the latest parameters and
optimizer state, the best parameters on the validation set, the history; written atomically and
verified on loading by :mod:`armctl.checkpoint`), ``history.json`` and, after evaluation,
``eval.json``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from armctl import checkpoint
from armctl.controllers.lm import MODELS, make_model, n_params
from armctl.optim import History, Problem, adam, ahf, hf, run
from armctl.optim.base import value_and_grad_jit
from armctl.optim.gn import gauss_newton_product
from armctl.optim.losses import softmax_cross_entropy
from armctl.optim.parallel import mesh_for, shard_batch
from armctl.sequence import text as T

OPTIMIZERS = ("hf", "ahf", "adam")
CHECKPOINT = "checkpoint.pkl"
LN2 = math.log(2.0)


@dataclasses.dataclass(frozen=True)
class LMConfig:
    """Everything a run needs; saved as ``config.json``.

    Attributes:
        model: ``rnn``, ``mrnn``, ``lstm`` or ``mlstm``; ``hidden`` its size (None: the ~200k default).
        corpus: ``"default"`` or a path (see :func:`armctl.sequence.text.load_corpus`);
            ``min_count``: rarer training characters become the unknown symbol.
        optimizer: ``hf`` (structural damping), ``ahf`` (line-search damping) or ``adam`` (with clipping).
        context, predict: window layout (scored predictions have at least ``context`` characters before them).
        batch_size: sequences per gradient batch (None: 1000 for HF/AHF, 32 for Adam).
        curvature_fraction: share of the gradient batch used for curvature products (HF/AHF).
        lambda_init, structural_mu, max_cg: HF meta-parameters (thesis ch. 5.4.2: 10, 0.1, 150).
        learning_rate, clip_norm: Adam's step size and global-norm clipping threshold.
        minutes, max_steps: stop when either is reached (``max_steps`` None: time only).
        eval_seconds: validate (and checkpoint) at most this often, and at the end.
        eval_windows: validation windows used for progress and model selection.
        remat_block: rematerialize the scan in blocks of this many characters (0: off).
        devices: shard every training batch over this many devices (data-parallel).
    """

    model: str = "mlstm"
    hidden: int | None = None
    corpus: str = "default"
    min_count: int = 5
    optimizer: str = "hf"
    seed: int = 0
    context: int = 50
    predict: int = 200
    batch_size: int | None = None
    curvature_fraction: float = 0.1
    lambda_init: float = 10.0
    structural_mu: float = 0.1
    max_cg: int = 150
    learning_rate: float = 2e-3
    clip_norm: float = 1.0
    minutes: float = 10.0
    max_steps: int | None = None
    eval_seconds: float = 30.0
    eval_windows: int = 64
    remat_block: int = 0
    devices: int = 1

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; expected one of {sorted(MODELS)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of {OPTIMIZERS}")
        for name in ("context", "predict", "max_cg", "eval_windows", "devices"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "context" else 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("batch_size", "max_steps", "hidden"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if not (self.minutes > 0 and math.isfinite(self.minutes)):
            raise ValueError(f"minutes must be a positive number, got {self.minutes!r}")

    @property
    def gradient_batch(self) -> int:
        if self.batch_size is not None:
            return self.batch_size
        return 32 if self.optimizer == "adam" else 1000


# ----- problem, optimizer -----------------------------------------------------------------------
def lm_problem(model, per_character: bool = False, remat_block: int = 0) -> Problem:
    """The language model as a Gauss-Newton problem: logits as outputs, the hidden
    pre-activations as structural-damping taps, softmax cross-entropy as the loss (nats per
    sequence, or per scored character when ``per_character``); ``remat_block`` rematerializes
    the scan (see ``armctl.controllers.lm``)."""

    def outputs(params, batch: T.TextBatch):
        return model.apply(params, batch.inputs, remat_block)

    def loss(logits, batch: T.TextBatch):
        nats = softmax_cross_entropy(logits, batch.targets, batch.mask)
        if per_character:
            nats = nats * batch.mask.shape[0] / jnp.sum(batch.mask)
        return nats

    return Problem(outputs=outputs, loss=loss, tap_nonlinearity="tanh")


def make_optimizer(config: LMConfig):
    """The optimizer of ``config`` from :mod:`armctl.optim`."""
    if config.optimizer == "adam":
        return adam(learning_rate=config.learning_rate, clip_norm=config.clip_norm)
    if config.optimizer == "ahf":
        return ahf(
            lambda_init=config.lambda_init, max_cg=config.max_cg, curvature_fraction=config.curvature_fraction
        )
    return hf(
        lambda_init=config.lambda_init,
        structural_mu=config.structural_mu,
        max_cg=config.max_cg,
        curvature_fraction=config.curvature_fraction,
    )


# ----- evaluation and sampling ------------------------------------------------------------------
@partial(jax.jit, static_argnums=0)
def _nll_sums(model, params, tokens, mask):
    logits, _ = model.apply(params, tokens[:, :-1])
    # the library loss averages over the batch axis; times the batch size it is the sum
    return softmax_cross_entropy(logits, tokens[:, 1:], mask) * tokens.shape[0], jnp.sum(mask)


def bits_per_character(
    model, params, ids: np.ndarray, context: int = 50, predict: int = 200, chunk: int = 128, mesh=None
) -> float:
    """Bits per character of the model on the text ``ids`` (every prediction from the second
    character on, each with at least ``context`` characters of context where available).
    Windows go through in chunks of ``chunk``, padded with mask 0 so one compilation serves all;
    with a ``mesh`` each chunk is sharded over its devices (padded to a multiple of their number)."""
    batch = T.sequential_batches(ids, context, predict)
    n = batch.tokens.shape[0]
    devices = 1 if mesh is None else mesh.devices.size
    size = chunk if n > chunk else n
    size += (-size) % devices
    pad = (-n) % size
    tokens = jnp.pad(batch.tokens, ((0, pad), (0, 0)))
    mask = jnp.pad(batch.mask, ((0, pad), (0, 0)))
    total, count = 0.0, 0.0
    for start in range(0, tokens.shape[0], size):
        piece = (tokens[start : start + size], mask[start : start + size])
        if mesh is not None:
            piece = shard_batch(piece, mesh)
        nll, m = _nll_sums(model, params, *piece)
        total, count = total + float(nll), count + float(m)
    return total / count / LN2


@partial(jax.jit, static_argnums=(0, 3))
def _sample_ids(model, params, prompt_ids, length, temperature, key):
    carry, logits, _ = model.apply_from(params, model.initial_state(params, 1), prompt_ids[None])

    def body(state, key):
        carry, logits = state
        token = jax.random.categorical(key, logits / temperature)
        carry, logits, _ = model.step(params, carry, token)
        return (carry, logits), token[0]

    _, tokens = jax.lax.scan(body, (carry, logits[:, -1]), jax.random.split(key, length))
    return tokens


def sample_text(
    model, params, alphabet: T.Alphabet, prompt: str, length: int, temperature: float, key
) -> str:
    """``length`` characters drawn from the model after reading ``prompt`` (the prompt excluded);
    the same key gives the same text."""
    if not prompt:
        raise ValueError("prompt must be a non-empty string (the model needs a first character)")
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    ids = _sample_ids(model, params, jnp.asarray(alphabet.encode(prompt)), length, float(temperature), key)
    return alphabet.decode(np.asarray(ids))


# ----- run directories --------------------------------------------------------------------------
def config_from_dict(d: dict) -> LMConfig:
    """An :class:`LMConfig` from its saved dict (unknown keys are an error)."""
    fields = {f.name for f in dataclasses.fields(LMConfig)}
    unknown = set(d) - fields
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}; expected a subset of {sorted(fields)}")
    return LMConfig(**d)


def _as_jax(tree, template, path: str):
    """Leaves of a loaded tree as JAX arrays, checked against the model's parameter shapes."""
    tree = jax.tree_util.tree_map(jnp.asarray, tree)
    shapes = jax.tree_util.tree_map(jnp.shape, tree)
    if shapes != jax.tree_util.tree_map(jnp.shape, template):
        raise ValueError(f"checkpoint {path!r} holds parameters of other shapes than its model")
    return tree


def load_run(run_dir: str, best: bool = True):
    """``(config, model, alphabet, params, meta)`` of a run directory; ``params`` are the best
    parameters on the validation set (``best``) or the latest ones. A missing checkpoint raises
    FileNotFoundError, a corrupt or inconsistent one ValueError naming the file."""
    path = os.path.join(run_dir, CHECKPOINT)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint in run directory {run_dir!r} (expected {path!r})")
    saved = checkpoint.load(path)
    try:
        meta = saved["meta"]
        config = config_from_dict(meta["config"])
        alphabet = T.Alphabet(tuple(meta["alphabet"]))
        params = saved["best" if best else "params"]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"corrupt or incompatible checkpoint {path!r}: {err}") from err
    model = make_model(config.model, alphabet.size, config.hidden)
    template = jax.eval_shape(model.init_params, jax.random.key(0))
    return config, model, alphabet, _as_jax(params, template, path), meta


def _corpus_for(config: LMConfig, meta: dict) -> T.Corpus:
    corpus = T.load_corpus(config.corpus, config.min_count)
    if corpus.digest != meta.get("corpus_digest"):
        raise ValueError(
            f"corpus {config.corpus!r} differs from the text this model was trained on (digest "
            f"{corpus.digest[:12]} != {str(meta.get('corpus_digest'))[:12]}; "
            "for 'default': another Python version)"
        )
    return corpus


def evaluate_run(run_dir: str) -> dict:
    """Bits per character of the run's best parameters on the whole validation and test splits;
    also written to ``RUN_DIR/eval.json``."""
    config, model, alphabet, params, meta = load_run(run_dir)
    corpus = _corpus_for(config, meta)
    result = {
        "model": config.model,
        "optimizer": config.optimizer,
        "params": n_params(params),
        "alphabet": alphabet.size,
        "valid_bpc": bits_per_character(model, params, corpus.valid, config.context, config.predict),
        "test_bpc": bits_per_character(model, params, corpus.test, config.context, config.predict),
        # the same measure on a piece of the training text as long as the test split: the generalization gap
        "train_piece_bpc": bits_per_character(
            model, params, corpus.train[: len(corpus.test)], config.context, config.predict
        ),
        "valid_chars": int(len(corpus.valid)) - 1,
        "test_chars": int(len(corpus.test)) - 1,
        "train_seconds": meta.get("elapsed"),
        "steps": meta.get("step"),
    }
    checkpoint.atomic_write_json(os.path.join(run_dir, "eval.json"), result)
    return result


def sample_run(run_dir: str, prompt: str, length: int = 200, temperature: float = 1.0, seed: int = 0) -> str:
    """Text sampled from the run's best parameters after ``prompt`` (the prompt included)."""
    _, model, alphabet, params, _ = load_run(run_dir)
    return prompt + sample_text(model, params, alphabet, prompt, length, temperature, jax.random.key(seed))


def _batch_sampler(config: LMConfig, corpus: T.Corpus) -> Callable:
    train_ids = jnp.asarray(corpus.train)
    return jax.jit(
        lambda key: T.sample_batch(key, train_ids, config.gradient_batch, config.context, config.predict)
    )


def train(config: LMConfig, run_dir: str, resume: bool = False, log: Callable[[str], None] = print) -> dict:
    """Train for ``config.minutes`` of wall-clock time (or ``config.max_steps`` steps), printing
    training and validation bpc, checkpointing every ``config.eval_seconds`` and at the end.

    ``resume`` continues the run saved in ``run_dir`` (same config apart from the budget,
    ``devices`` and ``remat_block``) for
    ``config.minutes`` more; the step keys continue, so the batches are those an uninterrupted
    run would have drawn. Progress validation (and the choice of the best parameters) uses the
    first ``config.eval_windows`` windows of the validation split. Returns a summary dict.
    """
    path = os.path.join(run_dir, CHECKPOINT)
    corpus = T.load_corpus(config.corpus, config.min_count)
    model = make_model(config.model, corpus.alphabet.size, config.hidden)
    per_character = config.optimizer == "adam"
    problem = lm_problem(model, per_character, config.remat_block)
    opt = make_optimizer(config)
    k_init, k_run = jax.random.split(jax.random.key(config.seed))
    params = model.init_params(k_init)
    state, history, elapsed = opt.init(params), History(), 0.0
    validation = {"step": [], "seconds": [], "bpc": []}  # progress evaluations on the validation windows
    best_params, best_bpc = params, math.inf
    if resume:
        loaded = checkpoint.load(path)
        meta = loaded["meta"]
        saved = config_from_dict(meta["config"])
        # The budget and how the work is spread (devices, remat) may change; the run's numbers may not.
        budget = {name: getattr(config, name) for name in ("minutes", "max_steps", "devices", "remat_block")}
        if dataclasses.replace(saved, **budget) != config:
            raise ValueError(f"--resume needs the config saved in {run_dir!r}: {saved}")
        if meta["corpus_digest"] != corpus.digest:
            raise ValueError(f"the corpus changed since {run_dir!r} was trained")
        params, best_params = _as_jax(loaded["params"], params, path), _as_jax(loaded["best"], params, path)
        state = jax.tree_util.tree_map(jnp.asarray, loaded["state"])
        history, elapsed, best_bpc = History(meta["history"]), meta["elapsed"], meta["best_valid_bpc"]
        validation = meta["validation"]
    elif os.path.exists(path):
        raise ValueError(
            f"run directory {run_dir!r} already holds a checkpoint; use --resume or another --out"
        )

    os.makedirs(run_dir, exist_ok=True)
    sample = _batch_sampler(config, corpus)
    mesh = mesh_for(config.devices)
    valid_ids = corpus.valid[: config.eval_windows * config.predict + config.context + 1]
    # Training batches score exactly `predict` characters per sequence.
    to_bpc = (lambda nats: nats / LN2) if per_character else (lambda nats: nats / config.predict / LN2)
    log(
        f"{config.model} ({n_params(params)} parameters, alphabet {corpus.alphabet.size}) "
        f"with {config.optimizer} "
        f"on {corpus.name}: {len(corpus.train)} training characters, {config.gradient_batch} sequences of "
        f"{config.context}+{config.predict} per batch"
    )
    t_start, last_eval = time.perf_counter() - elapsed, -math.inf
    valid_bpc = math.nan

    def save(step):
        meta = {
            "config": dataclasses.asdict(config),
            "alphabet": list(corpus.alphabet.symbols),
            "corpus_digest": corpus.digest,
            "corpus_name": corpus.name,
            "step": step,
            "elapsed": time.perf_counter() - t_start,
            "best_valid_bpc": best_bpc,
            "valid_bpc": valid_bpc,
            "history": dict(history),
            "validation": validation,
            "n_params": n_params(params),
        }
        checkpoint.save(path, {"meta": meta, "params": params, "state": state, "best": best_params})
        checkpoint.atomic_write_json(
            os.path.join(run_dir, "history.json"), {**history, "validation": validation}
        )

    budget_end = time.perf_counter() + 60.0 * config.minutes
    while True:
        params, state, history = run(
            problem,
            opt,
            params,
            sample,
            k_run,
            steps=len(history) + 1,
            state=state,
            history=history,
            mesh=mesh,
        )
        step, now = len(history), time.perf_counter()
        done = now >= budget_end or (config.max_steps is not None and step >= config.max_steps)
        record = history.record(-1)
        line = f"step {step:5d}  {now - t_start:7.1f}s  train {to_bpc(record['loss']):.3f} bpc"
        if record["lambda"] is not None:
            line += f"  lambda {record['lambda']:.3g}  cg {record['cg_iters']}"
        if done or now - last_eval >= config.eval_seconds:
            valid_bpc = bits_per_character(
                model, params, valid_ids, config.context, config.predict, mesh=mesh
            )
            if valid_bpc < best_bpc:
                best_bpc, best_params = valid_bpc, params
            for name, value in (("step", step), ("seconds", now - t_start), ("bpc", valid_bpc)):
                validation[name].append(value)
            save(step)
            last_eval = time.perf_counter()
            log(f"{line}  valid {valid_bpc:.3f} bpc (best {best_bpc:.3f})")
        elif config.optimizer != "adam" or step % 100 == 0:
            log(line)
        if done:
            break
    counters = state.counters.as_dict()
    return {
        "run_dir": run_dir,
        "model": config.model,
        "optimizer": config.optimizer,
        "params": n_params(params),
        "steps": step,
        "seconds": time.perf_counter() - t_start,
        "best_valid_bpc": best_bpc,
        "last_valid_bpc": valid_bpc,
        "train_bpc": to_bpc(record["loss"]),
        **counters,
    }


def _median_seconds(fn, repeats: int) -> float:
    jax.block_until_ready(fn())  # compile and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def throughput(
    model_name: str,
    hidden: int | None = None,
    batch_size: int = 100,
    repeats: int = 3,
    vocab: int = 101,
    context: int = 50,
    predict: int = 200,
    seed: int = 0,
) -> dict:
    """Characters per second of one gradient and one damped Gauss-Newton product (structural
    damping on) on a batch of ``batch_size`` random sequences, median of ``repeats`` after compiling."""
    model = make_model(model_name, vocab, hidden)
    k_params, k_text, k_batch, k_v = jax.random.split(jax.random.key(seed), 4)
    params = model.init_params(k_params)
    ids = jax.random.randint(k_text, (100_000,), 0, vocab)
    batch = T.sample_batch(k_batch, ids, batch_size, context, predict)
    problem = lm_problem(model)
    v = jax.tree_util.tree_map(lambda x: jax.random.normal(k_v, x.shape, x.dtype), params)
    grad_s = _median_seconds(lambda: value_and_grad_jit(problem, params, batch), repeats)
    linearize_s = _median_seconds(
        lambda: gauss_newton_product(problem, params, batch, damping=1.0, structural=0.1).out, repeats
    )
    gnp = gauss_newton_product(problem, params, batch, damping=1.0, structural=0.1)
    gv_s = _median_seconds(lambda: gnp(v), repeats)
    chars = batch_size * (context + predict)
    return {
        "model": model_name,
        "params": n_params(params),
        "batch_chars": chars,
        "device": str(jax.devices()[0]),
        "grad_s": grad_s,
        "gv_s": gv_s,
        "linearize_s": linearize_s,
        "grad_chars_per_s": chars / grad_s,
        "gv_chars_per_s": chars / gv_s,
    }
