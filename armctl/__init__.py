"""armctl: simulated-arm control learning on JAX.

The rooms: the plant (:mod:`armctl.plant`) and the tasks (:mod:`armctl.tasks`), the one world step
(:mod:`armctl.world`) and the differentiable rollout (:mod:`armctl.rollout`); the optimizer core
(:mod:`armctl.optim`); the runs (:mod:`armctl.config`, :mod:`armctl.runs`) of the four kinds of
experiment (:mod:`armctl.experiments`: the arm, :mod:`armctl.arm_experiment`; the pathological
problems and language models, :mod:`armctl.sequence`; PPO, :mod:`armctl.ppo`); the extension
points (:mod:`armctl.registry`: ``register_task``, ``register_controller``,
``register_optimizer``; docs/EXTENDING.md); the
Gymnasium envs (:mod:`armctl.envs`), controllers (:mod:`armctl.controllers`) and iLQR
(:mod:`armctl.baselines`); the command line (:mod:`armctl.cli`, one module per command in
:mod:`armctl.commands`).
"""

from armctl import gym_registration as _gym_registration  # noqa: F401  (registers env ids; no gymnasium import)
from armctl.plant import ArmParams
from armctl.registry import TaskView, register_controller, register_task
from armctl.tasks import DDN, CenterOut, Postural, RandomReach, Task, TaskBatch, make_task

__all__ = [
    "ArmParams",
    "CenterOut",
    "DDN",
    "Postural",
    "RandomReach",
    "Rollout",
    "Task",
    "TaskBatch",
    "TaskView",
    "make_task",
    "register_controller",
    "register_optimizer",
    "register_task",
    "simulate",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    # The rollout imports JAX (about a second); the plant, the tasks and the single Gymnasium env
    # do not, so `import armctl` stays light and JAX loads on first use of simulate or Rollout.
    if name in ("Rollout", "simulate"):
        from armctl import rollout

        return getattr(rollout, name)
    if name == "register_optimizer":  # the optimizer core imports JAX too
        from armctl.optim.registry import register_optimizer

        return register_optimizer
    raise AttributeError(f"module 'armctl' has no attribute {name!r}")
