"""Optimizer core: Gauss-Newton products, CG, HF, AHF, first-order baselines, L-BFGS, NCG, the run driver.

``OPTIMIZERS`` names the trainers; ``make(name, **options)`` builds one from data.
"""

from armctl.optim import losses, parallel
from armctl.optim.ahf import ahf
from armctl.optim.arm_problem import arm_problem
from armctl.optim.base import Counters, Optimizer, Problem, curvature_batch, objective
from armctl.optim.cg import CGIteration, CGIterator, CGResult, CGState, cg
from armctl.optim.driver import History, run
from armctl.optim.first_order import adam, gd, lbfgs, momentum, ncg, nesterov
from armctl.optim.gn import GNProduct, gauss_newton_product
from armctl.optim.hf import hf
from armctl.optim.registry import OPTIMIZERS, make

__all__ = [
    "OPTIMIZERS",
    "CGIteration",
    "CGIterator",
    "CGResult",
    "CGState",
    "Counters",
    "GNProduct",
    "History",
    "Optimizer",
    "Problem",
    "adam",
    "ahf",
    "arm_problem",
    "cg",
    "curvature_batch",
    "gauss_newton_product",
    "gd",
    "hf",
    "lbfgs",
    "losses",
    "make",
    "momentum",
    "ncg",
    "nesterov",
    "objective",
    "parallel",
    "run",
]
