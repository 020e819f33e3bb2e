"""Optimizer core: Gauss-Newton products, CG, HF, AHF, first-order baselines, L-BFGS, NCG, the driver.

``OPTIMIZERS`` names the trainers; ``make(name, **options)`` builds one from data.
"""

from armctl.optim import losses, parallel
from armctl.optim.ahf import ahf
from armctl.optim.base import Counters, Factored, Optimizer, Problem, curvature_batch, objective
from armctl.optim.cg import CGIteration, CGIterator, CGResult, CGState, cg
from armctl.optim.driver import History, RunResult, Status, max_calls, max_seconds, max_steps, minimize, when
from armctl.optim.first_order import adam, from_optax, gd, lbfgs, momentum, ncg, nesterov
from armctl.optim.gn import GNProduct, gauss_newton_product
from armctl.optim.hf import hf
from armctl.optim.registry import OPTIMIZERS, make, register_optimizer

__all__ = [
    "OPTIMIZERS",
    "CGIteration",
    "CGIterator",
    "CGResult",
    "CGState",
    "Counters",
    "Factored",
    "GNProduct",
    "History",
    "Optimizer",
    "Problem",
    "RunResult",
    "Status",
    "adam",
    "ahf",
    "cg",
    "curvature_batch",
    "from_optax",
    "gauss_newton_product",
    "gd",
    "hf",
    "lbfgs",
    "losses",
    "make",
    "max_calls",
    "max_seconds",
    "max_steps",
    "momentum",
    "ncg",
    "nesterov",
    "objective",
    "parallel",
    "register_optimizer",
    "minimize",
    "when",
]
