"""Augmented Hessian-free optimization (Sutskever 2013, sec. 6.2) and Krause's line-search damping.

CG (:class:`armctl.optim.cg.CGIterator`) runs on the damped Gauss-Newton quadratic; its iterate
``x_q`` drives CG and its stopping rule. As each conjugate direction ``c_i`` appears with its
quadratic-optimal coefficient ``alpha_i``, the true parameters are moved by ``eps_i alpha_i c_i``,
where ``eps_i`` comes from a line search on the objective (on the gradient batch); the move is
taken only if it lowers the objective below its current value, otherwise the direction is
skipped (``eps_i = 0``). Two line searches (``line_search``):

* ``'parabolic'`` (the default): evaluate ``eps = 1``; keep it when the objective fell and the
  parabola through ``f(0)``, the quadratic model's slope at 0 and ``f(1)`` puts its minimum within
  [1/2, 2]; otherwise also evaluate that minimum (clipped to [1/16, 4]) and keep the best of
  0, 1 and it. One evaluation per direction where the model is right, two otherwise.
* ``'backtracking'``: Krause's Algorithm 5 (2015, sec. 3.3.3.2): evaluate ``eps = 1``, then keep
  multiplying by ``tau = 1/2`` while the objective keeps decreasing (at most ``ls_max``
  backtracks, so 2 to ``ls_max + 1`` evaluations per direction).

Grouped line searches (``max_group > 1``, not in the thesis): consecutive CG directions are
line-searched together, along the sum of their quadratic-optimal moves. The quadratic's decrease
along that sum is the sum of theirs (the directions are A-conjugate), so the parabolic search
applies unchanged. The group size doubles (up to ``max_group``) after a group is kept at its
quadratic optimum with one evaluation, and drops back to 1 otherwise, so that the objective is
evaluated less often where the model predicts it well and per direction where it does not.

Augmentation (``augment=True``, AHF): the previous true update ``w`` joins the conjugate basis as
its first vector. CG starts at ``x_q = alpha_w w`` (the quadratic's minimizer along ``w``) and
every later direction is made A-conjugate to ``w`` (deflated CG, Saad et al. 2000), which costs
one product ``A w`` and two stored vectors, independent of the number of directions. The line
search runs along ``alpha_w w`` first. Without it (``augment=False``) CG starts from zero (no hot
start): with ``line_search='backtracking'`` that is Krause's *line-search damping*.

Choices where the sources are vague:

* stopping: Martens' progress rule on the quadratic ``phi(x_q)``, ``max_cg``, non-positive
  curvature, a zero residual, and (Krause) ``ls_fail_limit = 5`` skipped directions (stop reason
  ``'line_search'``);
* lambda: kept and adapted by the LM rule with ``rho = (f(theta_new) - f(theta)) / phi(x_q)``,
  the realized reduction over the damped quadratic's value at its own CG solution. (Measured
  against the line-searched update instead, rho is ~1 by construction, lam decays to ~1e-20 and
  the undamped Krylov directions stall the method on center-out: 1.9 % above iLQR after 21k
  function calls, against 1.0 % for HF.) The line search does most of the damping; lam keeps
  CG well conditioned. ``adapt_lambda=False`` freezes it.
* no final line search: every coefficient was already line-searched on the objective.

``info`` of every step: ``loss`` (before), ``new_loss``, ``accepted``, ``lambda`` (the lam this
step's CG used; the adapted value is in the returned state), ``cg_iters``, ``rho``, ``cg_stop``
and ``skipped_directions`` (directions, or groups of them, that the line search skipped).
"""

from __future__ import annotations

import math

import optax

from armctl.optim.base import (
    Optimizer,
    check_bool,
    check_choice,
    check_integer,
    named_options,
    objective_at,
    shifted,
)
from armctl.optim.cg import CGIterator, deflated_start, zero_start
from armctl.optim.second_order import (
    HFState,
    check_options,
    init_state,
    is_zero,
    levenberg_marquardt,
    open_step,
)

LINE_SEARCHES = ("parabolic", "backtracking")
#: Krause's backtracking factor (Algorithm 5's tau).
BACKTRACKING_TAU = 0.5


