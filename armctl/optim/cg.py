"""Linear conjugate gradient with Martens' (2010) stopping rule and saved iterates.

Minimizes ``phi(x) = x^T A x / 2 - b^T x`` for a symmetric positive (semi)definite ``A`` given
as a matrix-vector product on params-shaped pytrees. ``phi`` is tracked without extra products:
``A x = b - r``, so ``phi(x) = -x^T (b + r) / 2``.

The loop runs in Python around one jitted CG iteration (the product, the vector updates and the
scalars are one compiled call); only three scalars come back to the host per iteration, which
the stopping rule needs anyway.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
from jax.tree_util import Partial

from armctl.optim import _tree
from armctl.optim.gn import GNProduct

STOP_REASONS = ("max_iters", "progress", "negative_curvature", "converged", "monitor")


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


class CGState(NamedTuple):
    x: Any
    r: Any
    p: Any
    rz: Any


def as_matvec(matvec):
    """A pytree-callable form of ``matvec`` so it can be passed into jitted code."""
    if isinstance(matvec, GNProduct | Partial):
        return matvec
    if not callable(matvec):
        raise TypeError(f"matvec must be callable (v -> A v), got {type(matvec).__name__}")
    return Partial(matvec)


def _precondition(preconditioner, r):
    return r if preconditioner is None else _tree.tree_map(lambda u, m: u / m, r, preconditioner)


def _phi(x, r, b):
    return -0.5 * _tree.vdot(x, _tree.axpy(1.0, r, b))


@jax.jit
def _start(matvec, preconditioner, b, x0):
    r = _tree.axpy(-1.0, matvec(x0), b)
    z = _precondition(preconditioner, r)
    return CGState(x0, r, z, _tree.vdot(r, z)), _phi(x0, r, b)


@jax.jit
def zero_start(preconditioner, b):
    """CG state at ``x = 0`` (no product needed)."""
    z = _precondition(preconditioner, b)
    return CGState(_tree.zeros_like(b), b, z, _tree.vdot(b, z))


@jax.jit
def cg_step(matvec, preconditioner, b, deflation, state: CGState):
    """One (deflated) CG iteration.

    ``deflation`` is ``None`` or ``(w, A w, w^T A w)``: the new direction is additionally made
    A-conjugate to ``w`` (deflated CG, Saad et al. 2000), which keeps the Krylov basis conjugate to
    an extra vector with constant memory. Returns the new state and the scalars
    ``(p^T A p, alpha, phi(x_new), b^T p, r^T z)`` of the direction ``p = state.p`` just used.
    """
    ap = matvec(state.p)
    pap = _tree.vdot(state.p, ap)
    alpha = state.rz / pap
    x = _tree.axpy(alpha, state.p, state.x)
    r = _tree.axpy(-alpha, ap, state.r)
    z = _precondition(preconditioner, r)
    rz = _tree.vdot(r, z)
    p = _tree.axpy(rz / state.rz, state.p, z)
    if deflation is not None:
        w, aw, waw = deflation
        p = _tree.axpy(-_tree.vdot(aw, z) / waw, w, p)
    return CGState(x, r, p, rz), (pap, alpha, _phi(x, r, b), _tree.vdot(b, state.p), rz)


@jax.jit
def deflated_start(matvec, b, w):
    """Start CG at the minimizer of ``phi`` along ``w`` with directions A-conjugate to ``w``.

    Returns ``(state, deflation, (w^T A w, alpha_w, b^T w))`` where ``alpha_w = b^T w / w^T A w``.
    """
    aw = matvec(w)
    waw = _tree.vdot(w, aw)
    bw = _tree.vdot(b, w)
    alpha = bw / waw
    x = _tree.scale(alpha, w)
    r = _tree.axpy(-alpha, aw, b)
    p = _tree.axpy(-_tree.vdot(aw, r) / waw, w, r)
    return CGState(x, r, p, _tree.vdot(r, r)), (w, aw, waw), (waw, alpha, bw)


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
        if not (isinstance(fraction, int | float) and 0 < fraction <= 1):
            raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
        self.fraction, self.best = float(fraction), -math.inf

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
        residual_tol: also stop when ``||r|| <= residual_tol * ||b||`` (0 disables).
        monitor: ``None`` or ``monitor(i, x) -> bool``, called at every saved iterate ``x`` (CG
            iteration ``i``) once it is saved; ``True`` stops CG there (reason ``'monitor'``). HF uses
            it for the thesis's stop on the objective's reduction (:class:`ReductionStop`).
    """
    if not (isinstance(max_iters, int) and max_iters >= 1):
        raise ValueError(f"max_iters must be an integer >= 1, got {max_iters!r}")
    if not (isinstance(min_iters, int) and 0 <= min_iters <= max_iters):
        raise ValueError(f"min_iters must be an integer in [0, max_iters={max_iters}], got {min_iters!r}")
    if not save_schedule > 1:
        raise ValueError(f"save_schedule must be > 1, got {save_schedule!r}")
    matvec = as_matvec(matvec)
    state, phi0, matvecs = None, 0.0, 0
    if x0 is not None:
        state, phi0 = _start(matvec, preconditioner, b, x0)
        phi0, matvecs = float(phi0), 1
        if not phi0 < 0:
            # A warm start no better than x = 0 (phi(0) = 0) is dropped: after a run of rejected
            # steps the previous solution can be far off, and CG would spend its iterations
            # walking back (or overflow on it) instead of solving.
            state, phi0 = None, 0.0
    if state is None:
        state = zero_start(preconditioner, b)
    stop_r2 = residual_tol**2 * float(_tree.vdot(b, b))
    saves = save_points(max_iters, save_schedule)
    phis, iterates, indices = [phi0], [], []
    reason = "max_iters"
    if float(state.rz) <= stop_r2 or float(state.rz) == 0.0:
        reason = "converged"
    else:
        for i in range(1, max_iters + 1):
            new, (pap, _, phi, _, rz) = cg_step(matvec, preconditioner, b, None, state)
            matvecs += 1
            if not float(pap) > 0:
                reason = "negative_curvature"
                break
            state = new
            phis.append(float(phi))
            if i in saves:
                iterates.append(state.x)
                indices.append(i)
                if monitor is not None and monitor(i, state.x):
                    reason = "monitor"
                    break
            if float(rz) <= stop_r2 or float(rz) == 0.0:
                reason = "converged"
                break
            if i >= min_iters and progress_stop(phis, i, tol_k_factor):
                reason = "progress"
                break
    iterations = len(phis) - 1
    if not indices or indices[-1] != iterations:
        iterates.append(state.x)
        indices.append(iterations)
    return CGResult(state.x, iterates, indices, [phis[i] for i in indices], phis, iterations, matvecs, reason)
