"""The arm experiments' presets and optimizer settings, read from the registries.

A task's settings per preset, its step budgets, the thesis's protocol and what its reports show
are its :class:`armctl.registry.TaskRecord` (the built-in tasks' are in :mod:`armctl.tasks`); an
optimizer's arm defaults are beside its factory in :mod:`armctl.optim.registry`. This module
answers the questions the arm trainer asks of them.
"""

from __future__ import annotations

from armctl.registry import PRESETS, task_record

__all__ = ["ARM_STRUCTURAL_MU", "PRESETS", "preset_batch_refresh", "preset_budget", "task_fields"]

#: Structural damping of the arm's HF. The thesis's arm experiments used HF with structural
#: damping (Martens & Sutskever 2011) without giving mu; this one was picked on center-out
#: (README, "Training controllers"). The arm's optimizer defaults use it.
ARM_STRUCTURAL_MU = 0.03


def task_fields(task: str, preset: str) -> dict:
    """The task fields of ``preset`` for ``task`` (its record's ``presets``)."""
    return task_record(task).preset_fields(preset)


def _protocol(task: str, preset: str, optimizer: str) -> dict:
    return {} if preset == "quick" else dict(task_record(task).protocol.get(optimizer, {}))


def preset_budget(task: str, preset: str, optimizer: str) -> dict[str, int]:
    """The budget of a run given none: ``{"function_calls": N}`` where the thesis states one for
    this task and optimizer (its record's ``protocol``), else ``{"steps": N}`` (its ``steps``)."""
    calls = _protocol(task, preset, optimizer).get("function_calls")
    return (
        {"function_calls": calls} if calls is not None else {"steps": task_record(task).preset_steps(preset)}
    )


def preset_batch_refresh(task: str, preset: str, optimizer: str) -> int:
    """Steps per training batch of a run given no ``batch_refresh``: 1 (a fresh batch every
    step) but where the thesis's protocol kept a batch longer."""
    return _protocol(task, preset, optimizer).get("batch_refresh", 1)
