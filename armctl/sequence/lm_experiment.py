"""Training, evaluation and sampling of character-level language models on the optimizer core.

Objective (thesis ch. 5.3): the negative log-likelihood of the next character under
``softmax(logits)``, on random windows of ``context + predict + 1`` characters, scored on the
last ``predict`` predictions (thesis ch. 5.4.2: 250-character sequences, the last 200 scored).
For HF and AHF the loss is in nats per *sequence* (summed over the scored characters, averaged
over sequences), the scale of Martens & Sutskever and of the thesis, so lambda and mu mean what
they mean there (thesis MRNN: lambda 10, mu 0.1, at most 150 CG steps). For Adam it is in nats
per *character*, so learning rate and clipping threshold read as usual. Reported numbers are
always bits per character (bpc).

A run is a run directory (:mod:`armctl.runs`): config.json, checkpoint.npz (whose extras are the
alphabet, the corpus digest and the best parameters on the validation windows), history.json
(``valid_bpc`` on the validated rows), report.json (after ``armctl eval``, also bits per
character on the whole validation and test splits) and progress.png.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from armctl import plots, runs
from armctl.checks import check_integer
from armctl.config import CHECKPOINT_EVERY_HELP, RunConfig, option
from armctl.optim import Problem, registry
from armctl.optim.base import value_and_grad_jit
from armctl.optim.driver import Status
from armctl.optim.gn import gauss_newton_product
from armctl.optim.losses import softmax_cross_entropy
from armctl.optim.parallel import mesh_for, shard_batch
from armctl.sequence import text as T
from armctl.sequence.char_models import MODELS, make_model, n_params

#: The budget of a run given none.
DEFAULT_MINUTES = 10.0
LN2 = math.log(2.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LMConfig(RunConfig):
    """A language-model run (plus :class:`~armctl.config.RunConfig`'s core: seed, optimizer and its
    options, budgets ...). The optimizers' defaults for it are their ``"lm"`` ones in
    :mod:`armctl.optim.registry`: those of the thesis (ch. 5.4.2) and Krause (2015), lambda 10,
    mu 0.1 (HF), at most 150 CG steps, the curvature on a tenth of the gradient batch; Adam with
    step 2e-3 and gradient-norm clipping at 1. Without any budget a run trains for
    :data:`DEFAULT_MINUTES`. Scored predictions have at least ``context`` characters before them."""

    EXPERIMENT = "lm"
    COMMAND = "armctl lm train"

    model: str = option("mlstm", "the model", choices=tuple(sorted(MODELS)))
    hidden: int | None = option(None, "hidden units (default: about 200k parameters)")
    corpus: str = option("default", "'default' (pydoc topics), a text file, text8/enwik8, a PTB directory")
    min_count: int = option(5, "rarer training characters become the unknown symbol")
    optimizer: str = option(
        "hf", "the optimizer: hf (structural damping), ahf (line-search damping), adam ..."
    )
    context: int = option(50, "characters of context before the scored ones in each window")
    predict: int = option(200, "scored characters per window")
    batch_size: int | None = option(
        None, "sequences per gradient batch (default: 1000 for HF/AHF, 32 for first-order methods)"
    )
    eval_every: int = option(
        10, "score the validation windows (and keep the best parameters) every this many steps"
    )
    eval_windows: int = option(64, "validation windows scored during training")
    checkpoint_every: int = option(10, CHECKPOINT_EVERY_HELP)

    def __post_init__(self):
        if self.steps is None and self.function_calls is None and self.minutes is None:
            object.__setattr__(self, "minutes", DEFAULT_MINUTES)
        super().__post_init__()
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; expected one of {sorted(MODELS)}")
        for name in ("context", "predict", "eval_windows", "eval_every", "min_count"):
            check_integer(name, getattr(self, name), 0 if name == "context" else 1)
        for name in ("batch_size", "hidden"):
            check_integer(name, getattr(self, name), 1, optional=True)
        if not isinstance(self.corpus, str):
            raise ValueError(f"corpus must be 'default' or a path, got {self.corpus!r}")
        self.make_optimizer()  # bad optimizer options fail here, before any work

    def default_out(self) -> Path:
        return Path("runs") / "lm" / f"{self.model}_{self.optimizer}_seed{self.seed}"

    def rebuild(self, extra: dict):
        """The language model, sized for the run's alphabet (in the checkpoint's extras)."""
        try:
            size = len(extra["alphabet"])
        except (KeyError, TypeError) as err:
            raise ValueError(f"the checkpoint in {self.run_dir()} holds no alphabet ({err})") from None
        return make_model(self.model, size, self.hidden)

    @classmethod
    def evaluate_run(cls, run_dir, *, log: Callable[[str], None] = print) -> dict:
        return evaluate(run_dir, log=log)

    @property
    def gradient_batch(self) -> int:
        if self.batch_size is not None:
            return self.batch_size
        return 32 if self.first_order else 1000

    @property
    def first_order(self) -> bool:
        """Whether the optimizer takes no curvature batch (Adam ...): it trains on the
        per-character loss, whose scale its learning rate is set for."""
        return not registry.record(self.optimizer).second_order


# ----- problem, optimizer -----------------------------------------------------------------------
def lm_problem(model, per_character: bool = False, remat_block: int = 0) -> Problem:
    """The language model as a Gauss-Newton problem: logits as outputs, the hidden
    pre-activations as structural-damping taps, softmax cross-entropy as the loss (nats per
    sequence, or per scored character when ``per_character``); ``remat_block`` rematerializes
    the scan (see ``armctl.sequence.char_models``)."""

    def outputs(params, batch: T.TextBatch):
        return model.apply(params, batch.inputs, remat_block)

    def loss(logits, batch: T.TextBatch):
        nats = softmax_cross_entropy(logits, batch.targets, batch.mask)
        if per_character:
            nats = nats * batch.mask.shape[0] / jnp.sum(batch.mask)
        return nats

    return Problem(outputs=outputs, loss=loss, tap_nonlinearity="tanh")


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
    check_integer("length", length, 1)
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    ids = _sample_ids(model, params, jnp.asarray(alphabet.encode(prompt)), length, float(temperature), key)
    return alphabet.decode(np.asarray(ids))


# ----- run directories --------------------------------------------------------------------------
def _as_jax(tree, template, path):
    """Leaves of a loaded tree as JAX arrays, checked against the model's parameter shapes."""
    tree = jax.tree_util.tree_map(jnp.asarray, tree)
    if jax.tree_util.tree_map(jnp.shape, tree) != jax.tree_util.tree_map(jnp.shape, template):
        raise ValueError(f"checkpoint {path} holds parameters of other shapes than its model")
    return tree


