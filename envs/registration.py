"""Registers the armctl env ids with Gymnasium (imported by :mod:`armctl.gym_registration`).

Every registered task (:mod:`armctl.registry`: the built-in ones, those registered from code and
those of plug-ins) gets one id per env version, ``armctl/<EnvName>-<version>`` (the task record's
``env_id_name``), as soon as Gymnasium is imported or, for a task registered later, as soon as it
is registered. Each id is a single env (:class:`armctl.envs.arm_env.ArmEnv`, wrapped in
``TimeLimit`` at the task's horizon where the version truncates) and a native vector env
(:class:`armctl.envs.vector.ArmVectorEnv`) for ``gymnasium.make_vec``. Importing this module
imports no JAX.
"""

from __future__ import annotations

import warnings

import gymnasium
from armctl.envs.versions import VERSIONS

from armctl.registry import TaskRecord, load_plugins, on_register_task, task_names

NAMESPACE = "armctl"
#: The registered versions (a version in VERSIONS is registered once listed here).
REGISTERED_VERSIONS = ("v0", "v1")


def env_ids(record: TaskRecord) -> tuple[str, ...]:
    """The ids of one task, one per version."""
    return tuple(f"{NAMESPACE}/{record.env_id_name}-{version}" for version in REGISTERED_VERSIONS)


def quiet_v0_notice() -> None:
    """Silence Gymnasium's "armctl/<Task>-v0 is out of date, consider v1" deprecation notice.

    Gymnasium warns whenever a higher version of an id exists, but v0 is not superseded: it
    is the thesis's task verbatim, kept beside v1 (the RL version) on purpose. The filter
    matches armctl's v0 ids only."""
    warnings.filterwarnings(
        "ignore", message=rf".*The environment {NAMESPACE}/\w+-v0 is out of date", category=DeprecationWarning
    )


def register_task_envs(record: TaskRecord) -> None:
    """Register the ids of one task (a re-registered task's ids take its new record)."""
    horizon = record.cls.horizon  # the dataclass default
    for version, env_id in zip(REGISTERED_VERSIONS, env_ids(record), strict=True):
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
            kwargs={"task": record.name, "version": version},
        )


def register_envs() -> None:
    """Register the ids of every task, plug-ins' included, now and as tasks are registered."""
    task_names()  # the built-in tasks and the plug-ins' are registered by now
    load_plugins()
    with warnings.catch_warnings():  # re-registering an id (a replaced task) is intended here
        warnings.filterwarnings("ignore", message=".*Overriding environment", category=UserWarning)
        on_register_task(register_task_envs)
    quiet_v0_notice()


def registered_ids() -> tuple[str, ...]:
    """Every armctl id Gymnasium knows."""
    return tuple(env_id for env_id in gymnasium.registry if env_id.startswith(f"{NAMESPACE}/"))


register_envs()
#: The armctl ids registered when this module was imported (the built-in tasks' and the plug-ins').
ENV_IDS = registered_ids()
