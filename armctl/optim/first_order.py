"""Baselines in the same core: GD, classical and Nesterov momentum, Adam (optax), L-BFGS, nonlinear CG.

Every step computes the gradient on the fresh batch (one gradient call). First-order methods
never evaluate the objective after their step, so their ``info['new_loss']`` is ``None``.
L-BFGS and NCG line-search on the same batch and report the accepted value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from armctl.optim.base import (
    Counters,
    Optimizer,
    backtracking,
    check_integer,
    check_number,
    check_problem,
    named_options,
    objective_at,
    shifted,
    value_and_grad_jit,
)


class FirstOrderState(NamedTuple):
    opt_state: Any
    counters: Counters


def from_optax(transform: optax.GradientTransformation, clip_norm: float | None = None) -> Optimizer:
    """An armctl optimizer that steps with the optax transform ``transform`` on each fresh batch's
    gradient (optionally clipped to the global norm ``clip_norm`` first): any optax chain trains
    an arm controller or an RNN (register it: :func:`armctl.optim.registry.register_optimizer`)."""
    if clip_norm is not None:
        check_number("clip_norm", clip_norm, 0)
        transform = optax.chain(optax.clip_by_global_norm(clip_norm), transform)

    @jax.jit
    def apply(grad, opt_state, params):
        updates, opt_state = transform.update(grad, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, optax.tree.norm(grad)

    def init(params) -> FirstOrderState:
        return FirstOrderState(transform.init(params), Counters())

    def step(problem, params, state: FirstOrderState, batch, key=None):
        del key
        check_problem(problem)
        loss, grad = value_and_grad_jit(problem, params, batch)
        # Checkpoints hold numpy leaves; optax states are plain pytrees, so re-wrap them as arrays.
        opt_state = jax.tree_util.tree_map(jnp.asarray, state.opt_state)
        new_params, opt_state, gnorm = apply(grad, opt_state, params)
        info = {"loss": float(loss), "new_loss": None, "accepted": True, "grad_norm": float(gnorm)}
        return new_params, FirstOrderState(opt_state, state.counters.add(gradient=1)), info

    return Optimizer(init, step)


@named_options
def gd(learning_rate: float, clip_norm: float | None = None) -> Optimizer:
    """Plain gradient descent ``theta -= lr * g`` (optionally with gradient-norm clipping).

    ``learning_rate > 0``; ``clip_norm``: ``None`` or the largest gradient norm (> 0), larger
    gradients are scaled down to it. Raises ``ValueError`` naming a bad argument.
    """
    check_number("learning_rate", learning_rate, 0)
    return from_optax(optax.sgd(learning_rate), clip_norm)


@named_options
def momentum(learning_rate: float, momentum: float = 0.9, clip_norm: float | None = None) -> Optimizer:
    """Classical momentum ``v = mu v - lr g; theta += v`` (optax.sgd with momentum).

    ``learning_rate > 0``; ``momentum`` in [0, 1); ``clip_norm`` as in :func:`gd`.
    """
    check_number("learning_rate", learning_rate, 0)
    check_number("momentum", momentum, 0, 1, low_closed=True)
    return from_optax(optax.sgd(learning_rate, momentum=momentum), clip_norm)


@named_options
def nesterov(learning_rate: float, momentum: float = 0.9, clip_norm: float | None = None) -> Optimizer:
    """Nesterov's accelerated gradient in the form of Sutskever et al. 2013 (optax.sgd, nesterov=True).

    ``learning_rate > 0``; ``momentum`` in [0, 1); ``clip_norm`` as in :func:`gd`.
    """
    check_number("learning_rate", learning_rate, 0)
    check_number("momentum", momentum, 0, 1, low_closed=True)
    return from_optax(optax.sgd(learning_rate, momentum=momentum, nesterov=True), clip_norm)


@named_options
def adam(
    learning_rate: float = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    clip_norm: float | None = None,
) -> Optimizer:
    """Adam (optax.adam): ``learning_rate > 0``, ``b1`` and ``b2`` in [0, 1), ``eps > 0``,
    ``clip_norm`` as in :func:`gd`."""
    check_number("learning_rate", learning_rate, 0)
    check_number("b1", b1, 0, 1, low_closed=True)
    check_number("b2", b2, 0, 1, low_closed=True)
    check_number("eps", eps, 0)
    return from_optax(optax.adam(learning_rate, b1=b1, b2=b2, eps=eps), clip_norm)


def _check_line_search(c1, shrink, max_line_search) -> None:
    check_number("c1", c1, 0, 1)
    check_number("shrink", shrink, 0, 1)
    check_integer("max_line_search", max_line_search, 1)


# ----- L-BFGS --------------------------------------------------------------------------------
class LBFGSState(NamedTuple):
    """Curvature pairs newest first: ``s`` and ``y`` tuples of ``memory`` flat vectors (zeros past
    the ``count`` stored), ``rho = 1/(s^T y)`` of each, and ``gamma``, the initial scaling.

    Tuples, not ``(memory, n)`` arrays, because a new pair then only reorders references: writing
    it into an array copied both whole buffers every step (2 x 25.6 MB for 100 pairs of the
    center-out controller's 32,002 float64 weights, more time than a gradient)."""

    s: Any
    y: Any
    rho: Any
    count: Any
    gamma: Any
    counters: Counters


@jax.jit
def _two_loop(g, s, y, rho, count, gamma):
    """``-H g`` by the two-loop recursion over the ``count`` newest pairs (Nocedal & Wright alg. 7.4)."""
    m = len(s)
    # The j-th pair selected by a switch: stacking the tuples would copy them all every step.
    pick = [lambda s, y, j=j: (s[j], y[j]) for j in range(m)]
    valid = jnp.arange(m) < count

    def newest_first(q, j):
        s_j, y_j = jax.lax.switch(j, pick, s, y)
        a = jnp.where(valid[j], rho[j] * (s_j @ q), 0.0)
        return q - a * y_j, a

    q, alphas = jax.lax.scan(newest_first, g, jnp.arange(m))

    def oldest_first(r, j):
        s_j, y_j = jax.lax.switch(j, pick, s, y)
        beta = rho[j] * (y_j @ r)
        return r + jnp.where(valid[j], alphas[j] - beta, 0.0) * s_j, None

    r, _ = jax.lax.scan(oldest_first, gamma * q, jnp.arange(m)[::-1])
    return -r


@jax.jit
def _pair_scalars(rho, s, y):
    """``rho`` with ``1/(s^T y)`` of the new pair in front (the oldest dropped), and the new ``gamma``."""
    sy = s @ y
    return jnp.concatenate([(1.0 / sy)[None], rho[:-1]]), sy / (y @ y)


@named_options
def lbfgs(
    memory: int = 100, *, c1: float = 1e-4, shrink: float = 0.5, max_line_search: int = 30
) -> Optimizer:
    """L-BFGS with an Armijo backtracking line search (own two-loop recursion).

    Each step: gradient at ``theta`` on the fresh batch; direction ``-H g`` (steepest descent
    scaled to unit length on the first step or after a reset); backtracking from ``t = 1`` with
    gradients evaluated at the trial points (gradient calls), so the new pair
    ``s = t d``, ``y = g(theta + s) - g(theta)`` uses one batch; a pair is stored only when
    ``s^T y > 0``. A non-descent direction resets the memory.

    ``memory``: pairs kept (>= 1; the thesis used 100); ``c1`` and ``shrink`` in (0, 1): the
    Armijo constant and the step's shrink factor; ``max_line_search >= 1`` trial points.
    """
    check_integer("memory", memory, 1)
    _check_line_search(c1, shrink, max_line_search)

    def init(params) -> LBFGSState:
        z = jnp.zeros_like(ravel_pytree(params)[0])
        return LBFGSState((z,) * memory, (z,) * memory, jnp.zeros(memory, z.dtype), 0, 1.0, Counters())

    def step(problem, params, state: LBFGSState, batch, key=None):
        del key
        check_problem(problem)
        flat, unravel = ravel_pytree(params)
        f0, grad = value_and_grad_jit(problem, params, batch)
        f0, g = float(f0), ravel_pytree(grad)[0]
        count, s_buf, y_buf, rho_buf = (
            int(state.count),
            tuple(state.s),
            tuple(state.y),
            jnp.asarray(state.rho),
        )
        d = _two_loop(g, s_buf, y_buf, rho_buf, count, float(state.gamma))
        slope = float(g @ d)
        if count == 0 or not (slope < 0 and math.isfinite(slope)):
            count, d = 0, -g / jnp.maximum(jnp.linalg.norm(g), 1e-12)
            slope = float(g @ d)

        def f_at(t):
            value, g_new = value_and_grad_jit(problem, unravel(flat + t * d), batch)
            return float(value), g_new

        t, f_new, g_new, n = backtracking(f_at, f0, slope, c=c1, shrink=shrink, max_evals=max_line_search)
        counters = state.counters.add(gradient=1 + n)
        accepted = t > 0 and f_new < f0
        gamma = float(state.gamma)
        if accepted:
            s, y = t * d, ravel_pytree(g_new)[0] - g
            if float(s @ y) > 1e-10 * float(s @ s):
                rho_buf, gamma = _pair_scalars(rho_buf, s, y)
                s_buf, y_buf = (s, *s_buf[:-1]), (y, *y_buf[:-1])
                count, gamma = min(count + 1, memory), float(gamma)
            params = unravel(flat + t * d)
        new_state = LBFGSState(s_buf, y_buf, rho_buf, count, gamma, counters)
        info = {"loss": f0, "new_loss": f_new if accepted else f0, "accepted": accepted, "step_size": t}
        return params, new_state, info

    return Optimizer(init, step)


# ----- nonlinear CG --------------------------------------------------------------------------
class NCGState(NamedTuple):
    grad: Any  # previous gradient (None before the first step)
    direction: Any
    slope: Any  # previous g^T d, for the initial step-length guess
    step_size: Any
    counters: Counters


def _expand(
    f_at: Callable[[float], float], t: float, value: float, max_evals: int
) -> tuple[float, float, int]:
    """Double ``t`` while ``f_at`` keeps falling (at most ``max_evals`` trials): ``(t, value, trials)``."""
    for trials in range(1, max_evals + 1):
        trial = f_at(2 * t)
        if not (math.isfinite(trial) and trial < value):
            return t, value, trials
        t, value = 2 * t, trial
    return t, value, max_evals


@named_options
def ncg(*, c1: float = 1e-4, shrink: float = 0.5, max_line_search: int = 30) -> Optimizer:
    """Nonlinear conjugate gradient, Polak-Ribiere+ (``beta = max(0, g^T (g - g_prev) / |g_prev|^2)``).

    Restarts with steepest descent when the direction is not a descent direction; Armijo
    backtracking with the initial step ``t0 = t_prev g_prev^T d_prev / g^T d`` (Nocedal & Wright
    3.60), doubled while the objective keeps falling when that guess passes at once (the
    guess only repeats the last step's first-order decrease, so without growing it the steps
    shrank for good: center-out stalled at 1e4 x iLQR); objective-only trial evaluations. After
    a rejected step it restarts as on its first step (steepest descent, unit length).
    ``c1``, ``shrink`` and ``max_line_search`` as in :func:`lbfgs`.
    """
    _check_line_search(c1, shrink, max_line_search)

    def init(params) -> NCGState:
        return NCGState(None, None, 0.0, 1.0, Counters())

    def step(problem, params, state: NCGState, batch, key=None):
        del key
        check_problem(problem)
        f0, grad = value_and_grad_jit(problem, params, batch)
        f0 = float(f0)
        d, t0 = optax.tree.scale(-1.0, grad), 1.0
        if state.grad is not None:
            g_prev = jax.tree_util.tree_map(jnp.asarray, state.grad)
            diff = optax.tree.sub(grad, g_prev)
            g_prev_sq = max(float(optax.tree.vdot(g_prev, g_prev)), 1e-30)
            beta = max(0.0, float(optax.tree.vdot(grad, diff)) / g_prev_sq)
            d = optax.tree.add_scale(d, beta, jax.tree_util.tree_map(jnp.asarray, state.direction))
        slope = float(optax.tree.vdot(grad, d))
        if not (slope < 0 and math.isfinite(slope)):
            d = optax.tree.scale(-1.0, grad)
            slope = float(optax.tree.vdot(grad, d))
        if state.grad is not None and float(state.slope) < 0:
            t0 = float(state.step_size) * float(state.slope) / slope
        else:  # first step: unit length
            t0 = 1.0 / max(math.sqrt(-slope), 1e-12)
        t, f_new, _, n = backtracking(
            lambda t: (objective_at(problem, params, d, t, batch), None),
            f0,
            slope,
            t0=t0,
            c=c1,
            shrink=shrink,
            max_evals=max_line_search,
        )
        if t == t0:  # the guess passed at once: it may be far too short, so grow it while f falls
            t, f_new, grown = _expand(
                lambda t: objective_at(problem, params, d, t, batch), t, f_new, max_line_search
            )
            n += grown
        accepted = t > 0 and f_new < f0
        new_params = shifted(params, d, t) if accepted else params
        counters = state.counters.add(gradient=1, objective=n)
        if accepted:
            new_state = NCGState(grad, d, slope, t, counters)
        else:
            # Restart from a unit-length steepest-descent step. Carried over, a step too short
            # to change the loss (it "passed" Armijo on a rounding tie) would be tried again from
            # the same point forever: center-out seed 0 repeated one rejected step of 1.3e-12 for
            # its last 30k calls.
            new_state = init(params)._replace(counters=counters)
        info = {"loss": f0, "new_loss": f_new if accepted else f0, "accepted": accepted, "step_size": t}
        return new_params, new_state, info

    return Optimizer(init, step)
