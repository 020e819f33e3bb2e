"""The envs' argument checks: actions (shape, finite) and reset options (which fields of an episode
a ``reset(options=...)`` may fix, and their ranges), each refused with a ``ValueError`` naming the
value before anything changes.
"""

from __future__ import annotations

import math

import numpy as np
from armctl.envs.versions import ACTION_DIM

from armctl.tasks import Task, TaskBatch


def _action_array(action, shape: tuple[int, ...]) -> np.ndarray:
    try:
        a = np.asarray(action, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(
            f"action must be numbers of shape {shape} (normalized joint torques), got {action!r}"
        ) from None
    if a.shape != shape:
        raise ValueError(f"action must have shape {shape} (normalized joint torques), got shape {a.shape}")
    return a


def check_action(action, shape: tuple[int, ...]) -> np.ndarray:
    """``action`` as float32 of ``shape``; raises ``ValueError`` for a wrong shape or NaN/inf."""
    a = _action_array(action, shape)
    if not np.isfinite(a).all():
        raise ValueError(f"action must be finite, got {action!r}")
    return a


def check_arm_action(action) -> tuple[float, float]:
    """One arm's action as the tuple of its float32 values: :func:`check_action` for shape (2,),
    checked without a NumPy reduction, which would cost a good part of the arm's step."""
    a1, a2 = _action_array(action, (ACTION_DIM,)).tolist()
    if not (math.isfinite(a1) and math.isfinite(a2)):
        raise ValueError(f"action must be finite, got {action!r}")
    return a1, a2


def _option_vector(options: dict, name: str, size: int) -> np.ndarray:
    try:
        value = np.asarray(options[name], dtype=np.float64)
    except (TypeError, ValueError):
        value = None
    if value is None or value.shape != (size,) or not np.isfinite(value).all():
        raise ValueError(
            f"options[{name!r}] must be {size} finite numbers (shape ({size},)), got {options[name]!r}"
        )
    return value


def _check_onset(task: Task, onset, what: str) -> int:
    value = np.asarray(onset)
    integral = value.dtype.kind in "iu" or (value.dtype.kind == "f" and np.all(np.mod(value, 1) == 0))
    if value.dtype.kind == "b" or not integral or not np.all((value >= 0) & (value <= task.horizon)):
        raise ValueError(
            f"{what} must be an integer step in [0, {task.horizon}] (the horizon: never), got {onset!r}"
        )
    return value.astype(np.int64)


def _check_start(task: Task, x0: np.ndarray, what: str) -> None:
    if np.any(np.abs(x0[..., 2:]) > task.arm.max_joint_speed):
        raise ValueError(
            f"{what} has a joint speed above the plant's range of {task.arm.max_joint_speed:g} rad/s "
            f"(ArmParams.max_joint_speed), got {x0!r}"
        )


def episode_from_options(task: Task, batch: TaskBatch, options: dict | None) -> TaskBatch:
    """Apply reset options to a drawn size-1 NumPy episode (see :class:`~armctl.envs.arm_env.ArmEnv`);
    raises ``ValueError`` naming an option whose value is out of range."""
    if not options:
        return batch
    allowed = {"batch", "x0", "target", "joint_disturbance", "hand_force", "onset"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"unknown reset option(s) {unknown}; valid: {sorted(allowed)}")
    if "batch" in options:
        given = options["batch"]
        if not isinstance(given, TaskBatch):
            raise TypeError(f"options['batch'] must be a TaskBatch, got {type(given).__name__}")
        task.validate_batch(given)
        if given.size != 1:
            raise ValueError(f"options['batch'] must hold one episode, got {given.size}")
        given = TaskBatch(*(np.asarray(a) for a in given))
        for name, value in zip(given._fields, given, strict=True):
            if name != "onset" and not np.isfinite(value).all():
                raise ValueError(f"options['batch'].{name} must be finite, got {value!r}")
        if np.any(given.target[:, 2:] != 0):
            raise ValueError(
                f"options['batch'] must have a rest target (zero velocities), got {given.target!r}"
            )
        _check_onset(task, given.onset, "options['batch'].onset")
        _check_start(task, given.x0, "options['batch'].x0")
        batch = given
    fields = {}
    for name, size in (("x0", 4), ("target", 2), ("joint_disturbance", 2), ("hand_force", 2)):
        if name in options:
            value = _option_vector(options, name, size)
            if name == "x0":
                _check_start(task, value, "options['x0']")
            if name == "target":  # a rest state at the given joint angles
                value = np.concatenate([value, np.zeros(2)])
            dtype = np.asarray(getattr(batch, name)).dtype
            if np.abs(value).max() > np.finfo(dtype).max:  # the cast would make it inf
                raise ValueError(
                    f"options[{name!r}] must be finite in the env's {dtype} (magnitudes up to "
                    f"{np.finfo(dtype).max:.3g}), got {options[name]!r}"
                )
            fields[name] = value[None].astype(dtype)
    if "onset" in options:
        fields["onset"] = np.asarray(
            _check_onset(task, options["onset"], "options['onset']"), np.int32
        ).reshape(1)
    return batch._replace(**fields)
