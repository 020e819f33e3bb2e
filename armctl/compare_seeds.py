"""Several optimizers over several seeds: thesis fig. 6.2 with error bands, and its robustness claim.

Each (optimizer, seed) pair trains in its own sub-run ``OUT/NAME-sSEED`` (a normal run directory,
planned, reused or resumed as in :func:`armctl.compare.compare`); a seed fixes the
initialization and every batch, so the optimizers of one seed start from the same point. The
comparison needs only each sub-run's ``history.json`` and ``report.json`` and writes:

* ``OUT/compare_seeds.png``: loss against function calls, per optimizer the median over the
  seeds and the band between the best and the worst seed (iLQR dashed where it is the task's
  yardstick, and then a second panel of ``loss / iLQR - 1``);
* ``OUT/seeds.json`` and a printed table: at each of ``at_calls``, per optimizer the median,
  best and worst loss over the seeds; with iLQR's reference the ratios to it and how many runs
  are within 1.01 and 1.001 of it (the thesis's "only AHF was ever able to find a solution with
  near identical loss"); and, per seed, each optimizer's loss over the first optimizer's; the
  same at each run's own end (``at_own_end``: where optimizers had budgets of their own, as the
  thesis gave them);
* ``at_equal_wall``: per seed, every optimizer's loss at the same wall time, the end of that
  seed's shortest run (an equal-time budget, where an L-BFGS call and an AHF call cost
  different time). Wall times compare only runs made alike: the same machine, one core each,
  one at a time (pin the command, e.g. ``taskset -c 0``, and give it ``--devices 1``).

A run that stopped (``--minutes``) before a call count has no value there; the table says how
many runs reached it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from armctl import checkpoint, plots, provenance, runs
from armctl.arm_experiment import ArmConfig
from armctl.compare import (
    EQUAL_CALLS_WINDOW,
    check_optimizers,
    check_overrides,
    loss_at_calls,
    loss_near_calls,
    train_or_reuse,
)
from armctl.registry import task_record
from armctl.report import evaluation_losses

#: Ratios to iLQR counted in the robustness columns.
NEAR_ILQR = (1.01, 1.001)


def seed_run_name(optimizer: str, seed: int) -> str:
    return f"{optimizer}-s{seed}"


def default_out(base: ArmConfig) -> Path:
    return Path("runs") / f"compare-seeds-{base.task}-{base.preset}"


def band(curves: Sequence[tuple[Sequence[float], Sequence[float]]], points: int = 200) -> tuple:
    """``(calls, median, lowest, highest)`` of several loss-against-calls curves on one log grid.

    Each curve is read as a step function (the loss after the last iteration at or before a call
    count); the grid ends where the shortest curve ends, so every point summarizes all seeds.
    """
    start = max(c[0][0] for c in curves)
    stop = min(c[0][-1] for c in curves)
    grid = np.unique(np.geomspace(max(start, 1), max(stop, start, 1), points).round())
    values = []
    for calls, losses in curves:
        idx = np.searchsorted(np.asarray(calls, float), grid, side="right") - 1
        values.append(np.asarray(losses, float)[np.clip(idx, 0, None)])
    values = np.array(values)
    return grid, np.median(values, 0), values.min(0), values.max(0)


def _stats(values: list[float | None]) -> dict:
    """Median, best, worst of the reached values and how many runs reached the call count."""
    got = [v for v in values if v is not None]
    if not got:
        return {"reached": 0, "runs": len(values)}
    return {
        "reached": len(got),
        "runs": len(values),
        "median": float(np.median(got)),
        "best": float(np.min(got)),
        "worst": float(np.max(got)),
    }


def _over(losses: dict, first: dict) -> dict:
    """The statistics of ``losses[seed] / first[seed]`` over the seeds where both have a value."""
    return _stats(
        [None if v is None or first.get(seed) is None else v / first[seed] for seed, v in losses.items()]
    )


def seed_table(histories: dict, at_calls: Sequence[int], reference: float | None, window: float) -> dict:
    """The seed statistics of ``histories[optimizer][seed] = (calls, losses)`` at each call count."""
    table = {}
    first = next(iter(histories))
    for at in at_calls:
        losses = {
            name: {seed: loss_at_calls(c, v, at, window) for seed, (c, v) in by_seed.items()}
            for name, by_seed in histories.items()
        }
        row = {}
        for name, by_seed in losses.items():
            values = list(by_seed.values())
            cell = {"loss": _stats(values), "per_seed": by_seed}
            if reference:
                ratios = [None if v is None else v / reference for v in values]
                cell["ratio_to_ilqr"] = _stats(ratios)
                for limit in NEAR_ILQR:
                    cell[f"within_{limit}"] = sum(r is not None and r <= limit for r in ratios)
            if name != first:
                cell[f"over_{first}"] = _over(by_seed, losses[first])
            row[name] = cell
        table[str(at)] = row
    return table


def at_own_end(histories: dict, window: float) -> dict:
    """Each run's loss where it stopped (:func:`~armctl.compare.loss_near_calls` at its last call
    count), per optimizer over the seeds, and per seed over the first optimizer's: the comparison
    at each optimizer's own budget (the thesis's DDN pair is AHF at 100k calls, L-BFGS at 25k)."""
    table = {}
    for name, by_seed in histories.items():
        # A run that diverged at its first step has no end to read: None, as a run that never got there.
        per_seed = {
            seed: loss_near_calls(c, v, c[-1], window) if len(c) else None for seed, (c, v) in by_seed.items()
        }
        cell = {
            "calls": {seed: int(c[-1]) if len(c) else None for seed, (c, _) in by_seed.items()},
            "per_seed": per_seed,
            "loss": _stats(list(per_seed.values())),
        }
        if table:  # over the first optimizer's, as in seed_table
            first = next(iter(table))
            cell[f"over_{first}"] = _over(per_seed, table[first]["per_seed"])
        table[name] = cell
    return table


def at_equal_wall(curves: dict, window: float) -> dict:
    """``curves[optimizer][seed] = (wall_times, calls, losses)``, a run's cumulative seconds
    (compilation included) after each iteration. Returns ``seconds``, per seed the budget (the end
    of that seed's shortest run), and ``optimizers``: per optimizer its loss at the budget
    (:func:`~armctl.compare.loss_at_calls` on the time axis, ``window`` a fraction of the
    budget), the calls it had used by then, and the statistics over the seeds as in
    :func:`seed_table`."""
    ends: dict[int, list[float]] = {}
    for by_seed in curves.values():
        for seed, (walls, _, _) in by_seed.items():
            ends.setdefault(seed, []).extend(walls[-1:])
    budget = {seed: float(min(e)) for seed, e in ends.items() if e}
    table: dict = {}
    for name, by_seed in curves.items():
        per_seed, used = {}, {}
        for seed, (walls, calls, losses) in by_seed.items():
            reached = np.asarray(walls, float) <= budget.get(seed, -np.inf)
            if not reached.any():  # no step ended within the budget (or the seed has none)
                per_seed[seed] = used[seed] = None
                continue
            per_seed[seed] = loss_at_calls(walls, losses, budget[seed], window)
            used[seed] = int(np.asarray(calls)[reached][-1])
        cell = {"per_seed": per_seed, "calls": used, "loss": _stats(list(per_seed.values()))}
        if table:  # over the first optimizer's, as in seed_table
            first = next(iter(table))
            cell[f"over_{first}"] = _over(per_seed, table[first]["per_seed"])
        table[name] = cell
    return {"seconds": budget, "optimizers": table}


def compare_seeds(
    base: ArmConfig,
    optimizers: Sequence[str],
    seeds: Sequence[int],
    out: str | Path | None = None,
    *,
    at_calls: Sequence[int] | None = None,
    overrides: Mapping[str, Mapping] | None = None,
    force: bool = False,
    log: Callable = print,
) -> dict:
    """Train ``base`` for every optimizer and seed into ``out/NAME-sSEED`` and summarize the seeds.

    ``overrides[name]``: that optimizer's own config values on every seed (the thesis's DDN
    protocol kept L-BFGS's batch for 25 updates: ``{"lbfgs": {"batch_refresh": 25}}``).

    ``at_calls``: the call counts of the table (default: the largest count every run reached).
    Sub-runs are planned before any training (:func:`armctl.runs.plan`): finished ones with the
    same settings are reused, unfinished ones resumed, others an error unless ``force``.
    """
    check_optimizers(optimizers)
    overrides = check_overrides(overrides, optimizers)
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must name at least one seed, each once; got {seeds}")
    if at_calls is not None and (not at_calls or any(int(a) < 1 for a in at_calls)):
        raise ValueError(f"at_calls must be positive call counts, got {list(at_calls)}")
    out = Path(out) if out is not None else default_out(base)
    runs.check_writable(out)
    configs = {
        (name, seed): dataclasses.replace(
            base,
            optimizer=name,
            seed=seed,
            out=str(out / seed_run_name(name, seed)),
            **overrides.get(name, {}),
        )
        for name in optimizers
        for seed in seeds
    }
    plans = {key: runs.plan(config, force=force) for key, config in configs.items()}
    histories: dict[str, dict[int, tuple]] = {name: {} for name in optimizers}
    timed: dict[str, dict[int, tuple]] = {name: {} for name in optimizers}
    reports = {}
    # A run that diverges is an outcome to count (a failure), not a reason to lose the others:
    # its steps up to the last good one stay in its history, and a re-run tries it again.
    diverged: dict[str, list[str]] = {name: [] for name in optimizers}
    for (name, seed), config in configs.items():
        log(f"=== {name}, seed {seed} ===")
        try:
            reports[name, seed] = train_or_reuse(config, plans[name, seed], force=force, log=log)
        except runs.Diverged as error:
            log(f"{name}, seed {seed}: {error}")
            diverged[name].append(str(seed))
        history = runs.read_history(config.run_dir())
        histories[name][seed] = (history["function_calls"], evaluation_losses(history))
        timed[name][seed] = (history["wall_time"], *histories[name][seed])
    deterministic = task_record(base.task).view.ilqr_reference
    reference = next((r["ilqr_loss"] for r in reports.values()), None) if deterministic else None
    if at_calls is None:
        at_calls = [min((r["function_calls"] for r in reports.values()), default=1)]
    # A deterministic task's loss at N calls is the last one reached; a stochastic task's jumps
    # between batches, so its level is the mean over the last tenth of the calls.
    window = 0.0 if deterministic else EQUAL_CALLS_WINDOW
    summary = {
        **provenance.stamp(),
        "task": base.task,
        "preset": base.preset,
        "seeds": seeds,
        "ilqr_loss": reference,
        "window": window,
        "at_calls": [int(a) for a in at_calls],
        "table": seed_table(histories, at_calls, reference, window),
        "at_own_end": at_own_end(histories, window),
        "at_equal_wall": at_equal_wall(timed, window),
        "runs": {
            name: {
                str(seed): {
                    "calls": reports[name, seed]["function_calls"],
                    "wall_s": reports[name, seed]["wall_s"],
                    "final_loss": reports[name, seed]["loss"],
                }
                for seed in seeds
                if (name, seed) in reports
            }
            for name in optimizers
        },
        "diverged": diverged,
        "batch_refresh": {name: configs[name, seeds[0]].batch_refresh for name in optimizers},
        "overrides": overrides,
        "config": base.to_json(),
    }
    plots.loss_bands(
        out / "compare_seeds.png",
        {  # a run that diverged at its first step has no curve
            name: band(curves)
            for name, by_seed in histories.items()
            if (curves := [c for c in by_seed.values() if len(c[0])])
        },
        reference=reference,
        title=f"{base.task} ({base.preset}): median and range over seeds {seeds}",
    )
    checkpoint.atomic_write_json(out / "seeds.json", summary)
    log(format_seed_table(summary))
    return summary


def _cell(stats: dict, fmt: str = "{:.4g}") -> str:
    if not stats.get("reached"):
        return f"- (0/{stats['runs']})"
    reached = "" if stats["reached"] == stats["runs"] else f" ({stats['reached']}/{stats['runs']})"
    return (
        f"{fmt.format(stats['median'])} [{fmt.format(stats['best'])}, {fmt.format(stats['worst'])}]{reached}"
    )


def _span(values) -> str:
    """``'2,000-2,400'``, or ``'2,000'`` when every value is the same."""
    low, high = min(values), max(values)
    return f"{low:,}" if low == high else f"{low:,}-{high:,}"


def _over_first(cell: dict) -> list[str]:
    """The ``over_FIRST`` statistic of a cell, as text (none for the first optimizer)."""
    return [f"{k.replace('_', ' ')} {_cell(cell[k], '{:.3f}')}" for k in cell if k.startswith("over_")]


def _read_where_calls_differ(cells: dict) -> list[str]:
    """Per optimizer, the loss statistics of :func:`at_own_end` or :func:`at_equal_wall`, with the
    span of the calls its runs had used there."""
    lines = []
    for name, cell in cells.items():
        used = [c for c in cell["calls"].values() if c is not None]
        parts = [f"  {name:8s} loss {_cell(cell['loss'])}" + (f" at {_span(used)} calls" if used else "")]
        lines.append("  ".join(parts + _over_first(cell)))
    return lines


def format_seed_table(summary: dict) -> str:
    """One block per call count: median [best, worst] of the loss, of the ratio to iLQR, and of the
    loss over the first optimizer's; runs within 1.01 / 1.001 of iLQR. Then the same at each run's
    own end, and each optimizer's calls and wall time."""
    lines = [f"{summary['task']} ({summary['preset']}), seeds {summary['seeds']}: median [best, worst]"]
    for at, row in summary["table"].items():
        lines.append(f"at {int(at):,} calls")
        for name, cell in row.items():
            parts = [f"  {name:8s} loss {_cell(cell['loss'])}"]
            if "ratio_to_ilqr" in cell:
                near = ", ".join(f"<= {lim}: {cell[f'within_{lim}']}" for lim in NEAR_ILQR)
                parts.append(f"x iLQR {_cell(cell['ratio_to_ilqr'], '{:.5f}')} ({near})")
            lines.append("  ".join(parts + _over_first(cell)))
    lines.append("at each run's own end")
    lines += _read_where_calls_differ(summary["at_own_end"])
    equal = summary["at_equal_wall"]
    budgets = [round(s) for s in equal["seconds"].values()]
    lines.append(
        "at equal wall time" + (f" (each seed's shortest run: {_span(budgets)} s)" if budgets else "")
    )
    lines += _read_where_calls_differ(equal["optimizers"])
    for name, by_seed in summary["runs"].items():
        diverged = summary.get("diverged", {}).get(name)
        note = f", diverged: seeds {', '.join(diverged)}" if diverged else ""
        if not by_seed:
            lines.append(f"  {name}: no run finished{note}")
            continue
        walls = _span([round(r["wall_s"]) for r in by_seed.values()])
        kept = summary["batch_refresh"][name]
        lines.append(
            f"  {name}: calls {_span([r['calls'] for r in by_seed.values()])}, wall {walls} s per run"
            + (f", each batch kept {kept} steps" if kept > 1 else "")
            + note
        )
    return "\n".join(lines)
