"""Optimizer core: Gauss-Newton products, CG, HF / AHF, first-order baselines, L-BFGS, NCG, the run driver."""

from armctl.optim import losses, parallel
from armctl.optim.arm_problem import arm_problem
from armctl.optim.base import Counters, Optimizer, Problem, curvature_batch, objective
from armctl.optim.cg import CGResult, cg
from armctl.optim.driver import History, run
from armctl.optim.first_order import adam, gd, lbfgs, momentum, ncg, nesterov
from armctl.optim.gn import GNProduct, gauss_newton_product
from armctl.optim.hf import ahf, hf

__all__ = [
    "CGResult",
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
    "momentum",
    "ncg",
    "nesterov",
    "objective",
    "parallel",
    "run",
]
