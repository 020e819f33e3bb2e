"""Hessian-free optimization (Martens 2010; Martens & Sutskever 2011), with optional structural damping.

Batches: ``batch`` is the freshly sampled gradient batch; the curvature batch is an evenly spaced
``curvature_fraction`` share of its rows (:func:`armctl.optim.base.curvature_batch`).
All objective evaluations that choose or judge a step (CG backtracking, the line search, the
reduction ratio rho) use the gradient batch: it is the larger, less noisy one, and it is the
batch whose gradient defines the quadratic's linear term.

One step:

1. gradient ``g`` on the gradient batch; linearize on the curvature batch;
2. CG (:func:`armctl.optim.cg.cg`) on ``(G + lam mu J_t^T H_D J_t + lam I) x = -g`` (structural
   damping when ``structural_mu > 0``), warm-started from ``cg_decay`` (0.95) times the previous
   CG solution, Martens' stopping rule, iterates saved at ``ceil(1.3^j)``; optionally
   (``reduction_stop``, off by default) the stop of Sutskever's thesis, appendix 4.4: the
   objective on the curvature batch is evaluated at every saved iterate (``reduction_check=
   'every'``: at every iterate, as the thesis words it) and CG stops at the first whose reduction
   ``f(theta) - f(theta + x_i)`` is below ``reduction_stop`` (0.9 there) times the largest
   reduction of the earlier checked iterates (:class:`armctl.optim.cg.ReductionStop`; one
   evaluation at ``theta`` plus one per checked iterate, counted as objective calls; when the
   curvature batch is the whole gradient batch the values are reused by the backtracking below);
3. backtracking over the saved iterates: from the last, step back while the earlier iterate has
   a lower objective (Martens 2010, sec. 4.6);
4. ``rho = (f(theta+p) - f(theta)) / phi(p)`` with ``phi`` the damped quadratic of the chosen
   iterate; Levenberg-Marquardt: ``rho < 1/4: lam *= 3/2``, ``rho > 3/4: lam *= 2/3``
   (:func:`armctl.optim.second_order.levenberg_marquardt`);
5. Armijo backtracking line search along the chosen iterate (``f(theta + t p) <= f + c t g^T p``,
   ``c = 1e-2``, ``t *= 0.8``, at most ``max_line_search`` evaluations; Martens & Sutskever 2011);
6. a step whose objective is not finite or not below ``f(theta)`` is rejected: the parameters
   are unchanged (lam grows through rho, which is then negative or NaN).

``info`` of every step: ``loss`` (before), ``new_loss``, ``accepted``, ``lambda`` (the lam this
step's CG used; the adapted value is in the returned state), ``cg_iters``, ``rho``, ``cg_stop``
(a :class:`armctl.optim.cg.CGResult` stop reason; ``'monitor'`` when ``reduction_stop`` ended
CG), ``step_size`` and ``backtrack_iter`` (the CG iteration chosen by backtracking).
"""

from __future__ import annotations

import math

import optax

from armctl.optim.base import (
    Optimizer,
    backtracking,
    check_choice,
    check_integer,
    check_number,
    curvature_batch,
    is_finite,
    named_options,
    objective_at,
    objective_jit,
    shifted,
)
from armctl.optim.cg import ReductionStop, cg
from armctl.optim.second_order import (
    HFState,
    check_options,
    init_state,
    is_zero,
    levenberg_marquardt,
    open_step,
)


@named_options
def hf(
    lambda_init: float = 1.0,
    structural_mu: float = 0.0,
    max_cg: int = 250,
    curvature_fraction: float = 1.0,
    *,
    min_cg: int = 1,
    cg_decay: float = 0.95,
    tol_k_factor: float = 5e-4,
    lambda_drop: float = 2 / 3,
    lambda_boost: float = 3 / 2,
    line_search_c: float = 1e-2,
    line_search_shrink: float = 0.8,
    max_line_search: int = 20,
    reduction_stop: float | None = None,
    reduction_check: str = "saved",
) -> Optimizer:
    """Hessian-free optimizer (see the module docstring for the algorithm).

    Args:
        lambda_init: initial Tikhonov damping lam (> 0).
        structural_mu: structural damping mu (>= 0; 0 disables; needs taps from ``problem.outputs``).
        max_cg / min_cg: CG iteration cap / steps before the progress rule may stop.
        curvature_fraction: share of the gradient batch used for curvature, in (0, 1] (evenly
            spaced rows: :func:`armctl.optim.base.curvature_batch`).
        cg_decay: warm start ``x0 = cg_decay * previous solution``, in (0, 1].
        tol_k_factor: the tolerance of Martens' CG progress rule (>= 0; 0 disables the rule).
        lambda_drop / lambda_boost: the LM factors (``0 < drop < 1 < boost``).
        line_search_c / line_search_shrink / max_line_search: the final Armijo line search
            (``c`` and ``shrink`` in (0, 1), ``max_line_search >= 1`` evaluations).
        reduction_stop: ``None`` (default) or a fraction in (0, 1]: also stop CG at the first saved
            iterate whose reduction of the objective on the curvature batch is below this fraction
            of the largest earlier one (thesis appendix 4.4 uses 0.9).
        reduction_check: where ``reduction_stop`` looks: ``'saved'`` (the saved iterates, one
            objective evaluation per saved iterate) or ``'every'`` (every CG iterate, as the
            thesis words it: one evaluation on the curvature batch per CG step).

    Raises ``ValueError`` naming the first bad argument.
    """
    check_options(locals())
    check_number("cg_decay", cg_decay, 0, 1, high_closed=True)
    check_number("line_search_c", line_search_c, 0, 1)
    check_number("line_search_shrink", line_search_shrink, 0, 1)
    check_integer("max_line_search", max_line_search, 1)
    if reduction_stop is not None:
        check_number("reduction_stop", reduction_stop, 0, 1, high_closed=True)
    check_choice("reduction_check", reduction_check, ("saved", "every"))

    def init(params) -> HFState:
        return init_state(lambda_init, params)

    def step(problem, params, state: HFState, batch, key=None):
        del key  # HF is deterministic given the batch
        lam = float(state.lam)
        f0, grad, gnp, counters = open_step(problem, params, state, batch, curvature_fraction, structural_mu)
        b = optax.tree.scale(-1.0, grad)
        x0 = None if is_zero(state.delta) else optax.tree.scale(cg_decay, state.delta)
        monitor = None
        if reduction_stop is not None:
            monitor = _reduction_monitor(problem, params, batch, curvature_fraction, reduction_stop)
        res = cg(
            gnp,
            b,
            x0,
            max_iters=max_cg,
            min_iters=min_cg,
            tol_k_factor=tol_k_factor,
            monitor=monitor,
            monitor_every=reduction_check == "every",
        )
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

        slope = float(optax.tree.vdot(grad, p))
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
            levenberg_marquardt(lam, rho, lambda_drop, lambda_boost),
            res.x if is_finite(res.x) else optax.tree.zeros_like(params),
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
