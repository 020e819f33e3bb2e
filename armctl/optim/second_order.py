"""What HF and AHF share: their state, the Levenberg-Marquardt damping rule, their options' checks
and the opening of a step (gradient on the batch, Gauss-Newton product on the curvature batch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import optax

from armctl.optim.base import (
    Counters,
    check_integer,
    check_number,
    check_problem,
    curvature_batch,
    value_and_grad_jit,
)
from armctl.optim.gn import gauss_newton_product


class HFState(NamedTuple):
    """``lam``: LM damping; ``delta``: previous CG solution (HF) or true update (AHF); ``counters``."""

    lam: Any
    delta: Any
    counters: Counters


def init_state(lambda_init: float, params) -> HFState:
    """The state before the first step: ``lam = lambda_init``, no previous update."""
    return HFState(float(lambda_init), optax.tree.zeros_like(params), Counters())


#: Bounds of the LM damping: a run stuck on a plateau (rho <= 0 every step) keeps growing lam;
#: past float range the curvature product would be inf * v, so lam saturates instead.
LAMBDA_RANGE = (1e-30, 1e30)


def levenberg_marquardt(lam: float, rho: float, drop: float, boost: float) -> float:
    """The next damping: ``lam * boost`` when ``rho < 1/4`` or ``rho`` is NaN (a non-finite
    objective), ``lam * drop`` when ``rho > 3/4``, else ``lam``; clipped to :data:`LAMBDA_RANGE`."""
    if not rho >= 0.25:
        lam = lam * boost
    elif rho > 0.75:
        lam = lam * drop
    return min(max(lam, LAMBDA_RANGE[0]), LAMBDA_RANGE[1])


def check_options(options: Mapping[str, Any]) -> None:
    """Check the options HF and AHF share, given the factory's arguments by name (its
    ``locals()``); raises ``ValueError`` naming the first bad one."""
    check_number("lambda_init", options["lambda_init"], 0)
    check_number("structural_mu", options["structural_mu"], 0, low_closed=True)
    max_cg = check_integer("max_cg", options["max_cg"], 1)
    check_integer("min_cg", options["min_cg"], 0, max_cg)
    check_number("curvature_fraction", options["curvature_fraction"], 0, 1, high_closed=True)
    check_number("tol_k_factor", options["tol_k_factor"], 0, low_closed=True)
    check_number("lambda_drop", options["lambda_drop"], 0, 1)
    check_number("lambda_boost", options["lambda_boost"], 1)


def is_zero(tree) -> bool:
    """True when every entry of the pytree is zero (no previous update yet)."""
    return float(optax.tree.vdot(tree, tree)) == 0.0


def open_step(problem, params, state: HFState, batch, curvature_fraction: float, structural_mu: float):
    """Gradient on ``batch`` and the GN product (damped by ``state.lam``) on its curvature share.

    Returns ``(f0, grad, gnp, counters)`` with one objective call (the linearization) and one
    gradient call added to ``state.counters``.
    """
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