def alphabet_of(loaded: runs.LoadedRun) -> T.Alphabet:
    """The alphabet a loaded run was trained with (its checkpoint's extras)."""
    try:
        return T.Alphabet(tuple(loaded.extra["alphabet"]))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"corrupt or incompatible checkpoint in {loaded.config.run_dir()}: {err}") from err


def params_of(loaded: runs.LoadedRun, best: bool = True):
    """A loaded run's parameters as JAX arrays: the best on the validation windows (``best``) or
    the latest; ``ValueError`` naming the run if they do not fit its model."""
    path = loaded.config.run_dir() / runs.CHECKPOINT
    try:
        params = loaded.extra["best_params"] if best else loaded.params
    except (KeyError, TypeError) as err:
        raise ValueError(f"corrupt or incompatible checkpoint {path}: {err}") from err
    return _as_jax(params, jax.eval_shape(loaded.model.init_params, jax.random.key(0)), path)


def _corpus_for(config: LMConfig, digest: str | None) -> T.Corpus:
    corpus = T.load_corpus(config.corpus, config.min_count)
    if corpus.digest != digest:
        raise ValueError(
            f"corpus {config.corpus!r} differs from the text this model was trained on (digest "
            f"{corpus.digest[:12]} != {str(digest)[:12]}; for 'default': another Python version)"
        )
    return corpus


