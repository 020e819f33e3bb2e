"""The shared training driver: fresh batches, counters, an evaluation loss, stop conditions, a history.

:func:`minimize` steps an optimizer until a *stop condition* fires. A condition is a small function
of the run's :class:`Status` that returns ``None`` to go on or a reason string to stop;
conditions compose by listing them (the first that fires wins)::

    minimize(problem, opt, params, sample, key,
        stop=[max_steps(600), max_calls(20_000), max_seconds(600),
              when(lambda status: status.history["loss"][-1] < 1e-6, "converged")])

``steps=`` and ``max_function_calls=`` are shorthands for the first two. Conditions are checked
before the first step (so a run whose budget is already spent does nothing) and after every
step. The driver stops on its own when the loss or the parameters stop being finite
(``'diverged'``, keeping the last parameters whose loss was finite) and on Ctrl-C
(``'interrupted'``, keeping the last completed step). The result unpacks as
``(params, state, history)`` and says why it stopped in ``result.reason``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from armctl.optim import parallel
from armctl.optim.base import Optimizer, Problem, check_integer, check_problem, is_finite, objective_jit

#: Columns the driver itself writes for every step; the optimizer's ``info`` adds its own keys.
COLUMNS = (
    "step",
    "loss",
    "new_loss",
    "eval_loss",
    "accepted",
    "objective_calls",
    "gradient_calls",
    "gv_calls",
    "function_calls",
    "step_time",
    "wall_time",
)

#: Reasons the driver gives without a condition.
DIVERGED, INTERRUPTED = "diverged", "interrupted"


def plain(x):
    """A JSON-able Python value for an info entry (NumPy / JAX scalars and small arrays)."""
    if x is None or isinstance(x, bool | int | float | str):
        return x
    array = np.asarray(x)
    if array.dtype == bool:
        return bool(array) if array.ndim == 0 else array.tolist()
    if array.ndim == 0:
        return int(array) if np.issubdtype(array.dtype, np.integer) else float(array)
    return array.tolist()


class History(dict):
    """Per-step records as columns of plain Python lists (a ``dict``: ``json.dumps`` works as is).

    The driver's columns (:data:`COLUMNS`): ``step``, ``loss`` (objective on the step's batch
    before the step), ``new_loss``, ``eval_loss`` (on the evaluation batch after the step;
    ``None`` without one), ``accepted``, the counters (``objective_calls``, ``gradient_calls``,
    ``gv_calls``, ``function_calls``, cumulative), ``step_time`` (the optimizer step) and
    cumulative ``wall_time`` (seconds of the whole loop, evaluation and callbacks included).
    Every key of the optimizer's ``info`` becomes a column too (HF: ``lambda``, ``cg_iters``,
    ``rho``, ``cg_stop`` ...; first-order methods: ``grad_norm``), ``None`` in the rows of steps
    that did not report it; :meth:`annotate` adds a value to the last row (a test error, a
    validation score). Plot e.g. ``plt.semilogy(h['function_calls'], h['eval_loss'])``.
    """

    def __init__(self, columns: dict | None = None):
        super().__init__({name: [] for name in COLUMNS})
        if columns:
            missing = [name for name in COLUMNS if name not in columns]
            if missing:
                unknown = sorted(set(columns) - set(COLUMNS))
                raise ValueError(
                    f"unknown History columns {unknown} without the driver's columns {missing}; "
                    f"a History holds {COLUMNS} and the optimizer's info keys"
                )
            lengths = {len(v) for v in columns.values()}
            if len(lengths) > 1:
                raise ValueError(f"History columns have different lengths {sorted(lengths)}")
            for name, values in columns.items():
                self[name] = list(values)

    def __len__(self) -> int:
        return len(self["step"])

    def append(self, record: dict) -> None:
        n = len(self)
        for name in record:
            if name not in self:
                self[name] = [None] * n
        for name, values in self.items():
            values.append(plain(record.get(name)))

    def annotate(self, name: str, value) -> None:
        """Set column ``name`` of the last row (adding the column if it is new)."""
        if not len(self):
            raise ValueError(f"cannot annotate {name!r}: the history is empty")
        self.setdefault(name, [None] * len(self))[-1] = plain(value)

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` rows."""
        for values in self.values():
            del values[n:]

    def record(self, i: int) -> dict:
        """The ``i``-th step as a dict."""
        return {name: values[i] for name, values in self.items()}

    def last(self, name: str):
        """The latest non-``None`` value of column ``name`` (``None`` if there is none)."""
        return next((v for v in reversed(self.get(name, ())) if v is not None), None)

    def to_json(self) -> str:
        """Strict JSON: non-finite numbers are written as ``null``."""
        return json.dumps(strict(self), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> History:
        return cls(json.loads(text))


def strict(obj):
    """``obj`` as plain Python (arrays as lists) with every non-finite float replaced by ``None``,
    so that ``json.dumps(..., allow_nan=False)`` accepts it: strict JSON has no NaN or Infinity."""
    if isinstance(obj, np.ndarray | np.generic | jax.Array):
        obj = np.asarray(obj).tolist()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict(v) for v in obj]
    return obj


