"""The extension points: tasks and controllers by name, one record each, and plug-ins.

* A **task** is one :class:`TaskRecord`: its class (a :class:`armctl.tasks.Task` dataclass, whose
  ``name`` is the task's name), its settings per preset, its step budgets, the thesis's protocol
  per optimizer where the thesis states one, what its reports show (:class:`TaskView`), and what
  its Gymnasium ids need (their name, and v1's torque scale). The env ids
  ``armctl/<EnvName>-v0`` and ``-v1`` are derived from it. :func:`register_task` adds one.
* A **controller** is a class (or any factory) whose instances have ``init_params(key)``,
  ``initial_state(params, batch_size)`` and ``step(params, carry, observation, target)``
  (:mod:`armctl.rollout`); :func:`register_controller` names it for ``armctl train --controller``.
* An **optimizer** is a factory in :mod:`armctl.optim.registry` (:func:`register_optimizer`), with
  its default options per kind of experiment beside it.

The built-in ones register themselves where they are defined (:mod:`armctl.tasks`,
:mod:`armctl.controllers`, :mod:`armctl.optim.registry`). Code outside armctl registers its own
by calling these functions, or, for the command line and ``gymnasium.make``, through the
entry-point group ``armctl.plugins``: each entry point names a function of no arguments that
registers things, called once (:func:`load_plugins`) before a name is looked up. See
docs/EXTENDING.md. This module imports neither JAX nor Gymnasium.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

#: The entry-point group of plug-ins (``[project.entry-points."armctl.plugins"]`` in a package's
#: pyproject.toml): each entry is a function of no arguments that registers tasks, controllers or
#: optimizers.
PLUGIN_GROUP = "armctl.plugins"
#: The presets every task has settings for (``armctl train --preset``).
PRESETS = ("quick", "thesis", "thesis-scale")


@dataclasses.dataclass(frozen=True)
class TaskView:
    """What a task's reports and comparisons show.

    Attributes:
        ilqr_reference: iLQR's open-loop optimum is the task's yardstick: losses are reported as
            ratios to it and its hand paths are drawn dashed (center-out, where every episode
            is a known reach without noise).
        shown: episodes drawn in the hand-path figure (``None``: all of them).
        disturbance: draw each episode's disturbance period in red.
        joint_episodes: episodes drawn in ``postural_joints.png`` (none: no such figure).
        center_out_probe: ``armctl compare`` also drives its controllers through the center-out
            reaches (thesis fig. 6.5).
    """

    ilqr_reference: bool = False
    shown: int | None = None
    disturbance: bool = False
    joint_episodes: tuple[int, ...] = ()
    center_out_probe: bool = True


@dataclasses.dataclass(frozen=True)
class TaskRecord:
    """Everything armctl knows about one task.

    Attributes:
        cls: the task's class (its ``name`` attribute is the task's name).
        presets: task fields per preset (``quick``, ``thesis``, ``thesis-scale``; a preset not
            given has none).
        steps: optimizer steps per preset of a run given no budget (``thesis-scale`` defaults to
            ``thesis``'s).
        protocol: per optimizer, the budget (``function_calls``) and ``batch_refresh`` that the
            thesis states for this task, which its thesis presets give a run given none.
        view: what reports show (:class:`TaskView`).
        env_name: the name in the Gymnasium ids ``armctl/<env_name>-v0``/``-v1``
            (default: the task name in CamelCase).
        env_peak_acceleration: the joint acceleration (rad/s^2) that the v1 env's action 1 gives
            the arm at rest in the central posture: its torque scale
            (:func:`armctl.envs.versions.v1_torque_limit`).
    """

    cls: type
    presets: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    steps: Mapping[str, int] = dataclasses.field(default_factory=lambda: {"quick": 100, "thesis": 1000})
    protocol: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    view: TaskView = TaskView()
    env_name: str | None = None
    env_peak_acceleration: float = 100.0

    @property
    def name(self) -> str:
        return self.cls.name

    @property
    def env_id_name(self) -> str:
        return self.env_name or "".join(part.capitalize() for part in self.name.replace("_", "-").split("-"))

    def preset_fields(self, preset: str) -> dict:
        """The task fields of ``preset``: thesis-scale is thesis's plus its own."""
        _check_preset(preset)
        fields = dict(self.presets.get("thesis", {})) if preset == "thesis-scale" else {}
        return {**fields, **self.presets.get(preset, {})}

    def preset_steps(self, preset: str) -> int:
        _check_preset(preset)
        return self.steps.get(preset) or self.steps.get(
            "thesis" if preset == "thesis-scale" else "quick", 100
        )


def _check_preset(preset: str) -> None:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {list(PRESETS)}")


_TASKS: dict[str, TaskRecord] = {}
#: Name -> :class:`TaskRecord` of every registered task (read-only; :func:`register_task` adds).
TASKS = MappingProxyType(_TASKS)
_CONTROLLERS: dict[str, Callable] = {}
#: Name -> factory of every registered arm controller (read-only; :func:`register_controller` adds).
CONTROLLERS = MappingProxyType(_CONTROLLERS)
#: Called with each :class:`TaskRecord` registered from now on (the Gymnasium ids add theirs).
_task_hooks: list[Callable[[TaskRecord], None]] = []


def _check_name(kind: str, name: str) -> None:
    if not (isinstance(name, str) and name and name.replace("-", "").replace("_", "").isalnum()):
        raise ValueError(f"a {kind} name must be letters, digits, '-' and '_', got {name!r}")


def register_task(cls: type, *, replace: bool = False, **record) -> TaskRecord:
    """Register the task class ``cls`` (a :class:`armctl.tasks.Task` subclass; its ``name``
    attribute names it) with the :class:`TaskRecord` fields ``record`` (presets, steps, protocol,
    view, env_name, env_peak_acceleration). Its Gymnasium ids are registered too once Gymnasium is
    imported. A name already taken is a ``ValueError`` unless ``replace``."""
    from armctl.tasks import Task  # the task module registers the built-ins with this function

    if not (isinstance(cls, type) and issubclass(cls, Task) and dataclasses.is_dataclass(cls)):
        raise ValueError(f"a task is a dataclass subclass of armctl.tasks.Task, got {cls!r}")
    name = cls.name
    _check_name("task", name)
    unknown = sorted(set(record) - {f.name for f in dataclasses.fields(TaskRecord)} - {"cls"})
    if unknown:
        raise ValueError(
            f"unknown task record fields {unknown}; expected "
            f"{[f.name for f in dataclasses.fields(TaskRecord)][1:]}"
        )
    for preset in record.get("presets", {}):
        _check_preset(preset)
    if name in _TASKS and not replace:
        raise ValueError(
            f"a task named {name!r} is registered already ({_TASKS[name].cls.__qualname__}); "
            "pass replace=True"
        )
    entry = TaskRecord(cls, **record)
    fields = {f.name for f in dataclasses.fields(cls)}
    for preset, values in entry.presets.items():
        bad = sorted(set(values) - fields)
        if bad:
            raise ValueError(f"task {name!r}, preset {preset!r}: {bad} are not fields of {cls.__name__}")
    _TASKS[name] = entry
    for hook in list(_task_hooks):
        hook(entry)
    return entry


def on_register_task(hook: Callable[[TaskRecord], None]) -> None:
    """Call ``hook(record)`` for every task registered now and from now on."""
    _task_hooks.append(hook)
    for entry in list(_TASKS.values()):
        hook(entry)


def _lookup(kind: str, table: dict, builtins: str, key):
    """``table[key]``: the built-ins registered (their module ``builtins`` does it), then the
    plug-ins if ``key`` is not there; ``ValueError`` listing what is."""
    importlib.import_module(builtins)
    if key not in table:
        load_plugins()
    if key not in table:
        raise ValueError(f"unknown {kind} {key!r}; expected one of {sorted(table)}")
    return table[key]


def _names(table: dict, builtins: str) -> list[str]:
    importlib.import_module(builtins)
    load_plugins()
    return list(table)


def task_record(name: str) -> TaskRecord:
    """The record of task ``name`` (``_`` and case are forgiven); ``ValueError`` listing the tasks."""
    key = name.lower().replace("_", "-") if isinstance(name, str) else name
    try:
        return _lookup("task", _TASKS, "armctl.tasks", key)
    except ValueError:
        raise ValueError(f"unknown task {name!r}; expected one of {sorted(_TASKS)}") from None


def task_names() -> list[str]:
    """Every registered task, the plug-ins' included."""
    return _names(_TASKS, "armctl.tasks")


def register_controller(name: str, factory: Callable, *, replace: bool = False) -> None:
    """Name an arm controller for ``armctl train --controller NAME``: ``factory(**options)`` (the
    run's ``--hidden`` as ``hidden`` and its ``--controller-option``s) returns a hashable
    controller (``init_params``, ``initial_state``, ``step``: see :mod:`armctl.rollout`)."""
    _check_name("controller", name)
    if not callable(factory):
        raise ValueError(f"a controller factory must be callable, got {factory!r}")
    if name in _CONTROLLERS and not replace:
        raise ValueError(f"a controller named {name!r} is registered already; pass replace=True")
    _CONTROLLERS[name] = factory


def controller_factory(name: str) -> Callable:
    """The factory registered as ``name``; ``ValueError`` listing the controllers."""
    return _lookup("controller", _CONTROLLERS, "armctl.controllers", name)


def controller_names() -> list[str]:
    """Every registered controller, the plug-ins' included."""
    return _names(_CONTROLLERS, "armctl.controllers")


_loaded_plugins: set[str] = set()


def load_plugins() -> list[str]:
    """Call every ``armctl.plugins`` entry point not called yet; returns their names. A plug-in
    that fails to load is an error naming it (an extension that silently does not register is
    worse)."""
    loaded = []
    for entry in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        key = f"{entry.name}={entry.value}"
        if key in _loaded_plugins:
            continue
        _loaded_plugins.add(key)
        try:
            register = entry.load()
            register()
        except Exception as err:  # noqa: BLE001  (any failure of foreign code, named)
            raise RuntimeError(f"the armctl plug-in {entry.name!r} ({entry.value}) failed: {err!r}") from err
        loaded.append(entry.name)
    return loaded
