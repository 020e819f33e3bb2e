"""Shared vocabulary of the optimizer core: problems, counters, optimizers, option checks, jitted
objective helpers, the Armijo line search.

Counting convention (the same for every optimizer; thesis fig. 6.2 plots against the sum):

* ``objective`` — one objective evaluation (a forward pass), including the forward pass that
  linearizes the model for Gauss-Newton products;
* ``gradient`` — one gradient evaluation (forward + backward; its objective value comes free and
  is not counted again);
* ``gv`` — one curvature-matrix-vector product.

Evaluations on the optional evaluation batch made by :func:`armctl.optim.minimize` are diagnostics and
are not counted.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec

from armctl.checks import check_bool, check_choice, check_integer, check_number  # noqa: F401 (re-exported)
from armctl.optim.sharding import AXIS, batch_mesh_of, batch_specs, shard_map

TAP_NONLINEARITIES = ("tanh", "logistic", "linear")


class Problem(NamedTuple):
    """A model's outputs and a loss convex in them (Gauss-Newton form).

    Attributes:
        outputs: ``outputs(params, batch) -> (out, taps)``; ``out`` a pytree of model outputs
            before the loss's matching nonlinearity (logits, or the arm's state and command
            trajectories); ``taps`` a pytree of hidden pre-activations (for structural damping)
            or ``()``. Both with the batch axis first (a sharded batch's shards are joined
            along it).
        loss: ``loss(out, batch) -> scalar``, convex in ``out``, averaged over the batch.
        tap_nonlinearity: the hidden units' nonlinearity, which fixes the structural-damping
            distance D (see :func:`armctl.optim.gn.tap_curvature`): ``'tanh'``, ``'logistic'`` or
            ``'linear'`` (squared distance of pre-activations, Krause's choice).
        factored: ``None``, or a :class:`Factored` view of the same model that makes its
            Gauss-Newton products cheaper (same values up to rounding).
    """

    outputs: Callable
    loss: Callable
    tap_nonlinearity: str = "tanh"
    factored: Factored | None = None


class Factored(NamedTuple):
    """A model whose parameters enter only through pre-activations ``x @ W + b`` of layer inputs ``x``.

    Then ``J_params v = J_e (preactivations(v, inputs))`` with ``J_e`` the Jacobian in a
    perturbation ``e`` of the pre-activations: the Gauss-Newton product multiplies by ``J_e`` and
    its transpose, in which the weights are constants, and does the weights' part as a few large
    matmuls over the whole batch and sequence. Through time, that keeps the per-step cotangent
    accumulation ``sum_t x_t^T delta_t`` (tiny matmuls and adds, the bulk of a product of a small
    batch) out of the scan.

    Attributes:
        outputs: ``outputs(params, batch, perturbation) -> ((out, taps), inputs)``: the model's
            ``(out, taps)`` with ``perturbation`` (a pytree like ``preactivations``' value, or
            ``None``) added to the pre-activations, and the layer inputs.
        preactivations: ``preactivations(params, inputs)``: the pre-activations, linear in
            ``params``.
    """

    outputs: Callable
    preactivations: Callable


class Counters(NamedTuple):
    """Work done so far; ``function_calls`` is the sum (thesis fig. 6.2's x-axis)."""

    objective: int = 0
    gradient: int = 0
    gv: int = 0

    @property
    def function_calls(self) -> int:
        return int(self.objective) + int(self.gradient) + int(self.gv)

    def add(self, objective: int = 0, gradient: int = 0, gv: int = 0) -> Counters:
        return Counters(int(self.objective) + objective, int(self.gradient) + gradient, int(self.gv) + gv)

    def as_dict(self) -> dict:
        return {
            "objective_calls": int(self.objective),
            "gradient_calls": int(self.gradient),
            "gv_calls": int(self.gv),
            "function_calls": self.function_calls,
        }


class Optimizer(NamedTuple):
    """``state = init(params)``; ``params, state, info = step(problem, params, state, batch, key)``.

    Every state is a NamedTuple with a ``counters`` field (:class:`Counters`); its leaves may be
    converted with ``np.asarray`` (checkpointing) and fed back.
    """

    init: Callable
    step: Callable


def named_options(factory):
    """Make an optimizer factory refuse an unknown option with a ``ValueError`` that lists the
    valid ones (Python's own ``TypeError`` names the option but not what is valid)."""
    parameters = inspect.signature(factory).parameters

    @functools.wraps(factory)
    def checked(*args, **options):
        unknown = sorted(set(options) - set(parameters))
        if unknown:
            raise ValueError(
                f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for optimizer "
                f"{factory.__name__!r}; valid options: {', '.join(parameters)}"
            )
        return factory(*args, **options)

    return checked


def check_problem(problem) -> None:
    """``TypeError`` unless ``problem`` is a :class:`Problem`; ``ValueError`` for an unknown
    ``tap_nonlinearity``."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an armctl.optim.Problem, got {type(problem).__name__}")
    check_choice("tap_nonlinearity", problem.tap_nonlinearity, TAP_NONLINEARITIES)


def model_outputs(problem: Problem, params, batch):
    """``problem.outputs(params, batch)``, checked to be the pair ``(out, taps)``."""
    result = problem.outputs(params, batch)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(f"problem.outputs must return a pair (out, taps), got {type(result).__name__}")
    return result


def objective(problem: Problem, params, batch) -> jnp.ndarray:
    """``loss(outputs(params, batch)[0], batch)``."""
    return problem.loss(model_outputs(problem, params, batch)[0], batch)


objective_jit = jax.jit(objective, static_argnums=0)
_value_and_grad = jax.jit(jax.value_and_grad(objective, argnums=1), static_argnums=0)


@functools.partial(jax.jit, static_argnums=(0, 3))
def _value_and_grad_sharded(problem: Problem, params, batch, mesh):
    def local(params, batch):
        return jax.lax.pmean(jax.value_and_grad(objective, argnums=1)(problem, params, batch), AXIS)

    whole = PartitionSpec()
    return shard_map(local, mesh, (whole, batch_specs(batch)), whole)(params, batch)


def value_and_grad_jit(problem: Problem, params, batch):
    """``(objective, gradient)`` (jitted). A batch sharded over a mesh is differentiated shard by
    shard and the shards' values and gradients averaged once (the loss is a batch mean): left to
    XLA's partitioner, a scan's backward pass summed the gradient across devices at every step."""
    mesh = batch_mesh_of(batch)
    if mesh is None:
        return _value_and_grad(problem, params, batch)
    return _value_and_grad_sharded(problem, params, batch, mesh)


@jax.jit
def _shifted(params, delta, t):
    return optax.tree.add_scale(params, t, delta)


@jax.jit
def _finite(x):
    # optax.tree has no all-finite test (a norm overflows on large finite leaves).
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(u)) for u in jax.tree.leaves(x)]))


def shifted(params, delta, t=1.0):
    """``params + t * delta`` (jitted)."""
    return _shifted(params, delta, float(t))


def is_finite(x) -> bool:
    """True when every leaf of the pytree ``x`` is finite."""
    return bool(_finite(x))


def objective_at(problem: Problem, params, delta, t, batch) -> float:
    """Objective at ``params + t * delta`` as a Python float (NaN stays NaN)."""
    return float(objective_jit(problem, shifted(params, delta, t), batch))


def curvature_batch(batch, fraction: float):
    """The curvature mini-batch: ``k = ceil(fraction * n)`` entries, evenly spaced along axis 0 of
    every leaf (rows ``floor(i n / k)``, ``i < k``).

    ``n`` is each leaf's own leading size (batches keep examples on axis 0, e.g. ``TaskBatch``);
    scalar leaves are kept whole. Evenly spaced rather than the leading share because some
    batches are ordered: center-out's batch is its targets in order of angle, whose first half is
    the upper half circle, a curvature that ignores half the reaches (AHF with it stalled at 60x
    iLQR). On a freshly sampled batch any fixed choice of rows is a random sub-batch.
    """
    check_number("curvature_fraction", fraction, 0, 1, high_closed=True)
    if fraction == 1:
        return batch

    def count(n: int) -> int:
        # fraction is usually a ratio of counts k / n, whose product with n can round to just
        # above k (7 / 25 * 25 = 7.000000000000001): ceil must give k back, not k + 1.
        return max(1, math.ceil(fraction * n * (1 - 1e-12)))

    # A share of a sharded batch is split over the batch's devices again (each device multiplies
    # its part) when every leaf's share divides; otherwise it is held whole, as before.
    mesh = batch_mesh_of(batch)
    leading = [jnp.shape(x)[0] for x in jax.tree_util.tree_leaves(batch) if jnp.ndim(x)]
    split = mesh is not None and all(count(n) % mesh.shape[AXIS] == 0 for n in leading)
    sharding = NamedSharding(mesh, PartitionSpec(AXIS)) if split else None

    def share(x):
        x = jnp.asarray(x)
        if x.ndim == 0:
            return x
        n = x.shape[0]
        k = count(n)
        return _rows(x, np.arange(k) * n // k, sharding)

    return jax.tree_util.tree_map(share, batch)


@functools.partial(jax.jit, static_argnums=2)
def _rows(x, rows, sharding):
    """``x[rows]``, laid out as ``sharding`` (``None``: as XLA places it). Indexing a sharded batch
    outside jit gives a replicated result, on which every device would compute the whole product;
    the constraint makes each device gather only its own part."""
    taken = x[rows]
    return taken if sharding is None else jax.lax.with_sharding_constraint(taken, sharding)


def backtracking(
    f_at: Callable[[float], tuple[float, Any]],
    f0: float,
    slope: float,
    *,
    t0: float = 1.0,
    c: float = 1e-4,
    shrink: float = 0.5,
    max_evals: int = 30,
    first=None,
):
    """Armijo backtracking: the first ``t = t0 * shrink**j`` with ``f(t) <= f0 + c t slope``.

    ``f_at(t) -> (value, aux)``; ``first`` optionally supplies the already computed
    ``(value, aux)`` at ``t0``. Returns ``(t, value, aux, evaluations)``; ``t = 0.0`` (and
    ``value = f0``) when no trial passed or the trial values were not finite.
    """
    t, evals = t0, 0
    for j in range(max_evals):
        if j == 0 and first is not None:
            value, aux = first
        else:
            value, aux = f_at(t)
            evals += 1
        if math.isfinite(value) and value <= f0 + c * t * slope:
            return t, value, aux, evals
        t *= shrink
    return 0.0, f0, None, evals