# ----- stop conditions ---------------------------------------------------------------------------


class Status(NamedTuple):
    """What a stop condition sees: the run so far (``history`` rows are the completed steps)."""

    params: Any
    state: Any
    history: History

    @property
    def steps(self) -> int:
        return len(self.history)

    @property
    def function_calls(self) -> int:
        return self.state.counters.function_calls

    @property
    def wall_time(self) -> float:
        return self.history["wall_time"][-1] if len(self.history) else 0.0


Condition = Callable[[Status], str | None]


def _check_count(name: str, value) -> None:
    check_integer(name, value, 0)


def max_steps(n: int) -> Condition:
    """Stop (``'steps'``) once the run has ``n`` steps in all."""
    _check_count("steps", n)
    return lambda status: "steps" if status.steps >= n else None


def max_calls(n: int) -> Condition:
    """Stop (``'function_calls'``) once the run has used ``n`` function calls in all."""
    _check_count("max_function_calls", n)
    return lambda status: "function_calls" if status.function_calls >= n else None


def max_seconds(seconds: float) -> Condition:
    """Stop (``'time'``) once the run's cumulative wall time reaches ``seconds``."""
    if not (isinstance(seconds, int | float) and seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    return lambda status: "time" if status.wall_time >= seconds else None


def when(predicate: Callable[[Status], bool], reason: str) -> Condition:
    """Stop with ``reason`` once ``predicate(status)`` is true after a step (it may annotate the
    history's last row); before the first step, with no row to judge, it does not fire."""
    return lambda status: reason if status.steps and predicate(status) else None


def _first_reason(conditions: Sequence[Condition], status: Status) -> str | None:
    for condition in conditions:
        reason = condition(status)
        if reason is not None:
            return reason
    return None


class _Triple(NamedTuple):
    params: Any
    state: Any
    history: History


class RunResult(_Triple):
    """``(params, state, history)`` of a run, and :attr:`reason`, why it stopped: a condition's
    reason (``'steps'``, ``'function_calls'``, ``'time'``, a predicate's), ``'diverged'`` or
    ``'interrupted'``. It unpacks as ``params, state, history = minimize(...)``."""

    def __new__(cls, params, state, history, reason: str | None = None):
        result = super().__new__(cls, params, state, history)
        result.reason = reason
        return result


def _finite(*values) -> bool:
    return all(v is None or math.isfinite(v) for v in values)


def minimize(
    problem: Problem,
    opt: Optimizer,
    params,
    sample_batch: Callable,
    key: jax.Array,
    *,
    steps: int | None = None,
    max_function_calls: int | None = None,
    stop: Sequence[Condition] = (),
    eval_batch=None,
    callback: Callable | None = None,
    state=None,
    history: History | None = None,
    mesh=None,
    batch_refresh: int = 1,
) -> RunResult:
    """Run ``opt`` on ``problem`` until a stop condition fires.

    ``steps`` and ``max_function_calls`` (shorthands for :func:`max_steps` and
    :func:`max_calls`) and the conditions in ``stop`` are totals over the run so far
    (the history's length, the state's counters, the history's wall time), so calling again
    with the returned ``state`` and ``history`` resumes and completes the same run. Step ``i``
    samples its batch with ``sample_batch(fold_in(key, i // batch_refresh))`` and passes
    ``fold_in(fold_in(key, i), 1)`` to the optimizer, so a resumed run reproduces an
    uninterrupted one. ``batch_refresh`` > 1 keeps each batch for that many consecutive steps
    (the thesis, sec. 6.7.3, refreshed L-BFGS's DDN batch every 25 updates).
    ``callback(step, params, state, record)`` is called after each step, after the conditions
    (which may have annotated the record's row).

    The run also stops by itself: ``'diverged'`` when the loss, the new loss of an accepted
    step, the evaluation loss or the parameters are not finite (the result keeps the last
    parameters whose loss was finite, and the history up to them); ``'interrupted'`` on
    ``KeyboardInterrupt`` (the result keeps the last completed step).

    With a ``mesh`` (:func:`armctl.optim.parallel.batch_mesh`) every batch is sharded along its
    first axis over the mesh's devices and the parameters and optimizer state are replicated, so
    each jitted objective, gradient and curvature product runs data-parallel; the numbers equal
    the single-device run's up to floating-point reduction order.
    ``sample_batch`` is called once per step on the host: jit it when it does real work.

    Returns a :class:`RunResult`: ``params, state, history = minimize(...)``, and ``.reason``.
    """
    check_problem(problem)
    if not isinstance(opt, Optimizer):
        raise TypeError(f"opt must be an armctl.optim.Optimizer, got {type(opt).__name__}")
    conditions = list(stop)
    if steps is not None:
        conditions.insert(0, max_steps(steps))
    if max_function_calls is not None:
        conditions.insert(0, max_calls(max_function_calls))
    if not conditions:
        raise ValueError("give steps or max_function_calls or a stop condition (none would run forever)")
    check_integer("batch_refresh", batch_refresh, 1)  # steps per batch
    # A weak-typed leaf (an array made from a Python scalar) comes back strong-typed from the first
    # step, and the next step would trace and compile again: start with the types steps return.
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.result_type(a)), params)
    state = opt.init(params) if state is None else state
    history = History() if history is None else history
    if mesh is not None:
        params, state = parallel.replicate(params, mesh), parallel.replicate(state, mesh)
        if eval_batch is not None:
            eval_batch = parallel.shard_batch(eval_batch, mesh)
    # ``done``: the last completed step's parameters, state and history length, assigned in one
    # statement so that Ctrl-C never separates them; ``previous``: the step before, where a loss
    # that is not finite at the current parameters sends the run back.
    done, previous = (params, state, len(history)), None
    try:
        reason = _first_reason(conditions, Status(params, state, history))
        while reason is None:
            step = len(history)
            t0 = time.perf_counter()
            wall = history["wall_time"][-1] if step else 0.0
            batch = sample_batch(jax.random.fold_in(key, step // batch_refresh))
            if mesh is not None:
                batch = parallel.shard_batch(batch, mesh)
            t_step = time.perf_counter()
            new_params, new_state, info = opt.step(
                problem, params, state, batch, jax.random.fold_in(jax.random.fold_in(key, step), 1)
            )
            elapsed = time.perf_counter() - t_step
            eval_loss = None if eval_batch is None else float(objective_jit(problem, new_params, eval_batch))
            loss, new_loss, accepted = (
                plain(info["loss"]),
                plain(info.get("new_loss")),
                bool(info["accepted"]),
            )
            if not _finite(loss):  # the parameters this step started from are already bad
                if previous is not None:
                    done = previous
                reason = DIVERGED
                break
            if not (_finite(eval_loss, new_loss if accepted else None) and is_finite(new_params)):
                reason = DIVERGED
                break
            history.append(
                {
                    **info,
                    "step": step,
                    "loss": loss,
                    "new_loss": new_loss,
                    "eval_loss": eval_loss,
                    "accepted": accepted,
                    **new_state.counters.as_dict(),
                    "step_time": elapsed,
                    "wall_time": wall + time.perf_counter() - t0,
                }
            )
            previous, done = done, (new_params, new_state, len(history))
            params, state = new_params, new_state
            reason = _first_reason(conditions, Status(params, state, history))
            # The conditions' work (evaluations) counts towards the step's wall time.
            history["wall_time"][-1] = wall + time.perf_counter() - t0
            if callback is not None:
                callback(step, params, state, history.record(-1))
    except KeyboardInterrupt:
        reason = INTERRUPTED
    params, state, n = done
    history.truncate(n)
    return RunResult(params, state, history, reason)