def backtracking_line_search(f_at, f_cur: float, ls_max: int, tau: float = BACKTRACKING_TAU):
    """Krause's Algorithm 5 from ``eps = 1``: shrink ``eps`` by ``tau`` while ``f_at(eps)`` keeps
    decreasing (at most ``ls_max`` times). Returns ``(eps, value, evaluations)``; ``eps = 0`` (and
    ``value = f_cur``) when the best value found is not below ``f_cur``."""
    eps, value, evals = 1.0, f_at(1.0), 1
    for _ in range(ls_max):
        trial = f_at(tau * eps)
        evals += 1
        if not (trial < value or (math.isfinite(trial) and not math.isfinite(value))):
            break
        eps, value = tau * eps, trial
    if math.isfinite(value) and value < f_cur:
        return eps, value, evals
    return 0.0, f_cur, evals


def parabolic_line_search(f_at, f_cur: float, predicted: float):
    """One or two evaluations along a direction scaled to its quadratic optimum (``eps = 1``).

    The quadratic model predicts ``f(eps) = f_cur - predicted (2 eps - eps^2)`` (a decrease of
    ``predicted`` at ``eps = 1``). Evaluate ``f(1)``; the parabola through ``f(0)``, the model's
    slope ``-2 predicted`` at 0 and ``f(1)`` has its minimum at ``eps* = predicted / (f(1) -
    f_cur + 2 predicted)``. If ``f(1)`` decreased and ``eps*`` is within [1/2, 2] the model is
    trusted and ``eps = 1`` kept (one evaluation); otherwise ``f(eps*)`` (``eps*`` clipped to
    [1/16, 4]) is tried and the best of 0, 1 and ``eps*`` is kept. Returns ``(eps, value, evals)``.
    """
    value = f_at(1.0)
    curvature = value - f_cur + 2 * predicted if math.isfinite(value) else math.inf
    eps_star = predicted / curvature if curvature > 0 else 4.0
    if math.isfinite(value) and value < f_cur and 0.5 <= eps_star <= 2.0:
        return 1.0, value, 1
    eps_star = min(max(eps_star, 1 / 16), 4.0)
    trial = f_at(eps_star)
    best = min(
        ((0.0, f_cur), (1.0, value), (eps_star, trial)),
        key=lambda c: c[1] if math.isfinite(c[1]) else math.inf,
    )
    return best[0], best[1], 2


