"""armctl: simulated-arm control learning on JAX."""

from armctl import gym_registration as _gym_registration  # noqa: F401  (registers env ids; no gymnasium import)
from armctl.plant import ArmParams
from armctl.rollout import Rollout, simulate
from armctl.tasks import DDN, CenterOut, Postural, RandomReach, TaskBatch, make_task

__all__ = [
    "ArmParams",
    "CenterOut",
    "DDN",
    "Postural",
    "RandomReach",
    "Rollout",
    "TaskBatch",
    "make_task",
    "simulate",
]
__version__ = "0.1.0"