def evaluate(run_dir: str | Path, *, log: Callable = print) -> dict:
    """Bits per character of the run's best parameters on the whole validation and test splits,
    added to ``report.json`` under ``evaluation`` (``armctl eval`` / ``armctl lm eval``)."""
    loaded = runs.load_run(run_dir, LMConfig)
    config, model, params = loaded.config, loaded.model, params_of(loaded)
    corpus = _corpus_for(config, loaded.extra.get("corpus_digest"))
    with config.scope():
        evaluation = {
            "valid_bpc": bits_per_character(model, params, corpus.valid, config.context, config.predict),
            "test_bpc": bits_per_character(model, params, corpus.test, config.context, config.predict),
            # a piece of the training text as long as the test split: the generalization gap
            "train_piece_bpc": bits_per_character(
                model, params, corpus.train[: len(corpus.test)], config.context, config.predict
            ),
            "valid_chars": int(len(corpus.valid)) - 1,
            "test_chars": int(len(corpus.test)) - 1,
        }
    report = write_report(config, loaded.params, loaded.history, loaded.extra, log=log)
    report["evaluation"] = evaluation
    runs.write_report(config.run_dir(), report)
    log(
        f"{config.model}: whole validation split {evaluation['valid_bpc']:.3f} bpc, whole test split "
        f"{evaluation['test_bpc']:.3f} bpc (training scored the first {config.eval_windows} "
        "validation windows)"
    )
    return report


def sample_run(
    run_dir: str | Path, prompt: str, length: int = 200, temperature: float = 1.0, seed: int = 0
) -> str:
    """Text sampled from the run's best parameters after ``prompt`` (the prompt included)."""
    loaded = runs.load_run(run_dir, LMConfig)
    config, model, alphabet, params = loaded.config, loaded.model, alphabet_of(loaded), params_of(loaded)
    with config.scope():
        return prompt + sample_text(
            model, params, alphabet, prompt, length, temperature, jax.random.key(seed)
        )


def _batch_sampler(config: LMConfig, corpus: T.Corpus) -> Callable:
    train_ids = jnp.asarray(corpus.train)
    return jax.jit(
        lambda key: T.sample_batch(key, train_ids, config.gradient_batch, config.context, config.predict)
    )


def _to_bpc(config: LMConfig) -> Callable[[float], float]:
    """Training loss to bits per character: training batches score exactly ``predict`` characters
    per sequence, and a first-order method's loss is already per character."""
    if config.first_order:
        return lambda nats: nats / LN2
    return lambda nats: nats / config.predict / LN2


def validation(config: LMConfig, model, valid_ids, mesh, best: dict) -> Callable[[Status], None]:
    """A stop condition that never stops: every ``eval_every`` steps, and at the step where a
    budget ends the run, it scores the validation windows (annotating ``valid_bpc``) and keeps
    the best parameters in ``best`` (``{'bpc', 'params'}``)."""
    budgets = config.stop_conditions()

    def condition(status: Status) -> None:
        history = status.history
        if not len(history) or history.get("valid_bpc", [None])[-1] is not None:
            return None
        if len(history) % config.eval_every and not any(c(status) for c in budgets):
            return None
        bpc = bits_per_character(model, status.params, valid_ids, config.context, config.predict, mesh=mesh)
        history.annotate("valid_bpc", bpc)
        if bpc < best["bpc"]:
            best.update(bpc=bpc, params=status.params)
        return None

    return condition