@named_options
def ahf(
    lambda_init: float = 1e-2,
    structural_mu: float = 0.0,
    max_cg: int = 250,
    curvature_fraction: float = 1.0,
    *,
    min_cg: int = 1,
    tol_k_factor: float = 5e-4,
    lambda_drop: float = 2 / 3,
    lambda_boost: float = 3 / 2,
    ls_max: int = 10,
    ls_fail_limit: int = 5,
    max_group: int = 1,
    adapt_lambda: bool = True,
    line_search: str = "parabolic",
    augment: bool = True,
) -> Optimizer:
    """Augmented Hessian-free optimizer (thesis 6.2); see the module docstring for every choice made.

    Args:
        lambda_init, structural_mu, max_cg, curvature_fraction, min_cg, tol_k_factor, lambda_drop,
            lambda_boost: as in :func:`armctl.optim.hf.hf`.
        ls_max: backtracks per direction of the ``'backtracking'`` line search (>= 1; the
            parabolic one takes at most two evaluations and ignores it).
        ls_fail_limit: stop CG after this many skipped directions or groups (>= 1).
        max_group: the most consecutive CG directions line-searched together (>= 1; 1: each
            on its own, as in the thesis); see the module docstring.
        adapt_lambda: adapt lam by the LM rule (True) or keep ``lambda_init`` (False).
        line_search: ``'parabolic'`` (default) or ``'backtracking'`` (Krause's Algorithm 5).
        augment: add the previous update to the conjugate basis (True: AHF); False starts CG
            from zero every step (with ``line_search='backtracking'``: Krause's line-search damping).

    Raises ``ValueError`` naming the first bad argument.
    """
    check_options(locals())
    check_integer("ls_max", ls_max, 1)
    check_integer("ls_fail_limit", ls_fail_limit, 1)
    check_integer("max_group", max_group, 1)
    check_bool("adapt_lambda", adapt_lambda)
    check_choice("line_search", line_search, LINE_SEARCHES)
    check_bool("augment", augment)

    def init(params) -> HFState:
        return init_state(lambda_init, params)

    def step(problem, params, state: HFState, batch, key=None):
        del key  # deterministic given the batch
        lam = float(state.lam)
        f0, grad, gnp, counters = open_step(problem, params, state, batch, curvature_fraction, structural_mu)
        b = optax.tree.scale(-1.0, grad)
        theta, f_cur, evals, products, fails = params, f0, 0, 0, 0

        def move(direction, coeff, predicted):
            """Line-search the objective along ``coeff * direction``, whose quadratic optimum
            promises a decrease of ``predicted``; returns ``(moved, kept eps = 1 with one
            evaluation)``."""
            nonlocal theta, f_cur, evals
            f_at = lambda e: objective_at(problem, theta, direction, e * coeff, batch)
            if line_search == "parabolic":
                eps, value, n = parabolic_line_search(f_at, f_cur, predicted)
            else:
                eps, value, n = backtracking_line_search(f_at, f_cur, ls_max)
            evals += n
            if eps == 0.0:
                return False, False
            # The very parameters the line search evaluated (same jitted shift, same rounding).
            theta, f_cur = shifted(theta, direction, eps * coeff), value
            return True, eps == 1.0 and n == 1

        group, pending = 1, []

        def flush():
            """Line-search the pending directions together; adapt the group size."""
            nonlocal fails, group
            if not pending:
                return
            if len(pending) == 1:  # on its own: exactly the thesis's per-direction search
                direction, coeff, b_dir = pending[0]
                predicted = 0.5 * coeff * b_dir
            else:
                direction = optax.tree.scale(pending[0][1], pending[0][0])
                for d, c, _ in pending[1:]:
                    direction = optax.tree.add_scale(direction, c, d)
                coeff, predicted = 1.0, sum(0.5 * c * b_dir for _, c, b_dir in pending)
            pending.clear()
            moved, as_modelled = move(direction, coeff, predicted)
            fails += 0 if moved else 1
            group = min(2 * group, max_group) if as_modelled else 1

        deflation, start, phi0 = None, None, 0.0
        if augment and not is_zero(state.delta):
            deflated, defl, (waw, alpha_w, bw) = deflated_start(gnp, b, state.delta)
            products += 1
            waw, alpha_w, bw = float(waw), float(alpha_w), float(bw)
            if waw > 0 and math.isfinite(alpha_w):
                start, deflation, phi0 = deflated, defl, -0.5 * bw * alpha_w
                fails += 0 if move(state.delta, alpha_w, 0.5 * alpha_w * bw)[0] else 1
        if start is None:
            start = zero_start(None, b)

        iterator = CGIterator(
            gnp,
            b,
            start,
            phi0,
            deflation=deflation,
            max_iters=max_cg,
            min_iters=min_cg,
            tol_k_factor=tol_k_factor,
        )
        for it in iterator:
            pending.append((it.direction, it.alpha, it.b_dot_direction))
            if len(pending) >= group:
                flush()
            if fails >= ls_fail_limit:
                iterator.stop("line_search")
                break
        flush()
        products += iterator.matvecs

        accepted = f_cur < f0
        # rho compares the realized reduction with what the quadratic promised at its own CG
        # solution (not at the line-searched update, whose model value tracks the objective by
        # construction and would drive lam to zero): where the line searches had to shorten or
        # skip directions, rho falls and lam grows, which keeps the Krylov basis well damped.
        q_promised = iterator.phi_history[-1]
        rho = (f_cur - f0) / q_promised if q_promised < 0 else -math.inf
        new_lam = levenberg_marquardt(lam, rho, lambda_drop, lambda_boost) if adapt_lambda else lam
        update = optax.tree.sub(theta, params) if accepted else optax.tree.zeros_like(params)
        new_state = HFState(new_lam, update, counters.add(objective=evals, gv=products))
        info = {
            "loss": f0,
            "new_loss": f_cur,
            "accepted": accepted,
            "lambda": lam,
            "cg_iters": iterator.iterations,
            "rho": rho,
            "cg_stop": iterator.stop_reason,
            "skipped_directions": fails,
        }
        return (theta if accepted else params), new_state, info

    return Optimizer(init, step)
