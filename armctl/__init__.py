"""armctl: simulated-arm control learning on JAX."""

from armctl import gym_registration as _gym_registration  # noqa: F401  (registers env ids; no gymnasium import)
from armctl.plant import ArmParams
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


def __getattr__(name: str):
    # The rollout imports JAX (about a second); the plant, the tasks and the single Gymnasium env
    # do not, so `import armctl` stays light and JAX loads on first use of simulate or Rollout.
    if name in ("Rollout", "simulate"):
        from armctl import rollout

        return getattr(rollout, name)
    raise AttributeError(f"module 'armctl' has no attribute {name!r}")
