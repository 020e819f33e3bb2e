"""Registers the armctl env ids with Gymnasium (imported by :mod:`armctl.gym_registration`).

Each id is a single env (:class:`armctl.envs.arm_env.ArmEnv`, wrapped in ``TimeLimit`` at the task's
horizon) and a native vector env (:class:`armctl.envs.vector.ArmVectorEnv`) for ``gymnasium.make_vec``.
"""

from __future__ import annotations

import gymnasium

from armctl.tasks import TASKS

NAMESPACE = "armctl"
#: env id name -> armctl task name
ENV_TASKS = {"CenterOut": "center-out", "Postural": "postural", "DDN": "ddn", "RandomReach": "random-reach"}
ENV_IDS = tuple(f"{NAMESPACE}/{name}-v0" for name in ENV_TASKS)


def register_envs() -> None:
    """Register every id (idempotent: ids already registered are left alone)."""
    for env_id, task in zip(ENV_IDS, ENV_TASKS.values(), strict=True):
        if env_id in gymnasium.registry:
            continue
        gymnasium.register(
            id=env_id,
            entry_point="armctl.envs.arm_env:ArmEnv",
            vector_entry_point="armctl.envs.vector:ArmVectorEnv",
            max_episode_steps=TASKS[task].horizon,  # the dataclass default
            kwargs={"task": task},
        )


register_envs()
