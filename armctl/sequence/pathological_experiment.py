"""Training RNNs on the pathological problems with the shared optimizer core, and the fig. 4.1 sweep.

The setup of the thesis (sec. 4.4): 100 tanh units with the sparse initialization of
:class:`armctl.sequence.rnn.SparseTanhRNN`; HF (structural damping) with the gradient on 10,000 fresh
sequences and the curvature on the first 1,000 of them each iteration (all 32 sequences for both on
the 5-bit memorization problem), at most 300 CG steps, ``lambda`` initialized to 0.1 with structural damping
``mu = 1/30`` or to 0.3 without (both times ``T`` on random permutation, whose objective sums
``T - 1`` outputs); a test set of 10,000 sequences.  A run succeeds when fewer than 1 % of the test
sequences are misclassified and fails after 50,000 minibatches.

The thesis also stopped CG once the reduction of the objective on the curvature batch fell below
90 % of its maximum during the CG run. That rule is available (the optimizer option
``reduction_stop=0.9``) but off
by default: measured here it turned two successes into failures (5-bit memorization at T = 50 and
T = 100): CG stopped after 2-10 steps, those short steps were well predicted, and lambda, and
with it structural damping, decayed to 1e-12 (docs/RESULTS.md).

Work is counted as in Martens & Sutskever (2011, fig. 3): a *minibatch* is 1000 sequences used
for a gradient or a curvature-matrix-vector product, so one gradient on ``n`` sequences is
``n / 1000`` minibatches and one G v product on the curvature batch ``n_c / 1000``.  Objective
evaluations (CG backtracking, the CG stop on the objective's reduction, the reduction ratio, line
searches) are not counted, as in the paper; the optimizer's counters do record them.

A run is a run directory (:mod:`armctl.runs`): it checkpoints and resumes like every other run;
its history holds ``minibatches`` on every row and ``test_error`` on the rows where the test set
was scored, and report.json says whether it succeeded. A sweep (:func:`sweep`) keeps one run
directory per (problem, T, optimizer, seed) and merges their reports into ``results.json``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from armctl import checkpoint, optim, plots, runs
from armctl.checks import check_integer
from armctl.config import RunConfig, option
from armctl.optim import losses, registry
from armctl.optim.driver import Status
from armctl.sequence import pathological
from armctl.sequence.rnn import SparseTanhRNN

#: Sequences per minibatch in Martens & Sutskever's count.
MINIBATCH = 1000

#: The thesis's protocol (appendix 4.4): gradient on 10,000 fresh sequences, curvature on 1,000
#: of them, a test set of 10,000, failure after 50,000 minibatches, the ch. 4 initialization,
#: and CG stopped once the objective's reduction on the curvature batch falls below 90 % of its
#: maximum during the CG run (checked at every CG iterate, as the appendix words it).
THESIS = {
    "batch_size": 10_000,
    "curvature_batch": 1_000,
    "test_batch": 10_000,
    "max_minibatches": 50_000,
    "input_std": 1.0,
    "recurrent_gain": 1.0,
    "optimizer_options": {"reduction_stop": 0.9, "reduction_check": "every"},
}
#: Settings of each preset, for the fields a run does not give (``optimizer_options`` are merged
#: under the run's own, for the second-order optimizers). "default": the thesis's protocol but
#: where an experiment in docs/RESULTS.md ("Pathological problems", the fidelity table) found
#: better; "thesis": the thesis's protocol as written; "quick": reduced batches that make the
#: short problems feasible in minutes on a laptop's CPU (not the thesis's; minibatches are still
#: counted per 1000 sequences).
PRESETS: dict[str, dict] = {
    "default": {**THESIS, "optimizer_options": {}},
    "thesis": THESIS,
    "quick": {
        **THESIS,
        "batch_size": 1000,
        "curvature_batch": 200,
        "test_batch": 2000,
        "optimizer_options": {},
    },
}
#: Sequences per gradient of the first-order optimizers when the run gives none.
FIRST_ORDER_BATCH = 100
#: The 5-bit problem's whole data set: its 32 distinct sequences (gradient, curvature and test).
ALL_5BIT = 32


@dataclasses.dataclass(frozen=True, kw_only=True)
class PathologicalConfig(RunConfig):
    """One training run; fields left ``None`` take the preset's value (:data:`PRESETS`; the
    default preset is the thesis's protocol but where RESULTS found better), resolved at
    construction so that ``config.json`` records every value the run used. Plus
    :class:`~armctl.config.RunConfig`'s core: seed, optimizer and options, budgets ...

    The optimizer options default to the thesis's (:meth:`optimizer_settings`): HF and AHF with
    ``lambda_init`` 0.1 and structural damping ``mu = 1/30``, HF without it ("hf-tikhonov") with
    ``lambda_init`` 0.3 (both times ``T`` on random permutation, whose objective sums ``T - 1``
    outputs), at most 300 CG steps, the curvature on ``curvature_batch`` evenly spaced sequences
    of the gradient batch (``curvature_fraction``); Adam (``learning_rate`` 1e-3) and momentum
    (1e-4, 0.9) with gradient-norm clipping at 1, on 100 sequences per step. The 5-bit
    memorization problem trains and tests on its 32 distinct sequences. ``precision='float64'``:
    measured on the 5-bit memorization problem at T = 100 (docs/RESULTS.md), in float32 every
    seed tried stalls on the plateau where the constant targets are fitted and the 5 recalled
    bits are at chance, the long-range directions being lost in float32 rounding; in float64
    seeds 1 and 2 were solved.
    """

    EXPERIMENT = "pathological"
    COMMAND = "armctl pathological"

    problem: str = option("addition", "the problem", choices=tuple(pathological.PROBLEMS), cli=False)
    T: int = option(50, "the problem's length parameter", listable=True)
    optimizer: str = option("hf", "the optimizer", listable=True)
    seed: int = option(0, "seeds the initialization, the data and the test set", listable=True)
    preset: str = option(
        "default",
        "the settings of the fields not given: 'thesis' is the thesis's protocol as written "
        "(10,000 / 1,000 sequences, test 10,000, 50,000 minibatches, the 90 %% CG stop); 'default' "
        "is that but where docs/RESULTS.md found better; 'quick' has reduced batches (1000 / 200, "
        "test 2000)",
        choices=tuple(PRESETS),
    )
    batch_size: int | None = option(
        None,
        "sequences per gradient (default: the preset's, 10,000, for HF/AHF; 100 for first-order "
        "methods; all 32 for the 5-bit memorization problem)",
    )
    curvature_batch: int | None = option(
        None, "sequences per curvature product, evenly spaced in the gradient batch (default: the preset's)"
    )
    test_batch: int | None = option(None, "sequences in the fixed test set (default: the preset's)")
    max_minibatches: float | None = option(
        None, "the failure bound, in minibatches of 1000 sequences (default: the preset's, 50,000)"
    )
    eval_every: float = option(10.0, "minibatches between two scorings of the test set")
    hidden: int = option(100, "tanh hidden units")
    input_std: float | None = option(
        None,
        "std of the nonzero input weights at initialization (thesis and presets: 1; see docs/RESULTS.md)",
    )
    recurrent_gain: float | None = option(
        None,
        "scale of the nonzero recurrent weights at initialization, about their spectral radius "
        "(thesis and presets: 1)",
    )

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; expected one of {list(PRESETS)}")
        self._resolve_preset()
        super().__post_init__()
        pathological.spec(self.problem, self.T)  # validates the name and T
        for name in ("batch_size", "curvature_batch", "test_batch", "hidden"):
            check_integer(name, getattr(self, name), 1)
        if self.curvature_batch > self.batch_size:
            raise ValueError(
                f"curvature_batch ({self.curvature_batch}) must not exceed batch_size ({self.batch_size})"
            )
        for name in ("max_minibatches", "eval_every", "input_std", "recurrent_gain"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0 and np.isfinite(value)):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        self.make_optimizer()  # bad optimizer options fail here, before any work

    def _resolve_preset(self) -> None:
        """Fill the fields left ``None`` from the preset (the 5-bit problem: its 32 sequences)."""
        preset = PRESETS[self.preset]
        five_bit = self.problem == "memorization_5bit"
        first_order = not registry.record(self.optimizer).second_order
        resolved = {
            "batch_size": ALL_5BIT
            if five_bit
            else FIRST_ORDER_BATCH
            if first_order
            else preset["batch_size"],
            "test_batch": ALL_5BIT if five_bit else preset["test_batch"],
            "max_minibatches": preset["max_minibatches"],
            "input_std": preset["input_std"],
            "recurrent_gain": preset["recurrent_gain"],
        }
        for name, value in resolved.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        fraction = self.optimizer_options.get("curvature_fraction")
        implied = None
        if isinstance(fraction, int | float) and 0 < fraction <= 1:  # else make_optimizer() says why
            implied = optim.curvature_batch(np.zeros(self.batch_size), fraction).shape[0]
        if fraction is not None and self.curvature_batch not in (None, implied):
            raise ValueError(
                f"give the curvature batch once: curvature_batch={self.curvature_batch!r} or the optimizer "
                f"option curvature_fraction={fraction!r} ({implied} sequences), not both"
            )
        if self.curvature_batch is None:
            if implied is None:
                implied = self.batch_size if five_bit or first_order else preset["curvature_batch"]
            object.__setattr__(self, "curvature_batch", min(implied, self.batch_size))

    def sharded_sizes(self) -> tuple[int, ...]:
        """The training minibatch and the test set (the curvature share is split where it
        divides, else held whole)."""
        return (self.batch_size, self.test_batch)

    def default_out(self) -> Path:
        return Path("runs") / "pathological" / run_name(self)

    def rebuild(self, extra: dict) -> SparseTanhRNN:
        """The run's network (:func:`model_for` its settings)."""
        return model_for(self.problem, self.T, self.hidden, self.input_std, self.recurrent_gain)

    @classmethod
    def evaluate_run(cls, run_dir, *, log: Callable[[str], None] = print) -> dict:
        return evaluate(run_dir, log=log)

    @property
    def all_sequences(self) -> bool:
        """The 5-bit problem trained on its whole data set, all 32 sequences in every batch (the thesis)."""
        return self.problem == "memorization_5bit" and self.batch_size == ALL_5BIT

    @property
    def gradient_sequences(self) -> int:
        return self.batch_size

    def optimizer_settings(self) -> tuple[str, dict]:
        """The optimizer's name and options: its ``"pathological"`` defaults beside it in
        :mod:`armctl.optim.registry` (the thesis's, sec. 4.4: lambda 0.1 with structural damping
        mu = 1/30, 0.3 without ("hf-tikhonov"), 300 CG steps), times ``T`` for lambda on random
        permutation, the curvature batch as ``curvature_fraction``, the preset's options, then
        ``optimizer_options``."""
        defaults = registry.defaults(self.optimizer, self.EXPERIMENT)
        if registry.record(self.optimizer).second_order:
            # Random permutation sums T - 1 outputs, so its objective (and lambda) is about T times larger.
            if "lambda_init" in defaults and self.problem == "random_permutation":
                defaults["lambda_init"] *= self.T
            defaults["curvature_fraction"] = self.curvature_batch / self.batch_size
            if "reduction_stop" in inspect.signature(registry.record(self.optimizer).factory).parameters:
                defaults.update(PRESETS[self.preset]["optimizer_options"])
        return self.optimizer, {**defaults, **self.optimizer_options}

    @property
    def curvature_sequences(self) -> int:
        """Sequences per curvature product (:func:`armctl.optim.curvature_batch` of the fraction)."""
        fraction = self.optimizer_settings()[1].get("curvature_fraction", 1.0)
        return optim.curvature_batch(np.zeros(self.gradient_sequences), fraction).shape[0]

    def minibatches(self, counters: optim.Counters) -> float:
        """Work in Martens & Sutskever's minibatches: a gradient or curvature product on ``n``
        sequences is ``n / 1000`` minibatches, except on the 5-bit problem's whole data set (its
        32 sequences, the thesis's batch for both), where each one counts as a minibatch: the
        paper's unit is the batch one evaluation uses, and counting 0.032 would give that
        problem a failure bound of 1.6 million products, 30 times the others'."""
        if self.all_sequences:
            return float(counters.gradient + counters.gv)
        return (
            counters.gradient * self.gradient_sequences + counters.gv * self.curvature_sequences
        ) / MINIBATCH


