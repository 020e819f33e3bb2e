"""Several optimizers on the same task, initialization and data (thesis fig. 6.2).

Each optimizer trains in its own sub-run (``OUT/NAME``, a normal run directory that
``armctl eval`` can reload) from the same seed, so initial parameters and every sampled
batch are identical. The comparison writes ``OUT/compare.png`` (loss against function
calls, log-log, iLQR dashed), ``OUT/compare_time.png`` (loss against wall time) and
``OUT/results.json`` / a printed table (final loss, ratio to iLQR, calls, wall time, and the
loss at equal calls: see :func:`loss_near_calls`), and ``OUT/compare_paths.png``: every
optimizer's controller on the evaluation episodes (iLQR dashed on center-out). For the other
tasks it also writes ``OUT/compare_center_out.png``, the thesis's fig. 6.5: the controllers
trained on the task, driven through the center-out reaches (:func:`center_out_probe`), with
iLQR's optimal reaches dashed; their losses and hand errors there go into the table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import jax
import numpy as np

from armctl import checkpoint, plots, runs
from armctl.arm_experiment import ArmConfig, train
from armctl.loading import evaluation_rollout
from armctl.optim.registry import OPTIMIZERS
from armctl.registry import load_plugins, task_record
from armctl.report import evaluation_losses, ilqr_states, reference_loss
from armctl.rollout import simulate
from armctl.tasks import CenterOut, Task

#: Fraction of the call count over which :func:`loss_near_calls` averages.
EQUAL_CALLS_WINDOW = 0.1


def loss_near_calls(
    calls: Sequence[float], losses: Sequence[float], at: float, window: float = EQUAL_CALLS_WINDOW
) -> float:
    """Mean loss over the iterations whose cumulative call count lies in ``[(1 - window) at, at]``.

    Optimizers compared "at the same number of function calls" rarely stop at the same count, and
    stochastic tasks (DDN) make single evaluation losses jump by tens of percent between
    iterations; averaging over the last ``window`` of the calls compares levels, not noise.  When
    no iteration falls in the window, the last loss reached at or before ``at`` is returned.
    """
    if not 0 <= window < 1:
        raise ValueError(f"window must be in [0, 1), got {window!r}")
    calls, losses = np.asarray(calls, float), np.asarray(losses, float)
    if calls.shape != losses.shape or calls.ndim != 1:
        raise ValueError(
            f"calls and losses must be 1-D of the same length, got {calls.shape} and {losses.shape}"
        )
    reached = calls <= at
    if not reached.any():
        raise ValueError(f"no iteration has at most {at} calls (first: {calls[0] if calls.size else 'none'})")
    inside = reached & (calls >= (1 - window) * at)
    return float(losses[inside].mean()) if inside.any() else float(losses[reached][-1])


def loss_at_calls(
    calls: Sequence[float], losses: Sequence[float], at: float, window: float = EQUAL_CALLS_WINDOW
) -> float | None:
    """The run's loss at ``at`` calls (:func:`loss_near_calls` over ``window``), or
    ``None`` when the run stopped before using ``at`` calls or its first step used more."""
    if not len(calls) or calls[-1] < at or calls[0] > at:
        return None
    return loss_near_calls(calls, losses, at, window)


def center_out_probe(task: Task, n_targets: int = 16) -> CenterOut:
    """The center-out reaches on ``task``'s arm, with its horizon, feedback delay and command
    cost, and no disturbance or noise: where the thesis shows its DDN controllers (fig. 6.5),
    because on these short reaches differences in the learned solution are plain to see."""
    return CenterOut(
        n_targets=n_targets, arm=task.arm, horizon=task.horizon, delay=task.delay, alpha=task.alpha
    )


def default_out(base: ArmConfig) -> Path:
    return Path("runs") / f"compare-{base.task}-s{base.seed}"


def check_optimizers(optimizers: Sequence[str]) -> None:
    """A comparison's optimizers: at least one, each a known name, none twice."""
    load_plugins()
    valid = list(OPTIMIZERS)
    if not optimizers:
        raise ValueError(f"optimizers must name at least one optimizer of {valid}")
    unknown = [o for o in optimizers if o not in OPTIMIZERS]
    if unknown:
        raise ValueError(f"unknown optimizer(s) {unknown}; expected some of {valid}")
    repeated = sorted({o for o in optimizers if optimizers.count(o) > 1})
    if repeated:
        raise ValueError(f"optimizers names {repeated} more than once; each optimizer is one run")


