"""Settings of the arm experiments, one table each: task presets, budgets, optimizer defaults,
and what each task shows (figures, the iLQR reference).

Everything here is data; :mod:`armctl.train`, :mod:`armctl.report` and :mod:`armctl.compare`
look tasks up in these tables instead of testing task names.
"""

from __future__ import annotations

from typing import NamedTuple

#: Task settings: "quick" finishes in minutes on 2 CPU cores, "thesis" is the thesis's setup.
TASK_PRESETS: dict[str, dict[str, dict]] = {
    "center-out": {"quick": {"n_targets": 16}, "thesis": {"n_targets": 64}},
    "postural": {"quick": {}, "thesis": {}},
    "ddn": {"quick": {"batch_size": 100}, "thesis": {"batch_size": 400}},
    "random-reach": {"quick": {"batch_size": 64}, "thesis": {"batch_size": 64}},
}
PRESETS = ("quick", "thesis")

#: Optimizer steps per task and preset when no budget is given.
STEP_PRESETS: dict[str, dict[str, int]] = {
    "center-out": {"quick": 600, "thesis": 2000},
    "postural": {"quick": 100, "thesis": 1000},
    "ddn": {"quick": 100, "thesis": 1000},
    "random-reach": {"quick": 100, "thesis": 1000},
}

#: Structural damping of the arm's HF. The thesis's arm experiments used HF with structural
#: damping (Martens & Sutskever 2011) without giving mu; this one was picked on center-out
#: (README, "Training controllers").
ARM_STRUCTURAL_MU = 0.03

#: Optimizer settings for the arm tasks, found by hand on center-out (8 and 64 targets).
OPTIMIZER_DEFAULTS: dict[str, dict] = {
    "ahf": {},
    "hf": {"structural_mu": ARM_STRUCTURAL_MU},
    "lbfgs": {"memory": 100},
    "ncg": {},
    "adam": {"learning_rate": 3e-3, "clip_norm": 1.0},
    "momentum": {"learning_rate": 1e-2, "momentum": 0.9, "clip_norm": 1.0},
    "nesterov": {"learning_rate": 1e-2, "momentum": 0.9, "clip_norm": 1.0},
    "gd": {"learning_rate": 1e-2, "clip_norm": 1.0},
}


class TaskView(NamedTuple):
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


TASK_VIEWS: dict[str, TaskView] = {
    "center-out": TaskView(ilqr_reference=True, center_out_probe=False),
    "postural": TaskView(joint_episodes=(36, 37, 38)),
    "ddn": TaskView(shown=16, disturbance=True),
    "random-reach": TaskView(shown=16),
}
