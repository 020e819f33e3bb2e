"""armctl: simulated-arm control learning on JAX."""

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
