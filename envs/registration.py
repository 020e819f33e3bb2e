"""Registers the armctl env ids with Gymnasium (imported by :mod:`armctl.gym_registration`).

Each id is a single env (:class:`armctl.envs.arm_env.ArmEnv`, wrapped in ``TimeLimit`` at the
task's horizon) and a native vector env (:class:`armctl.envs.vector.ArmVectorEnv`) for
``gymnasium.make_vec``, for one task and one env version (:data:`armctl.envs.core.VERSIONS`).
Importing this module imports no JAX.
"""

from __future__ import annotations

import warnings

import gymnasium
from armctl.envs.core import VERSIONS

from armctl.tasks import TASKS

NAMESPACE = "armctl"
#: env id name -> armctl task name
ENV_TASKS = {"CenterOut": "center-out", "Postural": "postural", "DDN": "ddn", "RandomReach": "random-reach"}
#: The registered versions (a version in VERSIONS is registered once listed here).
REGISTERED_VERSIONS = ("v0", "v1")
ENV_IDS = tuple(f"{NAMESPACE}/{name}-{version}" for version in REGISTERED_VERSIONS for name in ENV_TASKS)


def quiet_v0_notice() -> None:
    """Silence Gymnasium's "armctl/<Task>-v0 is out of date, consider v1" deprecation notice.

    Gymnasium warns whenever a higher version of an id exists, but v0 is not superseded: it
    is the thesis's task verbatim, kept beside v1 (the RL version) on purpose. The filter
    matches armctl's v0 ids only."""
    warnings.filterwarnings(
        "ignore", message=rf".*The environment {NAMESPACE}/\w+-v0 is out of date", category=DeprecationWarning
    )


def register_envs() -> None:
    """Register every id (idempotent: ids already registered are left alone)."""
    for version in REGISTERED_VERSIONS:
        for name, task in ENV_TASKS.items():
            env_id = f"{NAMESPACE}/{name}-{version}"
            if env_id in gymnasium.registry:
                continue
            horizon = TASKS[task].horizon  # the dataclass default
            gymnasium.register(
                id=env_id,
                entry_point="armctl.envs.arm_env:ArmEnv",
                vector_entry_point="armctl.envs.vector:ArmVectorEnv",
                # A version whose horizon terminates ends its episodes itself; a TimeLimit at the
                # same step would report them truncated as well.
                max_episode_steps=None if VERSIONS[version].horizon_terminates else horizon,
                # Gymnasium's passive checker checks the first reset and step only, and a first
                # reset that raises (a bad option) leaves it without the data its first step
                # compares with: that step then fails with a TypeError of its own. These envs pass
                # the full checkers (gymnasium's and SB3's check_env, in the tests) instead.
                disable_env_checker=True,
                kwargs={"task": task, "version": version},
            )
    quiet_v0_notice()


register_envs()
