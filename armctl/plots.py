"""Figures for arm runs (matplotlib, Agg backend, saved as PNG).

Every function takes plain arrays and a path, draws one figure and returns the path, so
the trainer, the iLQR command and the comparison command share them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from armctl import plant  # noqa: E402
from armctl.plant import ArmParams  # noqa: E402


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def draw_hand_paths(
    ax,
    arm: ArmParams,
    states: np.ndarray,
    target: np.ndarray,
    *,
    reference_states: np.ndarray | None = None,
    reference_label: str = "iLQR",
    label: str = "controller",
    title: str = "",
    highlight: Sequence[tuple[int, int]] | None = None,
    draw_arm: bool = True,
) -> None:
    """Hand paths (B, T+1, 4 states) with targets on ``ax``; optional reference paths dashed
    (e.g. iLQR's) and, per episode, a (start, stop) step range drawn in red (e.g. the
    disturbance period)."""
    hands = np.asarray(plant.forward_kinematics(arm, np.asarray(states)[..., :2]))
    goals = np.asarray(plant.forward_kinematics(arm, np.asarray(target)[:, :2]))
    if draw_arm:
        elbow, hand = (np.asarray(p) for p in plant.joint_positions(arm, np.asarray(states)[0, 0, :2]))
        ax.plot([0, elbow[0], hand[0]], [0, elbow[1], hand[1]], "-o", color="0.6", lw=3, ms=5, zorder=0)
    if reference_states is not None:
        ref = np.asarray(plant.forward_kinematics(arm, np.asarray(reference_states)[..., :2]))
        for i, h in enumerate(ref):
            ax.plot(h[:, 0], h[:, 1], "k--", lw=1, label=reference_label if i == 0 else None)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(hands)))
    for i, h in enumerate(hands):
        ax.plot(h[:, 0], h[:, 1], color=colors[i], lw=1.2, label=label if i == 0 else None)
        if highlight is not None:
            a, b = highlight[i]
            ax.plot(
                h[a : b + 1, 0],
                h[a : b + 1, 1],
                color="red",
                lw=2.0,
                alpha=0.7,
                label="disturbance on" if i == 0 else None,
            )
    ax.scatter(goals[:, 0], goals[:, 1], s=30, facecolors="none", edgecolors="k", label="targets", zorder=3)
    ax.set_aspect("equal")
    ax.set_xlabel("hand x (m)")
    ax.set_ylabel("hand y (m)")
    ax.set_title(title or "hand paths")
    ax.legend(loc="best", fontsize=8)


def hand_paths(path, arm: ArmParams, states: np.ndarray, target: np.ndarray, **kwargs) -> Path:
    """One :func:`draw_hand_paths` panel saved as PNG."""
    fig, ax = plt.subplots(figsize=(6, 6))
    draw_hand_paths(ax, arm, states, target, **kwargs)
    return _save(fig, path)


def hand_paths_panels(path, arm: ArmParams, panels: Mapping[str, dict], target: np.ndarray, **kwargs) -> Path:
    """Side-by-side :func:`draw_hand_paths` panels, one per name (e.g. AHF vs L-BFGS, thesis
    fig. 6.5; robust vs non-robust controller, fig. 6.4). Each panel's dict holds ``states``
    and optionally ``reference_states`` and ``highlight``."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5.5), squeeze=False)
    for ax, (name, panel) in zip(axes[0], panels.items(), strict=True):
        draw_hand_paths(
            ax,
            arm,
            panel["states"],
            target,
            title=name,
            reference_states=panel.get("reference_states"),
            highlight=panel.get("highlight"),
            **kwargs,
        )
    return _save(fig, path)


def profiles(
    path, arm: ArmParams, states: np.ndarray, commands: np.ndarray, *, episodes=(0,), title: str = ""
) -> Path:
    """Command torques, joint velocities and hand speed over time (thesis fig. 6.1 style:
    blue = shoulder, black = elbow) for the chosen episodes."""
    states, commands = np.asarray(states), np.asarray(commands)
    dt = arm.dt
    t_u = np.arange(commands.shape[1]) * dt
    t_x = np.arange(states.shape[1]) * dt
    speed = np.linalg.norm(np.asarray(plant.hand_velocity(arm, states)), axis=-1)
    fig, axes = plt.subplots(3, 1, figsize=(7, 7), sharex=True)
    for e in episodes:
        axes[0].plot(t_u, commands[e, :, 0], color="tab:blue", lw=1)
        axes[0].plot(t_u, commands[e, :, 1], color="k", lw=1)
        axes[1].plot(t_x, states[e, :, 2], color="tab:blue", lw=1)
        axes[1].plot(t_x, states[e, :, 3], color="k", lw=1)
        axes[2].plot(t_x, speed[e], color="tab:green", lw=1)
    axes[0].set_ylabel("torque (N m)")
    axes[1].set_ylabel("joint velocity (rad/s)")
    axes[2].set_ylabel("hand speed (m/s)")
    axes[2].set_xlabel("time (s)")
    axes[0].legend(["shoulder", "elbow"], fontsize=8)
    axes[0].set_title(title or "command torques, joint velocities, hand speed")
    return _save(fig, path)