def check_overrides(overrides: Mapping[str, Mapping] | None, optimizers: Sequence[str]) -> dict:
    """Per-optimizer config values (``{"lbfgs": {"batch_refresh": 25}}``), each naming an
    optimizer of the comparison; the optimizer, its seed and its directory are the comparison's."""
    overrides = {name: dict(values) for name, values in (overrides or {}).items()}
    stray = sorted(set(overrides) - set(optimizers))
    if stray:
        raise ValueError(f"settings given for {stray}, which are not among the optimizers {list(optimizers)}")
    for name, values in overrides.items():
        owned = sorted({"optimizer", "seed", "out"} & set(values))
        if owned:
            raise ValueError(f"{name}: {owned} are set by the comparison, not per optimizer")
    return overrides


def train_or_reuse(config: ArmConfig, plan: str, *, force: bool, log: Callable) -> dict:
    """The report of ``config``'s run as :func:`armctl.runs.plan` planned it: read when ``'done'``,
    else trained (resumed when ``'resume'``)."""
    if plan == "done":
        return runs.read_report(config.run_dir())
    return train(config, resume=plan == "resume", force=force, log=log)


def compare(
    base: ArmConfig,
    optimizers: Sequence[str],
    out: str | Path | None = None,
    *,
    overrides: Mapping[str, Mapping] | None = None,
    force: bool = False,
    log: Callable = print,
) -> dict:
    """Train ``base`` once per optimizer into ``out/NAME`` (``overrides[name]``: that optimizer's
    own config values, e.g. ``{"lbfgs": {"batch_refresh": 25}}``) and compare them.

    Every optimizer takes ``base``'s budgets and batch refresh unless overridden; ``armctl
    compare`` adds each optimizer's own preset defaults where nothing was typed
    (:func:`armctl.commands.compare.preset_overrides`).

    Before any training every sub-run is planned (:func:`armctl.runs.plan`): a finished run with
    the same settings is reused, an unfinished one (or one with other budgets) is resumed, and
    one with other settings is an error unless ``force`` replaces it.
    """
    check_optimizers(optimizers)
    overrides = check_overrides(overrides, optimizers)
    out = Path(out) if out is not None else default_out(base)
    runs.check_writable(out)
    configs = {
        name: dataclasses.replace(base, optimizer=name, out=str(out / name), **overrides.get(name, {}))
        for name in optimizers
    }
    plans = {name: runs.plan(config, force=force) for name, config in configs.items()}
    results, curves, time_curves, panels, probes = {}, {}, {}, {}, {}
    reference = None
    for name, config in configs.items():
        log(f"=== {name} ===")
        summary = train_or_reuse(config, plans[name], force=force, log=log)
        reference = summary["ilqr_loss"]
        setup, batch, r, history = evaluation_rollout(config.run_dir())
        calls, walls, losses = history["function_calls"], history["wall_time"], evaluation_losses(history)
        curves[name], time_curves[name] = (calls, losses), (walls, losses)
        results[name] = {
            "final_loss": summary["loss"],
            "ratio_to_ilqr": summary["ratio_to_ilqr"],
            "calls": summary["function_calls"],
            "wall_s": summary["wall_s"],
            "final_error_mm": summary["metrics"]["mean_final_error_mm"],
            "batch_refresh": config.batch_refresh,
        }
        panels[name] = {"states": np.asarray(r.states)}
        if task_record(setup.task.name).view.center_out_probe:
            probes[name] = _center_out_rollout(config.run_dir())
            results[name]["center_out"] = probes[name]["metrics"]
    # The largest call count every optimizer reached: where "at equal calls" is defined.
    common = min(r["calls"] for r in results.values())
    for name, r in results.items():
        calls, losses = curves[name]
        # None: this optimizer's first iteration already used more calls than another's whole run.
        r["loss_at_common_calls"] = loss_at_calls(calls, losses, common)
    # Every optimizer ran the same task on the same evaluation batch: one iLQR solve serves all panels.
    reference_states = ilqr_states(setup.task, batch)
    for panel in panels.values():
        panel["reference_states"] = reference_states
    task = base.task
    plots.hand_paths_panels(out / "compare_paths.png", setup.task.arm, panels, np.asarray(batch.target))
    probe_reference = None
    if probes:
        probe = center_out_probe(setup.task)
        probe_batch = probe.sample(jax.random.PRNGKey(0))
        reference_states = ilqr_states(probe, probe_batch)
        probe_reference = reference_loss(probe)
        for name in probes:
            results[name]["center_out"]["ratio_to_ilqr"] = (
                results[name]["center_out"]["loss"] / probe_reference
            )
        plots.hand_paths_panels(
            out / "compare_center_out.png",
            probe.arm,
            {
                name: {"states": p["states"], "reference_states": reference_states}
                for name, p in probes.items()
            },
            np.asarray(probe_batch.target),
        )
    plots.loss_curves(
        out / "compare.png", curves, reference=reference, title=f"{task}: loss vs function calls"
    )
    plots.loss_curves(
        out / "compare_time.png",
        time_curves,
        reference=reference,
        xlabel="wall time (s)",
        title=f"{task}: loss vs wall time",
    )
    summary = {
        "task": task,
        "ilqr_loss": reference,
        "common_calls": common,
        "overrides": overrides,
        "center_out_ilqr_loss": probe_reference,
        "optimizers": results,
        "config": base.to_json(),
    }
    checkpoint.atomic_write_json(out / "results.json", summary)
    log(format_table(summary))
    return summary


