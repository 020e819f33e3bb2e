"""The shared training driver: fresh batches, counters, an evaluation loss, a JSON-able history."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import jax

from armctl.optim import parallel
from armctl.optim.base import Optimizer, Problem, check_problem, objective_jit

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
    "lambda",
    "cg_iters",
)


class History(dict):
    """Per-step records as columns of plain Python lists (a ``dict``: ``json.dumps`` works as is).

    Columns: ``step``, ``loss`` (objective on the step's batch before the step), ``new_loss``,
    ``eval_loss`` (on the evaluation batch after the step; ``None`` without one), ``accepted``,
    the counters (``objective_calls``, ``gradient_calls``, ``gv_calls``, ``function_calls``,
    cumulative), ``step_time`` and cumulative ``wall_time`` (seconds), ``lambda`` and
    ``cg_iters`` (``None`` for optimizers without them). Plot e.g.
    ``plt.semilogy(h['function_calls'], h['eval_loss'])``.
    """

    def __init__(self, columns: dict | None = None):
        super().__init__({name: [] for name in COLUMNS})
        if columns:
            unknown = set(columns) - set(COLUMNS)
            if unknown:
                raise ValueError(f"unknown History columns {sorted(unknown)}; expected a subset of {COLUMNS}")
            lengths = {len(v) for v in columns.values()}
            if len(lengths) > 1:
                raise ValueError(f"History columns have different lengths {sorted(lengths)}")
            n = lengths.pop() if lengths else 0
            for name in COLUMNS:
                self[name] = list(columns.get(name, [None] * n))

    def __len__(self) -> int:
        return len(self["step"])

    def append(self, record: dict) -> None:
        for name in COLUMNS:
            self[name].append(record.get(name))

    def record(self, i: int) -> dict:
        """The ``i``-th step as a dict."""
        return {name: self[name][i] for name in COLUMNS}

    def to_json(self) -> str:
        return json.dumps(self)

    @classmethod
    def from_json(cls, text: str) -> History:
        return cls(json.loads(text))


def _plain(x):
    """Python scalars for JSON (info values may be numpy/jax scalars)."""
    if x is None or isinstance(x, bool | int | str):
        return x
    return float(x)


def run(
    problem: Problem,
    opt: Optimizer,
    params,
    sample_batch: Callable,
    key: jax.Array,
    *,
    steps: int | None = None,
    max_function_calls: int | None = None,
    eval_batch=None,
    callback: Callable | None = None,
    state=None,
    history: History | None = None,
    mesh=None,
    batch_refresh: int = 1,
):
    """Run ``opt`` on ``problem`` until ``steps`` or ``max_function_calls`` is reached.

    Both limits are totals over the run so far (the history's length, the state's counters),
    so calling again with the returned ``state`` and ``history`` resumes and completes the same
    run. Step ``i`` samples its batch with ``sample_batch(fold_in(key, i // batch_refresh))`` and
    passes ``fold_in(fold_in(key, i), 1)`` to the optimizer, so a resumed run reproduces an
    uninterrupted one. ``batch_refresh`` > 1 keeps each batch for that many consecutive steps
    (the thesis, sec. 6.7.3, refreshed L-BFGS's DDN batch every 25 updates).
    ``callback(step, params, state, record)`` is called after each step.

    With a ``mesh`` (:func:`armctl.optim.parallel.batch_mesh`) every batch is sharded along its
    first axis over the mesh's devices and the parameters and optimizer state are replicated, so
    each jitted objective, gradient and curvature product runs data-parallel; the numbers equal
    the single-device run's up to floating-point reduction order.
    ``sample_batch`` is called once per step on the host: jit it when it does real work.

    Returns ``(params, state, history)``.
    """
    check_problem(problem)
    if not isinstance(opt, Optimizer):
        raise TypeError(f"opt must be an armctl.optim.Optimizer, got {type(opt).__name__}")
    if steps is None and max_function_calls is None:
        raise ValueError("give steps or max_function_calls (both None would run forever)")
    for name, value in (("steps", steps), ("max_function_calls", max_function_calls)):
        if value is not None and not (isinstance(value, int) and value >= 0):
            raise ValueError(f"{name} must be a nonnegative integer or None, got {value!r}")
    if not (isinstance(batch_refresh, int) and not isinstance(batch_refresh, bool) and batch_refresh >= 1):
        raise ValueError(f"batch_refresh must be a positive integer (steps per batch), got {batch_refresh!r}")
    state = opt.init(params) if state is None else state
    history = History() if history is None else history
    if mesh is not None:
        params, state = parallel.replicate(params, mesh), parallel.replicate(state, mesh)
        if eval_batch is not None:
            eval_batch = parallel.shard_batch(eval_batch, mesh)
    wall = history["wall_time"][-1] if len(history) else 0.0
    step = history["step"][-1] + 1 if len(history) else 0
    while (steps is None or step < steps) and (
        max_function_calls is None or state.counters.function_calls < max_function_calls
    ):
        step_key = jax.random.fold_in(key, step)
        batch = sample_batch(jax.random.fold_in(key, step // batch_refresh))
        if mesh is not None:
            batch = parallel.shard_batch(batch, mesh)
        t0 = time.perf_counter()
        params, state, info = opt.step(problem, params, state, batch, jax.random.fold_in(step_key, 1))
        elapsed = time.perf_counter() - t0
        wall += elapsed
        record = {
            "step": step,
            "loss": _plain(info["loss"]),
            "new_loss": _plain(info.get("new_loss")),
            "eval_loss": None if eval_batch is None else float(objective_jit(problem, params, eval_batch)),
            "accepted": bool(info["accepted"]),
            **state.counters.as_dict(),
            "step_time": elapsed,
            "wall_time": wall,
            "lambda": _plain(info.get("lambda")),
            "cg_iters": _plain(info.get("cg_iters")),
        }
        history.append(record)
        if callback is not None:
            callback(step, params, state, record)
        step += 1
    return params, state, history
