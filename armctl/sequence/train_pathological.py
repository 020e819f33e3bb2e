"""Training RNNs on the pathological problems with the shared optimizer core, and the fig. 4.1 sweep.

The setup of the thesis (sec. 4.4): 100 tanh units with the sparse initialization of
:class:`armctl.controllers.rnn.RNN`; HF with the gradient on 10,000 fresh sequences and the curvature on
the first 1,000 of them each iteration (all 32 sequences for both on the 5-bit memorization
problem), at most 300 CG steps, ``lambda`` initialized to 0.1 with structural damping
``mu = 1/30`` or to 0.3 without (both times ``T`` on random permutation, whose objective sums
``T - 1`` outputs); a test set of 10,000 sequences.  A run succeeds when fewer than 1 % of the test
sequences are misclassified and fails after 50,000 minibatches.

The thesis also stopped CG once the reduction of the objective on the curvature batch fell below
90 % of its maximum during the CG run. That rule is available (``cg_reduction_stop=0.9``) but off
by default: measured here it turned two successes into failures (5-bit memorization at T = 50 and
T = 100): CG stopped after 2-10 steps, those short steps were well predicted, and lambda, and
with it structural damping, decayed to 1e-12 (docs/RESULTS.md).

Work is counted as in Martens & Sutskever (2011, fig. 3): a *minibatch* is 1000 sequences used
for a gradient or a curvature-matrix-vector product, so one gradient on ``n`` sequences is
``n / 1000`` minibatches and one G v product on the curvature batch ``n_c / 1000``.  Objective
evaluations (CG backtracking, the CG stop on the objective's reduction, the reduction ratio, line
searches) are not counted, as in the paper; the optimizer's counters do record them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from armctl import optim
from armctl.controllers.rnn import RNN
from armctl.optim import losses
from armctl.sequence import pathological

#: Optimizers a run can use; "hf" is HF with structural damping, "hf-tikhonov" without.
OPTIMIZERS = ("hf", "hf-tikhonov", "ahf", "adam", "momentum")
SECOND_ORDER = ("hf", "hf-tikhonov", "ahf")
#: Sequences per minibatch in Martens & Sutskever's count.
MINIBATCH = 1000


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One training run; the defaults are the thesis's settings.

    Attributes:
        problem: a name in :data:`armctl.sequence.pathological.PROBLEMS`.
        T: the problem's length parameter.
        optimizer: one of :data:`OPTIMIZERS`.
        seed: seeds the initialization, the data and the test set.
        grad_batch: sequences per gradient (None: 10,000 for HF/AHF, 100 for first-order methods,
            32 = all sequences for the 5-bit memorization problem).
        curvature_batch: sequences per curvature product, the first ones of the gradient batch
            (None: 1,000, or all 32 for the 5-bit memorization problem).
        test_batch: sequences in the fixed test set.
        max_cg: CG steps per HF iteration.
        cg_reduction_stop: HF (both dampings) stops CG at the first saved iterate whose reduction of
            the objective on the curvature batch is below this fraction of the largest earlier one
            (thesis appendix 4.4: 0.9); None (default, see above): only Martens' progress rule
            and ``max_cg``.
        max_minibatches: the failure bound.
        max_seconds: an extra wall-clock bound (None: none); a run stopped by it is a failure.
        eval_every: minibatches between two evaluations of the test error (each at least one step).
        n_hidden: hidden units.
        input_std: std of the nonzero input-to-hidden weights at initialization (thesis: 1).
        recurrent_gain: scale of the nonzero hidden-to-hidden weights at initialization, about
            the spectral radius (thesis: 1). See :class:`armctl.controllers.rnn.RNN`.
        learning_rate: step size of the first-order methods (None: 1e-3 for Adam, 1e-4 for momentum).
        clip: global gradient-norm clipping of the first-order methods.
        devices: shard every batch (gradient, curvature, test) over this many devices.
        remat_block: rematerialize the RNN's scan in blocks of this many steps (0: off).
        float64: train (data, parameters, optimizer) in double precision. Measured on the 5-bit
            memorization problem at T = 100 (docs/RESULTS.md): in float32 every seed tried stalls
            on the plateau where the constant targets are fitted and the 5 recalled bits are at
            chance (loss 5 ln 2), the long-range directions being lost in float32 rounding of the
            curvature products and objective values; in float64 seeds 1 and 2 were solved.
    """

    problem: str
    T: int
    optimizer: str = "hf"
    seed: int = 0
    grad_batch: int | None = None
    curvature_batch: int | None = None
    test_batch: int = 10_000
    max_cg: int = 300
    cg_reduction_stop: float | None = None
    max_minibatches: float = 50_000
    max_seconds: float | None = None
    eval_every: float = 10.0
    n_hidden: int = 100
    input_std: float = 1.0
    recurrent_gain: float = 1.0
    learning_rate: float | None = None
    clip: float = 1.0
    devices: int = 1
    remat_block: int = 0
    float64: bool = False

    def __post_init__(self):
        pathological.spec(self.problem, self.T)  # validates the name and T
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of {OPTIMIZERS}")
        for name in ("grad_batch", "curvature_batch"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")
        if self.curvature_batch is not None and self.curvature_batch > self.gradient_sequences:
            raise ValueError(
                f"curvature_batch ({self.curvature_batch}) must not exceed "
                f"grad_batch ({self.gradient_sequences})"
            )
        for name in ("test_batch", "max_cg", "n_hidden", "devices"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not (isinstance(self.remat_block, int) and self.remat_block >= 0):
            raise ValueError(f"remat_block must be a nonnegative int (0: off), got {self.remat_block!r}")
        for name in ("max_minibatches", "eval_every", "clip", "input_std", "recurrent_gain"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        stop = self.cg_reduction_stop
        if stop is not None and not (isinstance(stop, int | float) and 0 < stop <= 1):
            raise ValueError(f"cg_reduction_stop must be in (0, 1] or None, got {stop!r}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"max_seconds must be > 0 or None, got {self.max_seconds!r}")

    @property
    def all_sequences(self) -> bool:
        """The 5-bit problem has only 32 distinct sequences; the thesis trains on all of them."""
        return self.problem == "memorization_5bit"

    @property
    def gradient_sequences(self) -> int:
        if self.grad_batch is not None:
            return self.grad_batch
        if self.all_sequences:
            return 32
        return 10_000 if self.optimizer in SECOND_ORDER else 100

    @property
    def curvature_sequences(self) -> int:
        if self.curvature_batch is not None:
            return self.curvature_batch
        return min(32 if self.all_sequences else 1000, self.gradient_sequences)

    def minibatches(self, counters: optim.Counters) -> float:
        """Work in Martens & Sutskever's minibatches of 1000 sequences."""
        return (
            counters.gradient * self.gradient_sequences + counters.gv * self.curvature_sequences
        ) / MINIBATCH


@dataclasses.dataclass
class TrainResult:
    """Outcome of one run.

    ``evaluations`` holds one record per test evaluation (iteration, minibatches, loss, test_error,
    wall_time, lambda/cg_iters for HF); ``steps`` is the optimizer core's per-step
    :class:`armctl.optim.History` (a JSON-able dict of columns).
    """

    config: TrainConfig
    success: bool
    minibatches: float
    iterations: int
    wall_time: float
    test_error: float
    evaluations: list[dict]
    steps: dict

    def as_dict(self) -> dict:
        return {
            "config": dataclasses.asdict(self.config),
            "success": self.success,
            "minibatches": self.minibatches,
            "iterations": self.iterations,
            "wall_time": self.wall_time,
            "test_error": self.test_error,
            "evaluations": self.evaluations,
            "steps": dict(self.steps),
        }


def model_for(
    problem: str, T: int, n_hidden: int = 100, input_std: float = 1.0, recurrent_gain: float = 1.0
) -> RNN:
    """The thesis's RNN sized for ``problem`` (``input_std`` and ``recurrent_gain``: see :class:`RNN`)."""
    spec = pathological.spec(problem, T)
    return RNN(spec.n_in, n_hidden, spec.n_out, input_std=input_std, recurrent_gain=recurrent_gain)


@functools.cache
def make_problem(problem: str, T: int, model: RNN, remat_block: int = 0) -> optim.Problem:
    """The optimizer core's view of ``problem``: RNN outputs, hidden pre-activations as taps, and the
    matching loss (squared error for continuous targets, softmax cross-entropy for symbols), summed
    over the masked steps and averaged over sequences.

    Cached, so runs that differ only in seed or optimizer share the compiled functions (the optimizer
    core's jitted functions take the problem as a static argument).
    """
    kind = pathological.spec(problem, T).kind

    def outputs(params, batch: pathological.SequenceBatch):
        out, preacts = model.apply(params, batch.inputs, remat_block)
        # Padding steps get constant taps, so structural damping ignores them.
        return out, jnp.where(batch.valid[..., None], preacts, 0.0)

    if kind == "continuous":
        loss = lambda out, batch: losses.squared_error(out, batch.targets, batch.loss_mask)
    else:
        loss = lambda out, batch: losses.softmax_cross_entropy(out, batch.targets, batch.loss_mask)
    return optim.Problem(outputs=outputs, loss=loss, tap_nonlinearity="tanh")


def make_optimizer(config: TrainConfig) -> optim.Optimizer:
    """The optimizer of ``config`` with the thesis's damping settings (sec. 4.4)."""
    # Random permutation sums T - 1 outputs, so its objective (and lambda) is about T times larger.
    scale = config.T if config.problem == "random_permutation" else 1.0
    fraction = config.curvature_sequences / config.gradient_sequences
    if config.optimizer in ("hf", "hf-tikhonov"):
        structural = config.optimizer == "hf"
        return optim.hf(
            lambda_init=(0.1 if structural else 0.3) * scale,
            structural_mu=1 / 30 if structural else 0.0,
            max_cg=config.max_cg,
            curvature_fraction=fraction,
            reduction_stop=config.cg_reduction_stop,
        )
    if config.optimizer == "ahf":
        return optim.ahf(
            lambda_init=0.1 * scale, structural_mu=1 / 30, max_cg=config.max_cg, curvature_fraction=fraction
        )
    if config.optimizer == "adam":
        return optim.adam(learning_rate=config.learning_rate or 1e-3, clip_norm=config.clip)
    return optim.momentum(learning_rate=config.learning_rate or 1e-4, momentum=0.9, clip_norm=config.clip)


def data_source(config: TrainConfig) -> Callable[[jax.Array], pathological.SequenceBatch]:
    """``key -> gradient batch``: fresh sequences each call, or all 32 for the 5-bit problem."""
    if config.all_sequences and config.gradient_sequences == 32:
        everything = pathological.memorization_5bit_all(config.T)
        return lambda key: everything
    return pathological.sampler(config.problem, config.T, config.gradient_sequences)


@functools.cache
def _error_fn(model: RNN):
    @jax.jit
    def error(params, batch):
        return pathological.error_rate(model.apply(params, batch.inputs)[0], batch)

    return error


def _format(record: dict) -> str:
    parts = [
        f"iter {record['iteration']:5d}",
        f"minibatches {record['minibatches']:9.1f}",
        f"loss {record['loss']:.4g}",
        f"test error {100 * record['test_error']:6.2f}%",
    ]
    if "lambda" in record:
        parts.append(f"lambda {record['lambda']:.3g}")
    if "cg_iters" in record:
        parts.append(f"cg {record['cg_iters']}")
    parts.append(f"{record['wall_time']:.1f} s")
    return "  ".join(parts)


def train(config: TrainConfig, progress: Callable[[str], None] | None = print) -> TrainResult:
    """Train until the test error is below 1 % (success) or a bound is hit (failure).

    Steps go through the shared driver :func:`armctl.optim.run`, one at a time (it resumes from the
    returned state and history), so the test error can be checked between them. ``progress``
    receives one line per test evaluation (None: silent).
    """
    if config.float64 and not jax.config.jax_enable_x64:
        with jax.enable_x64(True):
            return train(config, progress)
    model = model_for(config.problem, config.T, config.n_hidden, config.input_std, config.recurrent_gain)
    problem = make_problem(config.problem, config.T, model, config.remat_block)
    opt = make_optimizer(config)
    mesh = optim.parallel.mesh_for(config.devices)
    k_init, k_data, k_test = jax.random.split(jax.random.key(config.seed), 3)
    params = model.init_params(k_init)
    sample_batch = data_source(config)
    test = (
        pathological.memorization_5bit_all(config.T)
        if config.all_sequences
        else pathological.sampler(config.problem, config.T, config.test_batch)(k_test)
    )
    if mesh is not None:
        test = optim.parallel.shard_batch(test, mesh)
    error = _error_fn(model)
    state, steps, evaluations = None, optim.History(), []
    start = time.perf_counter()
    test_error, used, last_eval = float(error(params, test)), 0.0, 0.0
    while not pathological.solved(test_error) and used < config.max_minibatches:
        if config.max_seconds is not None and time.perf_counter() - start > config.max_seconds:
            break
        params, state, steps = optim.run(
            problem,
            opt,
            params,
            sample_batch,
            k_data,
            steps=len(steps) + 1,
            state=state,
            history=steps,
            mesh=mesh,
        )
        used = config.minibatches(state.counters)
        # A relative tolerance, because the counts are sums of fractional minibatches.
        if used - last_eval >= config.eval_every * (1 - 1e-9) or used >= config.max_minibatches:
            last_eval = used
            test_error = float(error(params, test))
            last = steps.record(len(steps) - 1)
            record = {
                "iteration": len(steps),
                "minibatches": used,
                "loss": last["loss"],
                "test_error": test_error,
                "wall_time": time.perf_counter() - start,
                **{k: last[k] for k in ("lambda", "cg_iters") if last[k] is not None},
            }
            evaluations.append(record)
            if progress is not None:
                progress(_format(record))
    success = pathological.solved(test_error) and used <= config.max_minibatches
    wall = time.perf_counter() - start
    return TrainResult(config, success, used, len(steps), wall, test_error, evaluations, steps)


# --- sweep ---------------------------------------------------------------------------------------


def sweep(
    problems: list[str],
    lengths: list[int],
    optimizers: list[str],
    seeds: list[int],
    out_dir: str | Path,
    progress: Callable[[str], None] | None = print,
    **overrides,
) -> list[TrainResult]:
    """Every (problem, T, optimizer, seed) run; writes ``results.json`` and ``sweep.png`` (fig. 4.1 style)
    to ``out_dir`` after each run, so an interrupted sweep keeps what it finished.

    ``overrides`` are further :class:`TrainConfig` fields (batch sizes, bounds).
    """
    configs = [
        TrainConfig(problem=p, T=T, optimizer=o, seed=s, **overrides)
        for p in problems
        for T in lengths
        for o in optimizers
        for s in seeds
    ]  # built first so a bad setting fails before any training
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for config in configs:
        if progress is not None:
            progress(f"== {config.problem} T={config.T} {config.optimizer} seed={config.seed}")
        results.append(train(config, progress))
        r = results[-1]
        if progress is not None:
            verdict = "success" if r.success else "failure"
            progress(
                f"== {verdict}: {r.minibatches:.1f} minibatches, {r.iterations} iterations, "
                f"{r.wall_time:.1f} s"
            )
        (out / "results.json").write_text(json.dumps([r.as_dict() for r in results], indent=1))
        plot_sweep(results, out / "sweep.png")
    return results


def summarize(results: list[TrainResult]) -> dict:
    """``{(problem, optimizer): {T: (mean, min, max minibatches of successes or None, failure rate)}}``."""
    groups: dict = {}
    for r in results:
        groups.setdefault((r.config.problem, r.config.optimizer), {}).setdefault(r.config.T, []).append(r)
    summary = {}
    for key, by_T in groups.items():
        summary[key] = {}
        for T, runs in sorted(by_T.items()):
            won = [r.minibatches for r in runs if r.success]
            stats = (float(np.mean(won)), min(won), max(won)) if won else None
            summary[key][T] = (stats, 1.0 - len(won) / len(runs))
    return summary


def plot_sweep(results: list[TrainResult], path: str | Path) -> None:
    """Fig. 4.1 layout: per problem, minibatches to success vs T (mean, min-max bars) on top and the
    failure rate below, one line per optimizer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize(results)
    problems = list(dict.fromkeys(r.config.problem for r in results))
    fig, axes = plt.subplots(
        2, len(problems), figsize=(3.2 * len(problems), 5.5), squeeze=False, sharex="col"
    )
    for col, name in enumerate(problems):
        top, bottom = axes[0, col], axes[1, col]
        for (problem, optimizer), by_T in summary.items():
            if problem != name:
                continue
            Ts = list(by_T)
            ok = [(T, s) for T, (s, _) in by_T.items() if s is not None]
            if ok:
                mean = np.array([s[0] for _, s in ok])
                err = np.array([[s[0] - s[1] for _, s in ok], [s[2] - s[0] for _, s in ok]])
                top.errorbar([T for T, _ in ok], mean, yerr=err, marker="o", capsize=3, label=optimizer)
            bottom.plot(Ts, [by_T[T][1] for T in Ts], marker="o", label=optimizer)
        top.set_title(name)
        top.set_ylabel("minibatches to success")
        bottom.set_ylabel("failure rate")
        bottom.set_xlabel("T")
        bottom.set_ylim(-0.05, 1.05)
        if top.get_legend_handles_labels()[0]:
            top.legend(fontsize=7)
        else:  # every run failed: say so rather than leave an empty, unlabelled panel
            top.text(0.5, 0.5, "no run succeeded", transform=top.transAxes, ha="center", va="center")
            top.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
