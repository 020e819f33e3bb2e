"""Hessian-free optimization (Martens 2010; Martens & Sutskever 2011) and Augmented HF (Sutskever 2013, 6.2).

Batches: ``batch`` is the freshly sampled gradient batch; the curvature batch is its first
``curvature_fraction`` share along axis 0 of every leaf (:func:`armctl.optim.base.curvature_batch`).
All objective evaluations that choose or judge a step (CG backtracking, line searches, the
reduction ratio rho) use the gradient batch: it is the larger, less noisy one, and it is the
batch whose gradient defines the quadratic's linear term.

**HF** (``hf(damping='tikhonov')``), one step:

1. gradient ``g`` on the gradient batch; linearize on the curvature batch;
2. CG on ``(G + lam mu J_t^T H_D J_t + lam I) x = -g`` (structural damping when ``structural_mu>0``),
   warm-started from ``cg_decay`` (0.95) times the previous CG solution, Martens' stopping rule,
   iterates saved at ``ceil(1.3^j)``; optionally (``reduction_stop``, off by default) the stop of
   Sutskever's thesis, appendix 4.4: the objective on the curvature batch is evaluated at every
   saved iterate and CG stops at the first whose reduction ``f(theta) - f(theta + x_i)`` is below
   ``reduction_stop`` (0.9 there) times the largest reduction of the earlier saved iterates
   (:class:`armctl.optim.cg.ReductionStop`; one evaluation at ``theta`` plus one per saved
   iterate, counted as objective calls; when the curvature batch is the whole gradient batch the
   values are reused by the backtracking below);
3. backtracking over the saved iterates: from the last, step back while the earlier iterate has
   a lower objective (Martens 2010, sec. 4.6);
4. ``rho = (f(theta+p) - f(theta)) / phi(p)`` with ``phi`` the damped quadratic of the chosen
   iterate; Levenberg-Marquardt: ``rho < 1/4: lam *= 3/2``, ``rho > 3/4: lam *= 2/3``;
5. Armijo backtracking line search along the chosen iterate (``f(theta + t p) <= f + c t g^T p``,
   ``c = 1e-2``, ``t *= 0.8``, at most ``max_line_search`` evaluations; Martens & Sutskever 2011);
6. a step whose objective is not finite or not below ``f(theta)`` is rejected: the parameters
   are unchanged (lam grows through rho, which is then negative or NaN).

**Line-search damping** (``hf(damping='line-search')``, Krause 2015 sec. 3.3.3.2) and **AHF**
(:func:`ahf`) share one loop: CG runs on the damped GN quadratic (``x_q``, which drives CG and its
stopping rule), and as each conjugate direction ``c_i`` appears with its quadratic-optimal
coefficient ``alpha_i``, the true parameters are moved by ``eps_i alpha_i c_i`` where ``eps_i`` comes
from Krause's Algorithm 5: evaluate ``eps = 1``, then keep multiplying by ``tau = 1/2`` while the
objective keeps decreasing (at most ``ls_max = 10`` backtracks, so 2 to 11 objective evaluations
per direction); the move is taken only if it lowers the objective below its current value,
otherwise the direction is skipped (``eps_i = 0``). Choices where the sources are vague:

* stopping: Martens' progress rule on the quadratic ``phi(x_q)``, ``max_cg``, non-positive
  curvature, and (Krause) ``ls_fail_limit = 5`` skipped directions;
* lambda: kept and adapted by the LM rule with ``rho = (f(theta_new) - f(theta)) / phi(x_q)``,
  the realized reduction over the damped quadratic's value at its own CG solution. (Measured
  against the line-searched update instead, rho is ~1 by construction, lam decays to ~1e-20 and
  the undamped Krylov directions stall the method on center-out: 1.9 % above iLQR after 21k
  function calls, against 1.0 % for HF.) The line search does most of the damping; lam keeps
  CG well conditioned. ``adapt_lambda=False`` freezes it.
* "augmented" (AHF only): the previous true update ``w`` joins the conjugate basis as its first
  vector. CG starts at ``x_q = alpha_w w`` (the quadratic's minimizer along ``w``) and every later
  direction is made A-conjugate to ``w`` (deflated CG, Saad et al. 2000), which costs one product
  ``A w`` and two stored vectors, independent of the number of directions. The line search runs
  along ``alpha_w w`` first. Line-search damping starts CG from zero (no hot start).
* no final line search: every coefficient was already line-searched on the objective.

``info`` of every step: ``loss`` (before), ``new_loss``, ``accepted``, ``lambda`` (the lam this
step's CG used; the adapted value is in the returned state), ``cg_iters``, ``rho``, ``cg_stop``
(``'monitor'`` when ``reduction_stop`` ended CG);
HF adds ``step_size`` and ``backtrack_iter`` (the CG iteration chosen by backtracking), the
line-search variants ``skipped_directions``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from armctl.optim import _tree
from armctl.optim.base import (
    Counters,
    Optimizer,
    backtracking,
    check_fraction,
    check_positive,
    check_problem,
    curvature_batch,
    is_finite,
    objective_at,
    objective_jit,
    shifted,
    value_and_grad_jit,
)
from armctl.optim.cg import ReductionStop, cg, cg_step, deflated_start, progress_stop, zero_start
from armctl.optim.gn import gauss_newton_product

DAMPING_MODES = ("tikhonov", "line-search")
LINE_SEARCHES = ("backtracking", "parabolic")


class HFState(NamedTuple):
    """``lam``: LM damping; ``delta``: previous CG solution (HF) or true update (AHF); ``counters``."""

    lam: Any
    delta: Any
    counters: Counters


def _check_int(name: str, value, minimum: int) -> None:
    if not (isinstance(value, int) and value >= minimum):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


#: Bounds of the LM damping: a run stuck on a plateau (rho <= 0 every step) keeps growing lam;
#: past float range the curvature product would be inf * v, so lam saturates instead.
LAMBDA_RANGE = (1e-30, 1e30)


def _lm_update(lam: float, rho: float, drop: float, boost: float) -> float:
    if not rho >= 0.25:  # NaN rho (non-finite objective) grows lambda too
        lam = lam * boost
    elif rho > 0.75:
        lam = lam * drop
    return min(max(lam, LAMBDA_RANGE[0]), LAMBDA_RANGE[1])


def _start(problem, params, state: HFState, batch, curvature_fraction: float, structural_mu: float):
    """Shared opening of a step: checks, gradient on the batch, GN product on the curvature batch."""
    check_problem(problem)
    f0, grad = value_and_grad_jit(problem, params, batch)
    gnp = gauss_newton_product(
        problem,
        params,
        curvature_batch(batch, curvature_fraction),
        damping=float(state.lam),
        structural=structural_mu,
    )
    return float(f0), grad, gnp, state.counters.add(objective=1, gradient=1)


def _is_zero(tree) -> bool:
    return float(_tree.vdot(tree, tree)) == 0.0


def hf(
    lambda_init: float = 1.0,
    structural_mu: float = 0.0,
    max_cg: int = 250,
    curvature_fraction: float = 1.0,
    *,
    min_cg: int = 1,
    cg_decay: float = 0.95,
    tol_k_factor: float = 5e-4,
    damping: str = "tikhonov",
    lambda_drop: float = 2 / 3,
    lambda_boost: float = 3 / 2,
    line_search_c: float = 1e-2,
    line_search_shrink: float = 0.8,
    max_line_search: int = 20,
    ls_max: int = 10,
    ls_fail_limit: int = 5,
    reduction_stop: float | None = None,
) -> Optimizer:
    """Hessian-free optimizer (see the module docstring for the algorithm).

    Args:
        lambda_init: initial Tikhonov damping lam.
        structural_mu: structural damping mu (0 disables; needs taps from ``problem.outputs``).
        max_cg / min_cg: CG iteration cap / steps before the progress rule may stop.
        curvature_fraction: share of the gradient batch (first along axis 0) used for curvature.
        cg_decay: warm start ``x0 = cg_decay * previous solution`` (Tikhonov mode).
        damping: ``'tikhonov'`` (HF) or ``'line-search'`` (Krause's line-search damping: the AHF loop
            without augmentation; ``cg_decay`` and the final line search's arguments do not apply).
        line_search_c / line_search_shrink / max_line_search: the final Armijo line search.
        ls_max / ls_fail_limit: per-direction backtracks and skipped-direction limit (line-search mode).
        reduction_stop: ``None`` (default) or a fraction in (0, 1]: also stop CG at the first saved
            iterate whose reduction of the objective on the curvature batch is below this fraction
            of the largest earlier one (thesis appendix 4.4 uses 0.9; Tikhonov mode only).
    """
    if damping not in DAMPING_MODES:
        raise ValueError(f"damping must be one of {DAMPING_MODES}, got {damping!r}")
    if reduction_stop is not None:
        ReductionStop(reduction_stop)  # validates the fraction
        if damping != "tikhonov":
            raise ValueError("reduction_stop applies to damping='tikhonov' only")
    if damping == "line-search":
        return _krylov_line_search(
            augment=False,
            lambda_init=lambda_init,
            structural_mu=structural_mu,
            max_cg=max_cg,
            curvature_fraction=curvature_fraction,
            min_cg=min_cg,
            tol_k_factor=tol_k_factor,
            lambda_drop=lambda_drop,
            lambda_boost=lambda_boost,
            ls_max=ls_max,
            ls_fail_limit=ls_fail_limit,
        )
    _check_common(lambda_init, structural_mu, max_cg, min_cg, curvature_fraction, lambda_drop, lambda_boost)
    check_fraction("cg_decay", cg_decay)
    check_fraction("line_search_shrink", line_search_shrink)
    _check_int("max_line_search", max_line_search, 1)

    def init(params) -> HFState:
        return HFState(float(lambda_init), _tree.zeros_like(params), Counters())

    def step(problem, params, state: HFState, batch, key=None):
        del key  # HF is deterministic given the batch
        lam = float(state.lam)
        f0, grad, gnp, counters = _start(problem, params, state, batch, curvature_fraction, structural_mu)
        b = _tree.scale(-1.0, grad)
        x0 = None if _is_zero(state.delta) else _tree.scale(cg_decay, state.delta)
        monitor = None
        if reduction_stop is not None:
            monitor = _reduction_monitor(problem, params, batch, curvature_fraction, reduction_stop)
        res = cg(gnp, b, x0, max_iters=max_cg, min_iters=min_cg, tol_k_factor=tol_k_factor, monitor=monitor)
        evals = 0 if monitor is None else monitor.evaluations
        # The monitor's values are on the curvature batch: reusable only when that is the whole batch.
        known = monitor.values if monitor is not None and curvature_fraction == 1 else {}
        f_at = lambda p, t: objective_at(problem, params, p, t, batch)

        def f_saved(j):
            """Objective at saved iterate j (reusing the monitor's value on the same batch)."""
            nonlocal evals
            if res.indices[j] in known:
                return known[res.indices[j]]
            evals += 1
            return f_at(res.iterates[j], 1.0)

        # Backtrack over the saved iterates, newest first, while the objective keeps improving.
        j = len(res.iterates) - 1
        f_j = f_saved(j)
        while j > 0:
            f_prev = f_saved(j - 1)
            if not (f_prev < f_j or (math.isfinite(f_prev) and not math.isfinite(f_j))):
                break
            j, f_j = j - 1, f_prev
        p, phi_p = res.iterates[j], res.phi[j]
        rho = (f_j - f0) / phi_p if phi_p < 0 else -math.inf

        slope = float(_tree.vdot(grad, p))
        t, f_new, _, n = backtracking(
            lambda t: (f_at(p, t), None),
            f0,
            slope,
            c=line_search_c,
            shrink=line_search_shrink,
            max_evals=max_line_search,
            first=(f_j, None),
        )
        accepted = t > 0 and math.isfinite(f_new) and f_new < f0
        # The very parameters the line search evaluated (same jitted shift, same rounding).
        new_params = shifted(params, p, t) if accepted else params
        new_state = HFState(
            _lm_update(lam, rho, lambda_drop, lambda_boost),
            res.x if is_finite(res.x) else _tree.zeros_like(params),
            counters.add(objective=evals + n, gv=res.matvecs),
        )
        info = {
            "loss": f0,
            "new_loss": f_new if accepted else f0,
            "accepted": accepted,
            "lambda": lam,
            "cg_iters": res.iterations,
            "rho": rho,
            "step_size": t if accepted else 0.0,
            "cg_stop": res.stop_reason,
            "backtrack_iter": res.indices[j],
        }
        return new_params, new_state, info

    return Optimizer(init, step)


class _Monitor:
    """CG monitor of ``reduction_stop``: the objective on the curvature batch at each saved iterate
    (``values``: CG iteration -> objective), fed to a ReductionStop. ``evaluations`` counts them,
    plus the evaluation of ``f(theta)`` the reductions are measured from."""

    def __init__(self, f_iterate, f0: float, rule: ReductionStop):
        self.f_iterate, self.f0, self.rule = f_iterate, f0, rule
        self.values, self.evaluations = {}, 1

    def __call__(self, i: int, x) -> bool:
        value = self.values[i] = self.f_iterate(x)
        self.evaluations += 1
        return self.rule(self.f0 - value)


def _reduction_monitor(problem, params, batch, curvature_fraction: float, fraction: float) -> _Monitor:
    """The ``reduction_stop`` monitor on the curvature batch of ``batch``."""
    curv = curvature_batch(batch, curvature_fraction)
    return _Monitor(
        lambda x: objective_at(problem, params, x, 1.0, curv),
        float(objective_jit(problem, params, curv)),
        ReductionStop(fraction),
    )


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
    adapt_lambda: bool = True,
    line_search: str = "parabolic",
) -> Optimizer:
    """Augmented Hessian-free optimizer (thesis 6.2); see the module docstring for every choice made.

    ``line_search``: ``'parabolic'`` (default; one objective evaluation per direction when the
    quadratic model is right, two otherwise: :func:`_parabolic_line_search`) or
    ``'backtracking'`` (Krause's Algorithm 5, 2 to ``ls_max + 1`` evaluations per direction).
    """
    settings = dict(locals())
    return _krylov_line_search(augment=True, **settings)


def _check_common(lambda_init, structural_mu, max_cg, min_cg, curvature_fraction, drop, boost) -> None:
    check_positive("lambda_init", lambda_init)
    check_positive("structural_mu", structural_mu, allow_zero=True)
    _check_int("max_cg", max_cg, 1)
    _check_int("min_cg", min_cg, 0)
    if min_cg > max_cg:
        raise ValueError(f"min_cg must be <= max_cg={max_cg}, got {min_cg}")
    check_fraction("curvature_fraction", curvature_fraction)
    if not (0 < drop < 1 < boost):
        raise ValueError(f"need 0 < lambda_drop < 1 < lambda_boost, got {drop!r}, {boost!r}")


def _greedy_line_search(f_at, f_cur: float, tau: float, ls_max: int):
    """Krause's Algorithm 5 from ``eps = 1``: returns ``(eps, value, evaluations)`` (eps 0: no gain)."""
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


def _parabolic_line_search(f_at, f_cur: float, predicted: float):
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


def _krylov_line_search(
    *,
    augment,
    lambda_init,
    structural_mu,
    max_cg,
    curvature_fraction,
    min_cg,
    tol_k_factor,
    lambda_drop,
    lambda_boost,
    ls_max,
    ls_fail_limit,
    adapt_lambda=True,
    line_search="backtracking",
) -> Optimizer:
    if line_search not in LINE_SEARCHES:
        raise ValueError(f"line_search must be one of {LINE_SEARCHES}, got {line_search!r}")
    _check_common(lambda_init, structural_mu, max_cg, min_cg, curvature_fraction, lambda_drop, lambda_boost)
    _check_int("ls_max", ls_max, 1)
    _check_int("ls_fail_limit", ls_fail_limit, 1)
    tau = 0.5

    def init(params) -> HFState:
        return HFState(float(lambda_init), _tree.zeros_like(params), Counters())

    def step(problem, params, state: HFState, batch, key=None):
        del key  # deterministic given the batch
        lam = float(state.lam)
        f0, grad, gnp, counters = _start(problem, params, state, batch, curvature_fraction, structural_mu)
        b = _tree.scale(-1.0, grad)
        theta, f_cur, evals, products, fails = params, f0, 0, 0, 0

        def move(direction, coeff, b_dir):
            """Line-search the objective along ``coeff * direction``; returns whether it moved."""
            nonlocal theta, f_cur, evals
            f_at = lambda e: objective_at(problem, theta, direction, e * coeff, batch)
            if line_search == "parabolic":
                # Predicted decrease of the quadratic at its optimum along the direction.
                eps, value, n = _parabolic_line_search(f_at, f_cur, 0.5 * coeff * b_dir)
            else:
                eps, value, n = _greedy_line_search(f_at, f_cur, tau, ls_max)
            evals += n
            if eps == 0.0:
                return False
            # The very parameters the line search evaluated (same jitted shift, same rounding).
            theta, f_cur = shifted(theta, direction, eps * coeff), value
            return True

        deflation, cg_state, phi0 = None, None, 0.0
        if augment and not _is_zero(state.delta):
            start, defl, (waw, alpha_w, bw) = deflated_start(gnp, b, state.delta)
            products += 1
            waw, alpha_w, bw = float(waw), float(alpha_w), float(bw)
            if waw > 0 and math.isfinite(alpha_w):
                cg_state, deflation, phi0 = start, defl, -0.5 * bw * alpha_w
                fails += 0 if move(state.delta, alpha_w, bw) else 1
        if cg_state is None:
            cg_state = zero_start(None, b)

        phis, reason, iters = [phi0], "max_iters", 0
        for i in range(1, max_cg + 1):
            new, (pap, alpha, phi, bp, rz) = cg_step(gnp, None, b, deflation, cg_state)
            products += 1
            if not float(pap) > 0:
                reason = "negative_curvature"
                break
            fails += 0 if move(cg_state.p, float(alpha), float(bp)) else 1
            cg_state, iters = new, i
            phis.append(float(phi))
            if fails >= ls_fail_limit:
                reason = "line_search"
                break
            if float(rz) == 0.0:
                reason = "converged"
                break
            if i >= min_cg and progress_stop(phis, i, tol_k_factor):
                reason = "progress"
                break

        accepted = f_cur < f0
        # rho compares the realized reduction with what the quadratic promised at its own CG
        # solution (not at the line-searched update, whose model value tracks the objective by
        # construction and would drive lam to zero): where the line searches had to shorten or
        # skip directions, rho falls and lam grows, which keeps the Krylov basis well damped.
        q_promised = phis[-1]
        rho = (f_cur - f0) / q_promised if q_promised < 0 else -math.inf
        new_lam = _lm_update(lam, rho, lambda_drop, lambda_boost) if adapt_lambda else lam
        update = _tree.axpy(-1.0, params, theta) if accepted else _tree.zeros_like(params)
        new_state = HFState(new_lam, update, counters.add(objective=evals, gv=products))
        info = {
            "loss": f0,
            "new_loss": f_cur,
            "accepted": accepted,
            "lambda": lam,
            "cg_iters": iters,
            "rho": rho,
            "cg_stop": reason,
            "skipped_directions": fails,
        }
        return (theta if accepted else params), new_state, info

    return Optimizer(init, step)