def train(
    config: LMConfig, *, resume: bool = False, force: bool = False, log: Callable[[str], None] = print
) -> dict:
    """Train within the config's budgets (steps, function calls, minutes: totals over the run),
    scoring the first ``eval_windows`` validation windows every ``eval_every`` steps and keeping
    the best parameters; ``resume`` continues the run in ``config.run_dir()`` (the step keys
    continue, so the batches are those an uninterrupted run would have drawn). Returns the
    report (also in ``report.json``)."""
    with runs.opened(config, resume=resume, force=force) as saved, config.scope():
        corpus = T.load_corpus(config.corpus, config.min_count)
        if saved is not None and saved.extra.get("corpus_digest") != corpus.digest:
            raise ValueError(f"the corpus {config.corpus!r} changed since {config.run_dir()} was trained")
        model = make_model(config.model, corpus.alphabet.size, config.hidden)
        problem = lm_problem(model, config.first_order, config.remat_block)
        k_init, k_run = jax.random.split(jax.random.key(config.seed))
        params = model.init_params(k_init)
        if saved is None:
            best = {"bpc": math.inf, "params": params}
        else:
            params = _as_jax(saved.params, params, config.run_dir())
            best = {"bpc": saved.extra["best_valid_bpc"], "params": saved.extra["best_params"]}
        log(
            f"{config.model} ({n_params(params)} parameters, alphabet {corpus.alphabet.size}) "
            f"with {config.optimizer} on {corpus.name}: {len(corpus.train)} training characters, "
            f"{config.gradient_batch} sequences of {config.context}+{config.predict} per batch"
        )
        valid_ids = corpus.valid[: config.eval_windows * config.predict + config.context + 1]
        to_bpc = _to_bpc(config)

        def describe(record: dict) -> str:
            text = f"train {to_bpc(record['loss']):.3f} bpc"
            if record.get("valid_bpc") is not None:
                text += f"  valid (first {config.eval_windows} windows) {record['valid_bpc']:.3f} bpc"
            if record.get("lambda") is not None:
                text += f"  lambda {record['lambda']:.3g}  cg {record.get('cg_iters')}"
            return text

        def extra() -> dict:
            return {
                "alphabet": list(corpus.alphabet.symbols),
                "corpus_digest": corpus.digest,
                "corpus_name": corpus.name,
                "best_valid_bpc": best["bpc"],
                "best_params": best["params"],
            }

        result = runs.checkpointed_minimize(
            config,
            problem,
            config.make_optimizer(),
            params,
            _batch_sampler(config, corpus),
            k_run,
            saved=saved,
            describe=describe,
            log=log,
            stop=[validation(config, model, valid_ids, mesh_for(config.devices), best)],
            extra=extra,
        )
        return write_report(config, result.params, result.history, extra(), log=log)


def write_report(config: LMConfig, params, history, extra: dict, *, log: Callable = print) -> dict:
    """The run's summary in ``report.json`` and ``progress.png`` (training and validation bits
    per character against steps)."""
    run_dir, to_bpc = config.run_dir(), _to_bpc(config)
    steps = list(range(1, len(history) + 1))
    valid = history.get("valid_bpc", [None] * len(history))
    figures = []
    if len(history):
        figures.append(
            plots.training_curves(
                run_dir / "progress.png",
                {
                    "bits per character": {
                        "train": (steps, [to_bpc(x) for x in history["loss"]]),
                        f"valid (first {config.eval_windows} windows)": (steps, valid),
                    }
                },
                xlabel="step",
                title=f"{config.model} with {config.optimizer}",
            ).name
        )
    report = {
        "model": config.model,
        "optimizer": config.optimizer,
        "params": n_params(params),
        "steps": len(history),
        "wall_s": history["wall_time"][-1] if len(history) else 0.0,
        "train_bpc": to_bpc(history["loss"][-1]) if len(history) else None,
        # On the first eval_windows validation windows, as training scores them; ``armctl eval``
        # adds the whole validation and test splits under "evaluation": a different measurement.
        "valid_windows": config.eval_windows,
        "last_valid_windows_bpc": next((v for v in reversed(valid) if v is not None), None),
        "best_valid_windows_bpc": extra["best_valid_bpc"],
        "function_calls": history["function_calls"][-1] if len(history) else 0,
        "figures": figures,
    }
    runs.write_report(run_dir, report)
    log(
        f"{config.model} with {config.optimizer}: {report['steps']} steps, best valid "
        f"{report['best_valid_windows_bpc']:.3f} bpc on the first {config.eval_windows} validation windows "
        f"(armctl eval scores the whole split); report in {run_dir}"
    )
    return report


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
