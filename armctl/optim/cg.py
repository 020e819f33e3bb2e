"""Linear conjugate gradient, written once: the iteration, its stopping rules, and HF's solve.

Minimizes ``phi(x) = x^T A x / 2 - b^T x`` for a symmetric positive (semi)definite ``A`` given
as a matrix-vector product on params-shaped pytrees. ``phi`` is tracked without extra products:
``A x = b - r``, so ``phi(x) = -x^T (b + r) / 2``.

* A start state (:class:`CGState`) comes from :func:`zero_start`, :func:`warm_start` (from a
  given ``x0``) or :func:`deflated_start` (AHF's augmented basis: the minimizer along an extra
  vector ``w``, with every later direction made A-conjugate to ``w``).
* :class:`CGIterator` runs the iterations from a start state: ``for it in CGIterator(...)``
  yields each iteration's :class:`CGIteration` (the direction it moved along, its step, ``phi``)
  and stops by the shared rules: non-positive curvature (the step is not taken), the residual,
  Martens' progress rule, the iteration cap. The loop body may stop it for a reason of its own
  (:meth:`CGIterator.stop`).
* :func:`cg` is HF's solve on top of it: saved iterates at ``ceil(1.3^j)`` and an optional
  monitor. AHF (:mod:`armctl.optim.ahf`) line-searches the objective along every direction the
  iterator yields.

Each iteration is one jitted call (:func:`cg_step`: the product, the vector updates and the
scalars); the loop runs in Python, since the stopping rules need the scalars on the host anyway.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, NamedTuple

import jax
import optax
from jax.tree_util import Partial

from armctl.optim.base import check_integer, check_number
from armctl.optim.gn import GNProduct


class CGState(NamedTuple):
    """``x``: the iterate; ``r = b - A x``; ``p``: the next direction; ``rz = r^T M^-1 r``."""

    x: Any
    r: Any
    p: Any
    rz: Any


class CGIteration(NamedTuple):
    """One CG iteration, as :class:`CGIterator` yields it.

    Attributes:
        i: the iteration's number (1 for the first).
        state: the state after it (``state.x`` is the new iterate ``x_i``).
        direction: the direction ``p`` it moved along: ``x_i = x_{i-1} + alpha p``.
        alpha: the step along ``direction`` that minimizes ``phi`` there.
        b_dot_direction: ``b^T p`` (``phi`` falls by ``alpha b^T p / 2`` along the step).
        phi: ``phi(x_i)``.
    """

    i: int
    state: CGState
    direction: Any
    alpha: float
    b_dot_direction: float
    phi: float


class CGResult(NamedTuple):
    """Outcome of :func:`cg`.

    Attributes:
        x: the last iterate.
        iterates: the saved iterates (pytrees), at ``indices`` (increasing; the last is ``iterations``).
        indices: CG iteration of each saved iterate (0 = the start ``x0``).
        phi: ``phi`` at each saved iterate.
        phi_history: ``phi`` at every iterate ``0..iterations``.
        iterations: CG steps taken.
        matvecs: matrix-vector products used (``iterations`` plus one for a nonzero ``x0``, plus
            the rejected product when stopping on non-positive curvature).
        stop_reason: one of ``'max_iters'``, ``'progress'`` (Martens' rule), ``'negative_curvature'``
            (``p^T A p <= 0``: the step is not taken), ``'converged'`` (residual at tolerance),
            ``'monitor'`` (the caller's ``monitor`` asked to stop at a saved iterate).
    """

    x: Any
    iterates: list
    indices: list
    phi: list
    phi_history: list
    iterations: int
    matvecs: int
    stop_reason: str


def as_matvec(matvec):
    """A pytree-callable form of ``matvec`` so it can be passed into jitted code."""
    if isinstance(matvec, GNProduct | Partial):
        return matvec
    if not callable(matvec):
        raise TypeError(f"matvec must be callable (v -> A v), got {type(matvec).__name__}")
    return Partial(matvec)


def _precondition(preconditioner, r):
    return r if preconditioner is None else jax.tree.map(lambda u, m: u / m, r, preconditioner)


def _phi(x, r, b):
    return -0.5 * optax.tree.vdot(x, optax.tree.add(r, b))


@jax.jit
def warm_start(matvec, preconditioner, b, x0):
    """CG state at ``x0`` (one product) and ``phi(x0)``."""
    r = optax.tree.sub(b, matvec(x0))
    z = _precondition(preconditioner, r)
    return CGState(x0, r, z, optax.tree.vdot(r, z)), _phi(x0, r, b)


@jax.jit
def zero_start(preconditioner, b):
    """CG state at ``x = 0`` (no product needed; ``phi(0) = 0``)."""
    z = _precondition(preconditioner, b)
    return CGState(optax.tree.zeros_like(b), b, z, optax.tree.vdot(b, z))


@jax.jit
def deflated_start(matvec, b, w):
    """Start CG at the minimizer of ``phi`` along ``w`` with directions A-conjugate to ``w``.

    Returns ``(state, deflation, (w^T A w, alpha_w, b^T w))`` where ``alpha_w = b^T w / w^T A w``;
    ``deflation`` is the argument :func:`cg_step` and :class:`CGIterator` take.
    """
    aw = matvec(w)
    waw = optax.tree.vdot(w, aw)
    bw = optax.tree.vdot(b, w)
    alpha = bw / waw
    x = optax.tree.scale(alpha, w)
    r = optax.tree.add_scale(b, -alpha, aw)
    p = optax.tree.add_scale(r, -optax.tree.vdot(aw, r) / waw, w)
    return CGState(x, r, p, optax.tree.vdot(r, r)), (w, aw, waw), (waw, alpha, bw)


@jax.jit
def cg_step(matvec, preconditioner, b, deflation, state: CGState):
    """One (deflated) CG iteration.

    ``deflation`` is ``None`` or ``(w, A w, w^T A w)``: the new direction is additionally made
    A-conjugate to ``w`` (deflated CG, Saad et al. 2000), which keeps the Krylov basis conjugate to
    an extra vector with constant memory. Returns the new state and the scalars
    ``(p^T A p, alpha, phi(x_new), b^T p, r^T z)`` of the direction ``p = state.p`` just used.
    """
    ap = matvec(state.p)
    pap = optax.tree.vdot(state.p, ap)
    alpha = state.rz / pap
    x = optax.tree.add_scale(state.x, alpha, state.p)
    r = optax.tree.add_scale(state.r, -alpha, ap)
    z = _precondition(preconditioner, r)
    rz = optax.tree.vdot(r, z)
    p = optax.tree.add_scale(z, rz / state.rz, state.p)
    if deflation is not None:
        w, aw, waw = deflation
        p = optax.tree.add_scale(p, -optax.tree.vdot(aw, z) / waw, w)
    return CGState(x, r, p, rz), (pap, alpha, _phi(x, r, b), optax.tree.vdot(b, state.p), rz)


def save_points(max_iters: int, base: float) -> set[int]:
    """``{ceil(base^j)}`` up to ``max_iters`` (Martens 2010's backtracking schedule)."""
    points, j = set(), 0
    while (i := math.ceil(base**j)) <= max_iters:
        points.add(i)
        j += 1
    return points


def progress_stop(phi_history: list, i: int, tol_k_factor: float) -> bool:
    """Martens' rule: ``k = max(10, ceil(0.1 i))``; stop when ``i > k``, ``phi_i < 0`` and
    ``(phi_i - phi_{i-k}) / phi_i < k * tol_k_factor``."""
    k = max(10, math.ceil(0.1 * i))
    if i <= k or not phi_history[i] < 0:
        return False
    return (phi_history[i] - phi_history[i - k]) / phi_history[i] < k * tol_k_factor


def _check_stopping(max_iters, min_iters, tol_k_factor, residual_tol) -> None:
    check_integer("max_iters", max_iters, 1)
    check_integer("min_iters", min_iters, 0, max_iters)
    check_number("tol_k_factor", tol_k_factor, 0, low_closed=True)
    check_number("residual_tol", residual_tol, 0, low_closed=True)


class CGIterator:
    """CG iterations from a start state, stopped by the rules every CG user shares.

    ``for it in CGIterator(...)`` yields a :class:`CGIteration` per iteration taken. Before each
    iteration the residual rule is checked (stop ``'converged'`` when ``r^T M^-1 r <=
    residual_tol^2 b^T b`` or is zero); an iteration whose direction has ``p^T A p <= 0`` is not
    taken (``'negative_curvature'``); after the loop body has seen an iteration, Martens'
    progress rule (:func:`progress_stop`, from iteration ``min_iters`` on) may stop it
    (``'progress'``), and ``max_iters`` caps it (``'max_iters'``). A loop body that breaks
    calls :meth:`stop` with its own reason first.

    Attributes (read them during or after the loop):
        state: the current :class:`CGState`.
        phi_history: ``phi`` at every iterate so far, from the start's ``phi0``.
        iterations: iterations taken (``len(phi_history) - 1``).
        matvecs: products used, the rejected one on non-positive curvature included.
        stop_reason: ``None`` until the iteration stops.

    Args:
        matvec: ``v -> A v`` (a :class:`GNProduct` or any callable).
        b: the right-hand side, a pytree.
        start: the start state (:func:`zero_start`, :func:`warm_start`, :func:`deflated_start`).
        phi0: ``phi`` at ``start.x``.
        preconditioner: ``None`` or the positive diagonal of ``M``, a pytree like ``b``.
        deflation: ``None`` or the ``deflation`` of :func:`deflated_start`.
        max_iters / min_iters / tol_k_factor / residual_tol: the stopping rules above.
    """

    def __init__(
        self,
        matvec,
        b,
        start: CGState,
        phi0: float = 0.0,
        *,
        preconditioner=None,
        deflation=None,
        max_iters: int,
        min_iters: int = 1,
        tol_k_factor: float = 5e-4,
        residual_tol: float = 0.0,
    ):
        _check_stopping(max_iters, min_iters, tol_k_factor, residual_tol)
        self.matvec, self.b = as_matvec(matvec), b
        self.preconditioner, self.deflation = preconditioner, deflation
        self.max_iters, self.min_iters, self.tol_k_factor = max_iters, min_iters, tol_k_factor
        self.residual_floor = residual_tol**2 * float(optax.tree.vdot(b, b)) if residual_tol else 0.0
        self.state, self.phi_history, self.matvecs, self.stop_reason = start, [float(phi0)], 0, None

    @property
    def iterations(self) -> int:
        return len(self.phi_history) - 1

    def stop(self, reason: str) -> None:
        """Record why the loop body stopped the iteration."""
        self.stop_reason = reason

    def _converged(self, rz) -> bool:
        rz = float(rz)
        return rz <= self.residual_floor or rz == 0.0

    def __iter__(self) -> Iterator[CGIteration]:
        if self._converged(self.state.rz):
            self.stop_reason = "converged"
            return
        for i in range(1, self.max_iters + 1):
            new, (pap, alpha, phi, bp, rz) = cg_step(
                self.matvec, self.preconditioner, self.b, self.deflation, self.state
            )
            self.matvecs += 1
            if not float(pap) > 0:
                self.stop_reason = "negative_curvature"
                return
            direction, self.state = self.state.p, new
            self.phi_history.append(float(phi))
            yield CGIteration(i, new, direction, float(alpha), float(bp), float(phi))
            if self.stop_reason is not None:  # the loop body called stop() and went on
                return
            if self._converged(rz):
                self.stop_reason = "converged"
                return
            if i >= self.min_iters and progress_stop(self.phi_history, i, self.tol_k_factor):
                self.stop_reason = "progress"
                return
        self.stop_reason = "max_iters"


class ReductionStop:
    """Sutskever's thesis, appendix 4.4: stop CG "if the magnitude of the reduction in the objective
    function on the curvature minibatch is less than 90% of its maximum during the CG run".

    Called with the reduction ``f(theta) - f(theta + x_i)`` at successive CG iterates; returns True
    (stop) once a reduction falls below ``fraction`` times the largest one seen before it, provided
    that largest one is positive (an objective that has not decreased yet gives no maximum to fall
    from). A non-finite reduction (the objective overflowed or is NaN) counts as ``-inf``. ``best``
    holds the largest reduction so far.
    """

    def __init__(self, fraction: float = 0.9):
        self.fraction = check_number("fraction", fraction, 0, 1, high_closed=True)
        self.best = -math.inf

    def __call__(self, reduction: float) -> bool:
        reduction = float(reduction)
        if not math.isfinite(reduction):
            reduction = -math.inf
        stop = self.best > 0 and reduction < self.fraction * self.best
        self.best = max(self.best, reduction)
        return stop


def cg(
    matvec,
    b,
    x0=None,
    *,
    max_iters: int,
    min_iters: int = 1,
    tol_k_factor: float = 5e-4,
    save_schedule: float = 1.3,
    preconditioner=None,
    residual_tol: float = 0.0,
    monitor=None,
    monitor_every: bool = False,
) -> CGResult:
    """Minimize ``x^T A x / 2 - b^T x`` by (preconditioned) CG from ``x0`` (``None``: zeros).

    A warm start ``x0`` with ``phi(x0) >= 0`` (no better than zero) is replaced by zero; the
    product spent on finding that out is counted in ``matvecs``.

    Args:
        matvec: ``v -> A v`` on pytrees shaped like ``b`` (a :class:`GNProduct` or any callable).
        max_iters: cap on CG steps; ``min_iters``: steps before the progress rule may stop.
        tol_k_factor: the rule's tolerance (5e-4 in Martens 2010).
        save_schedule: iterates are saved at ``i = ceil(save_schedule^j)`` and at the end.
        preconditioner: ``None`` or a pytree like ``b`` holding the positive diagonal of ``M``
            (``z = r / M``).
        residual_tol: also stop when ``||r|| <= residual_tol * ||b||`` (0 disables; with a
            preconditioner the test is on ``r^T M^-1 r``).
        monitor: ``None`` or ``monitor(i, x) -> bool``, called at every saved iterate ``x`` (CG
            iteration ``i``) once it is saved; ``True`` stops CG there (reason ``'monitor'``). HF uses
            it for the thesis's stop on the objective's reduction (:class:`ReductionStop`).
        monitor_every: call ``monitor`` at every iterate instead (an iterate it stops at is saved).
    """
    _check_stopping(max_iters, min_iters, tol_k_factor, residual_tol)
    check_number("save_schedule", save_schedule, 1)
    matvec = as_matvec(matvec)
    start, phi0, warm_products = None, 0.0, 0
    if x0 is not None:
        start, phi0 = warm_start(matvec, preconditioner, b, x0)
        phi0, warm_products = float(phi0), 1
        if not phi0 < 0:
            # A warm start no better than x = 0 (phi(0) = 0) is dropped: after a run of rejected
            # steps the previous solution can be far off, and CG would spend its iterations
            # walking back (or overflow on it) instead of solving.
            start, phi0 = None, 0.0
    if start is None:
        start = zero_start(preconditioner, b)
    iterator = CGIterator(
        matvec,
        b,
        start,
        phi0,
        preconditioner=preconditioner,
        max_iters=max_iters,
        min_iters=min_iters,
        tol_k_factor=tol_k_factor,
        residual_tol=residual_tol,
    )
    saves = save_points(max_iters, save_schedule)
    iterates, indices = [], []
    for it in iterator:
        if it.i in saves:
            iterates.append(it.state.x)
            indices.append(it.i)
        if monitor is not None and (monitor_every or it.i in saves) and monitor(it.i, it.state.x):
            iterator.stop("monitor")
            break
    phis, iterations = iterator.phi_history, iterator.iterations
    if not indices or indices[-1] != iterations:
        iterates.append(iterator.state.x)
        indices.append(iterations)
    return CGResult(
        iterator.state.x,
        iterates,
        indices,
        [phis[i] for i in indices],
        phis,
        iterations,
        iterator.matvecs + warm_products,
        iterator.stop_reason,
    )