def _center_out_rollout(run_dir: Path) -> dict:
    """A saved controller on :func:`center_out_probe` of its task: states and mean metrics."""
    config, setup, params, *_ = runs.load_run(run_dir, ArmConfig)
    probe = center_out_probe(setup.task)
    with config.scope():
        batch = probe.sample(jax.random.PRNGKey(0))
        r = simulate(setup.controller, params, probe, batch)
        metrics = probe.metrics(r.states, r.commands, batch.target)
        return {
            "states": np.asarray(r.states),
            "metrics": {
                "loss": float(np.mean(metrics["cost"])),
                "final_error_mm": float(np.mean(metrics["final_error_mm"])),
            },
        }


def _maybe(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def format_table(summary: dict) -> str:
    at = f"@{summary['common_calls']} calls"
    lines = [
        f"{'optimizer':10s} {'final loss':>12s} {'x iLQR':>8s} {'calls':>8s} {'wall s':>8s} {'err mm':>8s} "
        f"{at:>14s}"
    ]
    for name, r in summary["optimizers"].items():
        ratio = f"{r['ratio_to_ilqr']:.4f}" if r["ratio_to_ilqr"] else "-"
        lines.append(
            f"{name:10s} {r['final_loss']:12.6g} {ratio:>8s} {r['calls']:8d} {r['wall_s']:8.1f} "
            f"{r['final_error_mm']:8.2f} {_maybe(r['loss_at_common_calls']):>14s}"
        )
    if summary["ilqr_loss"]:
        lines.append(f"{'iLQR':10s} {summary['ilqr_loss']:12.6g} {'1.0000':>8s}")
    for name, r in summary["optimizers"].items():
        if r["batch_refresh"] > 1:
            lines.append(f"{name} kept each training batch for {r['batch_refresh']} steps")
        if "center_out" in r:
            c = r["center_out"]
            lines.append(
                f"{name} on the center-out reaches: loss {c['loss']:.6g} (iLQR's: "
                f"{summary['center_out_ilqr_loss']:.6g}), hand error {c['final_error_mm']:.2f} mm"
            )
    return "\n".join(lines)