def run_name(config: PathologicalConfig) -> str:
    """``PROBLEM-T50-OPTIMIZER-s0``: a run's directory name in a sweep."""
    return f"{config.problem}-T{config.T}-{config.optimizer}-s{config.seed}"


def model_for(
    problem: str, T: int, hidden: int = 100, input_std: float = 1.0, recurrent_gain: float = 1.0
) -> SparseTanhRNN:
    """The thesis's RNN sized for ``problem`` (``input_std``, ``recurrent_gain``: :class:`SparseTanhRNN`)."""
    spec = pathological.spec(problem, T)
    return SparseTanhRNN(spec.n_in, hidden, spec.n_out, input_std=input_std, recurrent_gain=recurrent_gain)


@functools.cache
def make_problem(problem: str, T: int, model: SparseTanhRNN, remat_block: int = 0) -> optim.Problem:
    """The optimizer core's view of ``problem``: the network's outputs, hidden pre-activations as
    taps, and the matching loss (squared error for continuous targets, softmax cross-entropy for
    symbols), summed over the masked steps and averaged over sequences.

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


def data_source(config: PathologicalConfig) -> Callable[[jax.Array], pathological.SequenceBatch]:
    """``key -> gradient batch``: fresh sequences each call, or all 32 for the 5-bit problem."""
    if config.all_sequences:
        everything = pathological.memorization_5bit_all(config.T)
        return lambda key: everything
    return pathological.sampler(config.problem, config.T, config.gradient_sequences)


def test_set(config: PathologicalConfig) -> pathological.SequenceBatch:
    """The fixed test set of the run's seed (all 32 sequences for the 5-bit problem)."""
    if config.problem == "memorization_5bit" and config.test_batch == ALL_5BIT:
        return pathological.memorization_5bit_all(config.T)
    return pathological.sampler(config.problem, config.T, config.test_batch)(_keys(config)[2])