def loss_curves(
    path,
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    reference: float | None = None,
    reference_label: str = "iLQR",
    xlabel: str = "function calls",
    title: str = "",
) -> Path:
    """Loss against function calls (or time) on log-log axes, one line per named curve,
    an optional reference loss as a dashed line (thesis fig. 6.2)."""
    fig, ax = plt.subplots(figsize=(7, 5))
    for name, (x, y) in curves.items():
        x, y = np.asarray(x, float), np.asarray(y, float)
        keep = (x > 0) & np.isfinite(y) & (y > 0)
        ax.plot(x[keep], y[keep], lw=1.5, label=name)
    if reference is not None and np.isfinite(reference) and reference > 0:
        ax.axhline(reference, color="k", ls="--", lw=1.2, label=reference_label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    ax.set_title(title or "loss")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def loss_bands(
    path,
    bands: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    *,
    reference: float | None = None,
    title: str = "",
) -> Path:
    """Loss against function calls over several seeds (thesis fig. 6.2 with error bands): per
    named ``(calls, median, lowest, highest)`` the median as a line and the range as a band. With
    a ``reference`` (iLQR) it is drawn dashed, and a second panel shows the excess over it,
    ``loss / reference - 1``, where the last percent that separates the optimizers is visible."""
    has_reference = reference is not None and np.isfinite(reference) and reference > 0
    fig, axes = plt.subplots(
        1, 2 if has_reference else 1, figsize=(13 if has_reference else 7, 5), squeeze=False
    )
    panels = [(axes[0, 0], 1.0, 0.0, "loss (band: best to worst seed)")]
    if has_reference:
        panels.append((axes[0, 1], 1.0 / reference, 1.0, "loss / iLQR - 1"))
    for ax, scale, shift, ylabel in panels:
        for name, (calls, median, low, high) in bands.items():
            (line,) = ax.plot(calls, median * scale - shift, lw=1.5, label=f"{name} (median)")
            ax.fill_between(
                calls, low * scale - shift, high * scale - shift, color=line.get_color(), alpha=0.2, lw=0
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("function calls")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    if has_reference:
        axes[0, 0].axhline(reference, color="k", ls="--", lw=1.2, label="iLQR")
        for limit in (0.01, 0.001):
            axes[0, 1].axhline(limit, color="k", ls=":", lw=1.0)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title or "loss over seeds")
    return _save(fig, path)


def joint_trajectories(
    path, arm: ArmParams, states: np.ndarray, target: np.ndarray, *, episodes=(0,), title=""
) -> Path:
    """Joint angles against time with the target angles dashed (postural task, fig. 6.3)."""
    states = np.asarray(states)
    t = np.arange(states.shape[1]) * arm.dt
    fig, axes = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    for e in episodes:
        for j, ax in enumerate(axes):
            ax.plot(t, states[e, :, j], lw=1)
            ax.axhline(float(np.asarray(target)[e, j]), color="k", ls="--", lw=0.8)
    axes[0].set_ylabel("shoulder (rad)")
    axes[1].set_ylabel("elbow (rad)")
    axes[1].set_xlabel("time (s)")
    axes[0].set_title(title or "joint angles")
    return _save(fig, path)


def training_curves(
    path,
    panels: Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]],
    *,
    xlabel: str,
    title="",
    linear: Sequence[str] = (),
) -> Path:
    """One panel per name (its y label), each with named curves ``(x, y)`` on a log y axis (a
    linear one for the panels named in ``linear``): e.g. training loss and test error against
    minibatches (pathological problems), or training and validation bits per character against
    steps (language models). Points that cannot be drawn (missing; on a log axis also zero or
    negative) are left out."""
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.6 * len(panels) + 0.6), sharex=True, squeeze=False)
    for ax, (ylabel, curves) in zip(axes[:, 0], panels.items(), strict=True):
        log_scale = ylabel not in linear
        for name, (x, y) in curves.items():
            x = np.asarray(x, float)
            y = np.asarray([np.nan if v is None else v for v in y], float)
            keep = np.isfinite(x) & np.isfinite(y) & ((y > 0) if log_scale else True)
            ax.plot(x[keep], y[keep], lw=1.2, marker="." if keep.sum() < 40 else None, label=name)
        ax.set_yscale("log" if log_scale else "linear")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        if len(curves) > 1:
            ax.legend(fontsize=8)
    axes[-1, 0].set_xlabel(xlabel)
    axes[0, 0].set_title(title)
    return _save(fig, path)