def _keys(config: PathologicalConfig):
    """Keys of the initialization, the training data and the test set."""
    return jax.random.split(jax.random.key(config.seed), 3)


@functools.cache
def _error_fn(model: SparseTanhRNN):
    @jax.jit
    def error(params, batch):
        return pathological.error_rate(model.apply(params, batch.inputs)[0], batch)

    return error


#: Test sequences the network's memory (:meth:`SparseTanhRNN.lyapunov_exponent`) is measured on.
LYAPUNOV_SEQUENCES = 100


@functools.cache
def _memory_fn(model: SparseTanhRNN):
    """``(params, inputs) -> `` the network's top Lyapunov exponent on ``inputs`` (fixed key: a
    function of the parameters alone, so a resumed run records the same numbers)."""
    # Burn-in: the first tenth of the steps (at most 10), while the start state is forgotten.
    return jax.jit(
        lambda params, inputs: model.lyapunov_exponent(
            params, inputs, jax.random.key(0), burn_in=min(10, inputs.shape[1] // 10)
        )
    )


def scoring(
    config: PathologicalConfig, error: Callable, test, memory: Callable | None = None
) -> Callable[[Status], str | None]:
    """The stop condition of the thesis's protocol: scores the test set every ``eval_every``
    minibatches and at the failure bound (annotating ``test_error``, and with ``memory`` the
    network's ``lyapunov`` exponent on the first test sequences; every row gets
    ``minibatches``), and stops with ``'solved'`` once fewer than 1 % of it is misclassified or
    with ``'max_minibatches'`` at the bound. A function of the history alone, so a resumed run
    decides as the uninterrupted one did."""

    def condition(status: Status) -> str | None:
        history = status.history
        if not len(history):
            return None
        used = config.minibatches(status.state.counters)
        history.annotate("minibatches", used)
        history.setdefault("test_error", [None] * len(history))
        at_bound = used >= config.max_minibatches
        if history["test_error"][-1] is None:
            scored = [
                m for m, e in zip(history["minibatches"], history["test_error"], strict=True) if e is not None
            ]
            # A relative tolerance, because the counts are sums of fractional minibatches.
            if used - (scored[-1] if scored else 0.0) >= config.eval_every * (1 - 1e-9) or at_bound:
                history.annotate("test_error", float(error(status.params, test)))
                if memory is not None:
                    history.annotate(
                        "lyapunov", float(memory(status.params, test.inputs[:LYAPUNOV_SEQUENCES]))
                    )
        latest = history["test_error"][-1]
        if latest is not None and pathological.solved(latest):
            return "solved"
        return "max_minibatches" if at_bound else None

    return condition


def describe(record: dict) -> str:
    parts = [f"loss {record['loss']:.4g}", f"minibatches {record.get('minibatches') or 0:.1f}"]
    if record.get("test_error") is not None:
        parts.append(f"test error {100 * record['test_error']:.2f}%")
    if record.get("lyapunov") is not None:
        parts.append(f"lyapunov {record['lyapunov']:.3f}")
    if record.get("lambda") is not None:
        parts.append(f"lambda {record['lambda']:.3g}  cg {record.get('cg_iters')}")
    return "  ".join(parts)


def train(
    config: PathologicalConfig, *, resume: bool = False, force: bool = False, log: Callable = print
) -> dict:
    """Train until the test error is below 1 % (success) or a bound is hit (failure); returns the
    report (also in ``report.json``). ``resume`` continues the run in ``config.run_dir()``."""
    with runs.opened(config, resume=resume, force=force) as saved, config.scope():
        model = model_for(config.problem, config.T, config.hidden, config.input_std, config.recurrent_gain)
        problem = make_problem(config.problem, config.T, model, config.remat_block)
        k_init, k_data, _ = _keys(config)
        test = test_set(config)
        mesh = optim.parallel.mesh_for(config.devices)
        if mesh is not None:
            test = optim.parallel.shard_batch(test, mesh)
        error = _error_fn(model)
        result = runs.checkpointed_minimize(
            config,
            problem,
            config.make_optimizer(),
            model.init_params(k_init) if saved is None else saved.params,
            data_source(config),
            k_data,
            saved=saved,
            describe=describe,
            log=log,
            stop=[scoring(config, error, test, _memory_fn(model))],
            fraction=lambda status: max(
                config.budget_fraction(status),
                config.minibatches(status.state.counters) / config.max_minibatches,
            ),
        )
        return write_report(config, result.params, result.history, float(error(result.params, test)), log=log)


def write_report(
    config: PathologicalConfig, params, history, test_error: float, *, log: Callable = print
) -> dict:
    """The run's outcome in ``report.json`` and ``progress.png`` (loss and test error against
    minibatches). Success: fewer than 1 % of the test set misclassified within the bound."""
    run_dir = config.run_dir()
    used = history["minibatches"][-1] if len(history) else 0.0
    success = pathological.solved(test_error) and used <= config.max_minibatches
    figures = []
    if len(history):
        scored = [
            (m, e)
            for m, e in zip(history["minibatches"], history["test_error"], strict=True)
            if e is not None
        ]
        panels = {
            "training loss": {"loss": (history["minibatches"], history["loss"])},
            "test error": {"test error": ([m for m, _ in scored], [e for _, e in scored])},
        }
        if "lyapunov" in history:  # runs of armctl before it recorded the network's memory do not have it
            panels["Lyapunov exponent\n(per step)"] = {
                "lyapunov": (history["minibatches"], history["lyapunov"])
            }
        figures.append(
            plots.training_curves(
                run_dir / "progress.png",
                panels,
                xlabel="minibatches of 1000 sequences",
                title=f"{config.problem} T={config.T} {config.optimizer} seed {config.seed}",
                linear=("Lyapunov exponent\n(per step)",),
            ).name
        )
    report = {
        "config": config.to_json(),
        "success": success,
        "minibatches": used,
        "iterations": len(history),
        "wall_s": history["wall_time"][-1] if len(history) else 0.0,
        "test_error": test_error,
        "figures": figures,
    }
    runs.write_report(run_dir, report)
    verdict = "success" if success else "failure"
    log(
        f"{verdict}: {config.problem} T={config.T} {config.optimizer} seed={config.seed}: "
        f"{used:.1f} minibatches, {len(history)} iterations, test error {100 * test_error:.2f}%; "
        f"report in {run_dir}"
    )
    return report


def evaluate(run_dir: str | Path, *, log: Callable = print) -> dict:
    """Reload a run, score its test set again and rewrite its report."""
    loaded = runs.load_run(run_dir, PathologicalConfig)
    config, model, params = loaded.config, loaded.model, loaded.params
    with config.scope():
        return write_report(
            config, params, loaded.history, float(_error_fn(model)(params, test_set(config))), log=log
        )


# --- sweep ---------------------------------------------------------------------------------------


def sweep(
    problems: Sequence[str],
    lengths: Sequence[int],
    optimizers: Sequence[str],
    seeds: Sequence[int],
    out: str | Path,
    *,
    force: bool = False,
    log: Callable = print,
    **overrides,
) -> list[dict]:
    """Every (problem, T, optimizer, seed) run, each in its run directory ``out/NAME``
    (:func:`run_name`); after each run, ``results.json`` (the reports of every run in ``out``,
    earlier sweeps' included) and ``sweep.png`` (fig. 4.1 style) are rewritten, so an interrupted
    sweep keeps what it finished and a later sweep into ``out`` adds to it.

    ``overrides`` are further :class:`PathologicalConfig` fields (batch sizes, bounds). Every
    config is built and every run directory planned (:func:`armctl.runs.plan`: finished runs
    with the same settings are reused, unfinished ones resumed) before any training.
    """
    out = Path(out)
    runs.check_writable(out)
    configs = [
        PathologicalConfig(problem=p, T=T, optimizer=o, seed=s, **{**overrides, "out": None})
        for p in problems
        for T in lengths
        for o in optimizers
        for s in seeds
    ]
    configs = [dataclasses.replace(c, out=str(out / run_name(c))) for c in configs]
    plans = [runs.plan(c, force=force) for c in configs]
    for config, plan in zip(configs, plans, strict=True):
        log(f"== {config.problem} T={config.T} {config.optimizer} seed={config.seed}")
        if plan != "done":
            train(config, resume=plan == "resume", force=force, log=log)
        results = collect(out)
        checkpoint.atomic_write_json(out / "results.json", results)
        plot_sweep(results, out / "sweep.png")
    return collect(out)


def collect(out: str | Path) -> list[dict]:
    """The reports of every finished pathological run directly under ``out``, in a stable order."""
    reports = []
    for path in sorted(Path(out).glob("*/report.json")):
        if runs.experiment_of(path.parent) == PathologicalConfig.EXPERIMENT:
            reports.append(runs.read_report(path.parent))
    key = lambda r: (r["config"]["problem"], r["config"]["T"], r["config"]["optimizer"], r["config"]["seed"])
    return sorted(reports, key=key)


def summarize(results: list[dict]) -> dict:
    """``{(problem, optimizer): {T: (mean, min, max minibatches of successes or None, failure rate)}}``."""
    groups: dict = {}
    for r in results:
        c = r["config"]
        groups.setdefault((c["problem"], c["optimizer"]), {}).setdefault(c["T"], []).append(r)
    summary = {}
    for key, by_T in groups.items():
        summary[key] = {}
        for T, group in sorted(by_T.items()):
            won = [r["minibatches"] for r in group if r["success"]]
            stats = (float(np.mean(won)), min(won), max(won)) if won else None
            summary[key][T] = (stats, 1.0 - len(won) / len(group))
    return summary


def plot_sweep(results: list[dict], path: str | Path) -> None:
    """Fig. 4.1 layout: per problem, minibatches to success vs T (mean, min-max bars) on top and the
    failure rate below, one line per optimizer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize(results)
    problems = list(dict.fromkeys(r["config"]["problem"] for r in results))
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
