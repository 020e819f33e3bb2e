"""Regenerate the generated blocks of docs/RESULTS.md from the committed JSON they come from.

A generated block sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``; its text is
``BLOCKS[NAME]()``, computed from JSON files that the commands named there wrote. Edit the JSON
(by running the command again), never the block:

    python docs/generate.py            # rewrite every block
    python docs/generate.py --check    # exit 1, naming the blocks that differ (a test runs this)
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "RESULTS.md"
BENCH = ROOT / "docs" / "bench"


def _bench(name: str) -> dict:
    """The committed JSON ``docs/bench/NAME`` that a bench script wrote."""
    return json.loads((BENCH / name).read_text())


def _campaign_rows(name: str) -> list[dict]:
    data = json.loads((ROOT / "docs" / "campaigns" / name / "results.json").read_text())
    return data["runs"] if isinstance(data, dict) else data


def _cheap() -> str:
    from armctl.sequence.campaign import arms_table

    return arms_table(_campaign_rows("cheap"))


def _fig41() -> str:
    from armctl.sequence.campaign import fig41_table

    return fig41_table(_campaign_rows("fig4_1"))


def _fig41_runs() -> str:
    from armctl.sequence.campaign import arms_table

    return arms_table(_campaign_rows("fig4_1"))


def _memory() -> str:
    """The network's Lyapunov exponent where each campaign run first and last recorded it."""
    lines = [
        "| campaign | run | first recorded | last recorded | test error then |",
        "|---|---|---|---|---|",
    ]
    for campaign in ("cheap", "fig4_1"):
        for row in _campaign_rows(campaign):
            path = ROOT / "docs" / "campaigns" / campaign / row["name"] / "history.json"
            if not path.is_file():
                continue
            history = json.loads(path.read_text())
            points = [
                (m, x, e)
                for m, x, e in zip(
                    history["minibatches"], history.get("lyapunov", []), history["test_error"], strict=False
                )
                if x is not None
            ]
            if not points:
                continue
            (m0, x0, _), (m1, x1, e1) = points[0], points[-1]
            first, last = f"{x0:.3f} at {m0:,.0f}", f"{x1:.3f} at {m1:,.0f}"
            lines.append(f"| {campaign} | {row['name']} | {first} | {last} | {100 * e1:.1f} % |")
    return "\n".join(lines)


def _memory_at_init() -> str:
    data = _bench("memory_at_init.json")
    lines = [
        "| problem | T | init (input std / recurrent gain) | Lyapunov exponent per step, seeds | mean |",
        "|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        values = ", ".join(f"{v:.3f}" for v in r["lyapunov"])
        lines.append(
            f"| {r['problem']} | {r['T']} | {r['input_std']:g} / {r['recurrent_gain']:g} | {values} | "
            f"{sum(r['lyapunov']) / len(r['lyapunov']):.3f} |"
        )
    return "\n".join(lines)


def _throughput() -> str:
    data = _bench("pathological_cpu.json")
    peak = data["matmul_peak_gflops"]
    lines = [
        "| problem | T | batches | minibatches / s | s per minibatch | G v on a minibatch | gradient on a "
        "minibatch | minibatch / G v | G v, share of peak |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["runs"]:
        lines.append(
            f"| {r['problem']} | {r['T']} | {r['batch_size']:,} / {r['curvature_batch']:,} | "
            f"{r['minibatches_per_s']:.2f} | {r['s_per_minibatch']:.3f} s | {r['gv_minibatch_s']:.3f} s | "
            f"{r['grad_minibatch_s']:.3f} s | {r['overhead_vs_gv']:.2f} | "
            f"{100 * r['gv_gflops'] / peak:.0f} % |"
        )
    return "\n".join(lines)


def _ahf_kernels() -> str:
    """bench/ahf_profile.py --kernels: the slowest kernels of a product and an objective."""
    data = _bench("ahf_profile_kernels_cpu.json")
    names = {
        "product": "G v product (factored)",
        "product_through_parameters": "G v product through the parameters",
        "objective": "objective evaluation",
    }
    lines = ["| computation | kernel | makes | us per call | runs per call |", "|---|---|---|---|---|"]
    for key, name in names.items():
        for row in data["slowest_kernels"][key]:
            makes = "the whole scan over time" if row["kernel"].startswith("while") else f"`{row['makes']}`"
            timing = f"{row['us_per_call']:,.0f} | {row['runs_per_call']:g}"
            lines.append(f"| {name} | `{row['kernel']}` | {makes} | {timing} |")
    return "\n".join(lines)


def _ahf_profile() -> str:
    """bench/ahf_profile.py: an AHF step of the main job taken apart."""
    data = _bench("ahf_profile_cpu.json")
    p, st, ops = data["pieces"], data["steps"], data["kernels_per_time_step"]
    ms = lambda s: f"{1e3 * s:.2f} ms"
    kernels = lambda name: " + ".join(str(sum(body.values())) for body in ops[name])
    per_reach = data["seconds_per_reach"]
    wide = 4 * data["targets"]

    def ratio(reaches: int) -> float:
        key = f"{reaches}_reaches"
        return per_reach["product_through_parameters_s"][key] / per_reach["product_s"][key]

    lines = [
        "| piece (center-out, " + f"{data['targets']} reaches of {data['horizon']} steps, float64) "
        "| median | kernels per time step (each scan) |",
        "|---|---|---|",
        f"| objective at shifted parameters (one line-search evaluation) | {ms(p['objective_at_s'])} "
        f"| {kernels('objective')} |",
        f"| gradient | {ms(p['gradient_s'])} | {kernels('gradient')} |",
        f"| linearization (once per step) | {ms(p['linearize_s'])} | |",
        f"| Gauss-Newton product | {ms(p['product_s'])} | {kernels('product')} |",
        f"| the same product through the parameters (not factored) | {ms(p['product_through_parameters_s'])} "
        f"| {kernels('product_through_parameters')} |",
        f"| CG iteration, its five scalars read back | {ms(p['cg_iteration_with_scalars_s'])} | |",
        f"| any jitted call with a scalar read back (the floor) | {ms(p['call_floor_s'])} | |",
        "",
        f"{st['steps']} AHF steps timed whole: {st['wall_s']:.2f} s for {st['function_calls']:,} function "
        f"calls ({ms(st['seconds_per_call'])} per call; {st['products']} products, "
        f"{st['objective_evaluations']} objective evaluations, {st['cg_iterations']} CG iterations). "
        f"The pieces' medians account for {st['pieces_account_for_s']:.2f} s of it, the products "
        f"{100 * st['products_share']:.0f} %; reading scalars back costs at most "
        f"{st['host_round_trips_s_at_most']:.3f} s "
        f"({100 * st['host_round_trips_s_at_most'] / st['wall_s']:.1f} %). "
        f"Per reach, at {data['targets']} and {wide} reaches: a product "
        f"{1e6 * per_reach['product_s'][str(data['targets']) + '_reaches']:.0f} and "
        f"{1e6 * per_reach['product_s'][str(wide) + '_reaches']:.0f} us (through the parameters "
        f"{1e6 * per_reach['product_through_parameters_s'][str(data['targets']) + '_reaches']:.0f} and "
        f"{1e6 * per_reach['product_through_parameters_s'][str(wide) + '_reaches']:.0f} us: "
        f"{ratio(data['targets']):.2f}x and {ratio(wide):.2f}x the factored product's), an objective "
        f"{1e6 * per_reach['objective_at_s'][str(data['targets']) + '_reaches']:.1f} and "
        f"{1e6 * per_reach['objective_at_s'][str(wide) + '_reaches']:.1f} us.",
    ]
    return "\n".join(lines)


def _ppo() -> str:
    data = _bench("ppo_cpu.json")
    lines = [
        "| env | policy | rewards | env steps | wall (s) | final hand error (mm): mean / median "
        "| thesis cost | return | first within 1 mm |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["runs"]:
        rewards = "normalized" if r["normalize_rewards"] else "raw"
        reached = (
            f"{r['reached_target_at_env_steps']:,} steps, {r['reached_target_at_wall_s']:.0f} s"
            if r["reached_target_at_env_steps"] is not None
            else "-"
        )
        lines.append(
            f"| {r['env_id']} | {r['policy']} | {rewards} | {r['env_steps']:,} | {r['wall_s']:.0f} | "
            f"{r['final_hand_error_mm']:.2f} / {r['final_hand_error_mm_median']:.2f} | "
            f"{r['thesis_cost']:.4g} | {r['return']:.1f} | {reached} |"
        )
    return "\n".join(lines)


def _ppo_delays() -> str:
    data = _bench("ppo_delays_cpu.json")
    ahf = _bench("ahf_delays_cpu.json")
    data["rows"] = data["rows"] + ahf["rows"]  # bench/ahf_delays.py: the same episodes
    methods = list(dict.fromkeys(r["method"] for r in data["rows"]))
    delays = sorted({r["delay"] for r in data["rows"]})
    error = {(r["method"], r["delay"]): r["final_hand_error_mm"] for r in data["rows"]}
    ms = 1000 * data["dt"]
    lines = [
        "| delay (steps / ms) | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for d in delays:
        mark = " (the env's)" if d == data["task_delay"] else ""
        cells = " | ".join(f"{error[(m, d)]:.1f}" for m in methods)
        lines.append(f"| {d} / {d * ms:.0f}{mark} | {cells} |")
    # A PPO row's wall time is its whole run (every delay at once); iLQR's and AHF's rows are one
    # delay each.
    walls = {m: max(r["wall_s"] for r in data["rows"] if r["method"] == m) for m in methods}
    for separate in ("online iLQR", "AHF RNN"):  # one run per delay: their times add up
        walls[separate] = sum(r["wall_s"] for r in data["rows"] if r["method"] == separate)
    steps = {r["method"]: r["env_steps"] for r in data["rows"] if r["method"].startswith("PPO")}
    lines.append("")
    lines.append(
        f"Final hand error (mm), mean of {data['episodes']} evaluation episodes ({data['env_id']}, seed "
        f"{data['seed']}). Wall time of all delays together: "
        + ", ".join(
            f"{m} {walls[m]:.0f} s" + (f" ({steps[m]:,} env steps per delay)" if m in steps else "")
            for m in methods
        )
        + ". AHF RNN: one `armctl train ddn` run per delay, "
        + f"{min(r['env_steps'] for r in ahf['rows']):,}-{max(r['env_steps'] for r in ahf['rows']):,}"
        + " simulated arm steps each (function calls x batch x T)."
    )
    return "\n".join(lines)


def _rl_recurrent() -> str:
    runs = [_bench(f"rl_recurrent_ppo_{task}.json") for task in ("ddn", "postural")]
    lines = [
        "| task | controller | env steps | wall (s) | final hand error (mm) | thesis cost | v1 return "
        "| diverged |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for episodes, r in ((run["evaluation"]["episodes"], r) for run in runs for r in run["rows"]):
        name = {"zero": "zero action", "recurrent-ppo": "RecurrentPPO (LSTM)"}[r["method"]]
        steps = f"{r['env_steps']:,}" if "env_steps" in r else ""
        wall = f"{r['seconds']:.0f}" if "seconds" in r else ""
        pairs = (("final_error_mm", ".1f"), ("cost", ".3g"))
        error, cost = ("-" if r[k] is None else format(r[k], spec) for k, spec in pairs)  # None: all diverged
        lines.append(
            f"| {r['task']} | {name} | {steps} | {wall} | {error} | {cost} "
            f"| {r['return']:.1f} | {r['diverged']} of {episodes} |"
        )
    return "\n".join(lines)


def _rl_table() -> str:
    data = _bench("rl_table_cpu.json")
    lines = [
        "| task | controller | env steps | wall (s) | final hand error (mm) | thesis cost |",
        "|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        name = r["method"] + (" (normalized rewards)" if r.get("normalize_rewards") else "")
        steps = f"{r['env_steps']:,}" if "env_steps" in r else ""
        wall = f"{r['seconds']:.0f}" if "seconds" in r else ""
        lines.append(
            f"| {r['task']} | {name} | {steps} | {wall} | {r['final_hand_error_mm']:.2f} "
            f"| {r['thesis_cost']:.3g} |"
        )
    lines.append("")
    lines.append(
        f"Mean of {data['episodes']} evaluation episodes per task (seed {data['seed']}), the same episodes "
        f"for every controller; {data['machine']['cpu_model']}, {data['machine']['cpu_count']} cores."
    )
    return "\n".join(lines)


def _stats_cell(r: dict, spec: str) -> str:
    """``median [best, worst]`` of a seed-table statistic (one value when one seed has it)."""
    if not r.get("reached"):
        return "not run"
    if r["reached"] == 1:
        return f"{r['median']:{spec}}"
    return f"{r['median']:{spec}} [{r['best']:{spec}}, {r['worst']:{spec}}]"


def _center_out_100k() -> str:
    data = _bench("seeds_center_out_100k.json")
    names = {"ahf": "AHF", "hf": "HF (structural damping)", "lbfgs": "L-BFGS", "ncg": "NCG"}
    runs = {o: [r for r in data["rows"] if r["optimizer"] == o] for o in names}
    head = " | ".join(f"{names[o]}, {len(runs[o])} seeds" for o in names)
    lines = [f"| calls | {head} |", "|---|" + "---|" * len(names)]
    for calls in ("20000", "50000", "100000"):
        cells = []
        for o in names:
            ratios = sorted(r["ratio_to_ilqr"][calls] for r in runs[o])
            cells.append(f"{statistics.median(ratios):.4f} [{ratios[0]:.4f}, {ratios[-1]:.4f}]")
        lines.append(f"| {int(calls):,} | " + " | ".join(cells) + " |")
    reached = []
    for o in names:
        at = sorted(r["calls_to_1.01"] for r in runs[o] if r["calls_to_1.01"] is not None)
        where = f" (from {', '.join(f'{c / 1000:.1f}k' for c in at)} calls)" if at else ""
        reached.append(f"{len(at)} of {len(runs[o])}{where}")
    lines.append("| within 1.01 by 100k | " + " | ".join(reached) + " |")
    close = [
        f"{sum(r['ratio_to_ilqr']['100000'] <= 1.001 for r in runs[o])} of {len(runs[o])}" for o in names
    ]
    lines.append("| within 1.001 at 100k | " + " | ".join(close) + " |")
    lines.append("")
    lines.append("Loss over iLQR's on the evaluation batch, median [best, worst] over the seeds.")
    return "\n".join(lines)


def _center_out_20k() -> str:
    data = _bench("seeds_center_out_thesis.json")
    names = {"ahf": "AHF", "hf": "HF (structural damping, mu 0.03)", "lbfgs": "L-BFGS (m 100)", "ncg": "NCG"}
    lines = ["| calls | " + " | ".join(names.values()) + " |", "|---|" + "---|" * len(names)]
    for calls in map(str, data["at_calls"]):
        cells = []
        for o in names:
            r = data["table"][calls][o]["ratio_to_ilqr"]
            digits = 4 if r["worst"] < 10 else 1 if r["worst"] < 1000 else 0
            cells.append(_stats_cell(r, f",.{digits}f"))
        lines.append(f"| {int(calls):,} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Loss over iLQR's, median [best, worst] over seeds {data['seeds']} "
        "(NCG before its restart fix, see below)."
    )
    return "\n".join(lines)


def _postural_15k() -> str:
    data = _bench("seeds_postural_thesis_scale_15k.json")

    lines = [
        "| calls | AHF loss | L-BFGS loss | L-BFGS / AHF per seed |",
        "|---|---|---|---|",
    ]
    for calls in map(str, data["at_calls"]):
        ahf, lbfgs = data["table"][calls]["ahf"], data["table"][calls]["lbfgs"]
        lines.append(
            f"| {int(calls):,} | {_stats_cell(ahf['loss'], '.4f')} | {_stats_cell(lbfgs['loss'], '.4f')} "
            f"| {_stats_cell(lbfgs['over_ahf'], '.2f')} |"
        )
    ahf, lbfgs = data["runs"]["ahf"], data["runs"]["lbfgs"]
    finals = ", ".join(
        f"{ahf[s]['final_loss']:.4f} / {lbfgs[s]['final_loss']:.4f} "
        f"({lbfgs[s]['final_loss'] / ahf[s]['final_loss']:.2f}x)"
        for s in map(str, data["seeds"])
    )
    lines.append("")
    lines.append(
        f"Median [best, worst] over seeds {data['seeds']}; the loss is the mean over the last "
        f"{data['window']:.0%} of the calls up to each count (the evaluation batch). The final loss of "
        f"each run, the thesis's figure (AHF / L-BFGS, seeds {data['seeds']}): {finals}."
    )
    return "\n".join(lines)


def _ddn_10k() -> str:
    data = _bench("seeds_ddn_thesis_scale_10k.json")
    lines = [
        "| calls | AHF | L-BFGS, batch kept 25 updates (thesis) | its loss / AHF's, per seed "
        "| L-BFGS, fresh batch (seed 0) | its loss / AHF's |",
        "|---|---|---|---|---|---|",
    ]
    for calls in map(str, data["at_calls"]):
        row = data["table"][calls]
        ahf, kept, fresh = row["ahf"], row["lbfgs_batch_kept_25"], row["lbfgs_fresh_batch"]
        seeds = [s for s, v in ahf["per_seed"].items() if v is not None]
        which = "" if len(seeds) == len(ahf["per_seed"]) else f" (AHF seeds {', '.join(seeds)})"
        cells = [
            _stats_cell(ahf["loss"], ".5f"),
            _stats_cell(kept["loss"], ".5f"),
            _stats_cell(kept["over_ahf"], ".2f"),
            _stats_cell(fresh["loss"], ".5f"),
            _stats_cell(fresh["over_ahf"], ".2f"),
        ]
        lines.append(f"| {int(calls):,}{which} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _center_out_ahf_100k() -> str:
    data = _bench("seeds_center_out_ahf_100k.json")
    lines = [
        "| calls | AHF x iLQR, median [best, worst] | within 1.01 | within 1.001 |",
        "|---|---|---|---|",
    ]
    for calls in map(str, data["at_calls"]):
        cell = data["table"][calls]["ahf"]
        n = cell["ratio_to_ilqr"]["runs"]
        lines.append(
            f"| {int(calls):,} | {_stats_cell(cell['ratio_to_ilqr'], '.4f')} | {cell['within_1.01']} of {n} "
            f"| {cell['within_1.001']} of {n} |"
        )
    return "\n".join(lines)


#: The claims' test (docs/claims.toml): confidence level and bootstrap resamples.
CLAIMS_LEVEL, CLAIMS_RESAMPLES = 0.95, 10_000


def per_seed(data: dict, optimizer: str, calls: int | None = None, at: str | None = None) -> dict[str, float]:
    """``{seed: value}`` of ``optimizer`` at ``calls`` in a seeds JSON of docs/bench: the loss
    over iLQR's of its ``rows`` (``seeds_center_out_100k.json``) or the loss of its ``table``;
    with ``at = "equal_wall"`` instead, the loss at each seed's equal-time budget."""
    if at == "equal_wall":
        return dict(data["at_equal_wall"]["optimizers"][optimizer]["per_seed"])
    if "rows" in data:
        rows = (r for r in data["rows"] if r["optimizer"] == optimizer)
        return {str(r["seed"]): r["ratio_to_ilqr"][str(calls)] for r in rows}
    return dict(data["table"][str(calls)][optimizer]["per_seed"])


def median_interval(values, level: float = CLAIMS_LEVEL, resamples: int = CLAIMS_RESAMPLES):
    """The percentile-bootstrap interval of the median of ``values`` (resampling them with
    replacement; NumPy's PCG64 seeded 0, inverted-CDF quantiles, so the ends are medians that a
    resample can have)."""
    import numpy as np

    x = np.asarray(values, float)
    medians = np.median(np.random.default_rng(0).choice(x, (resamples, x.size)), axis=1)
    low, high = np.quantile(medians, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return float(low), float(high)


def verdict(claim: dict, low: float, high: float) -> str:
    """The declared rule of docs/claims.toml on the interval ``[low, high]``."""
    if "above" in claim:
        t = claim["above"]
        return "reproduced" if low > t else "contradicted" if high < t else "not reproduced"
    if "below" in claim:
        t = claim["below"]
        return "reproduced" if high < t else "contradicted" if low > t else "not reproduced"
    a, b = claim["within"]
    if a <= low and high <= b:
        return "reproduced"
    return "contradicted" if high < a or low > b else "not reproduced"


def on_claims_side(claim: dict, value: float) -> bool:
    if "above" in claim:
        return value > claim["above"]
    if "below" in claim:
        return value < claim["below"]
    return claim["within"][0] <= value <= claim["within"][1]


def fisher_one_sided(a: int, n1: int, b: int, n2: int) -> float:
    """P(X <= a) for X hypergeometric: ``a`` of ``n1`` runs fail against ``b`` of ``n2``, the
    one-sided Fisher exact test that the first fails less often."""
    from math import comb

    k, n = a + b, n1 + n2
    return sum(comb(k, x) * comb(n - k, n1 - x) for x in range(a + 1)) / comb(n, n1)


def failed_runs(data: dict, optimizer: str, spec: dict) -> tuple[dict[str, float], list[str]]:
    """``(ratios, failed)`` of a ``failures`` spec: each seed's loss over iLQR's at its calls (inf
    where the run has none) and the seeds that fail (above ``limit``, no loss, or diverged)."""
    ratios = {
        s: (v / data["ilqr_loss"] if v is not None else math.inf)
        for s, v in per_seed(data, optimizer, spec["calls"]).items()
    }
    diverged = set(data.get("diverged", {}).get(optimizer, []))  # seeds whose run diverged
    return ratios, sorted((s for s, r in ratios.items() if s in diverged or r > spec["limit"]), key=int)


def failure_row(claim: dict, data: dict) -> dict:
    """A ``failures`` claim on a compare --seeds JSON: failing seeds per optimizer (``fewer``,
    ``more`` and those listed in ``also``, counted beside them, outside the test) and the test."""
    spec = claim["failures"]
    counts = {}
    for name in (spec["fewer"], spec["more"], *spec.get("also", [])):
        ratios, failed = failed_runs(data, name, spec)
        counts[name] = (len(failed), len(ratios))
    (a, n1), (b, n2) = counts[spec["fewer"]], counts[spec["more"]]
    p, p_opposite = fisher_one_sided(a, n1, b, n2), fisher_one_sided(b, n2, a, n1)
    result = "reproduced" if p <= 0.05 else "contradicted" if p_opposite <= 0.05 else "not reproduced"
    return {"counts": counts, "p": p, "verdict": result}


def claim_row(claim: dict) -> dict:
    """One claim of docs/claims.toml tested on its data: per-seed values, the interval, how many
    seeds are on the claim's side, the verdict."""
    path = BENCH / claim.get("file", "-")
    if not path.is_file():  # no data (yet): the claim stays declared, untested
        return {"values": {}, "interval": None, "agree": 0, "verdict": "not tested"}
    data = json.loads(path.read_text())
    if "failures" in claim:
        return failure_row(claim, data)
    top = per_seed(data, **claim["numerator"])
    bottom = per_seed(data, **claim["denominator"]) if "denominator" in claim else None
    values = {s: v / bottom[s] if bottom else v for s, v in top.items() if v is not None}
    interval = median_interval(list(values.values()))
    agree = sum(on_claims_side(claim, v) for v in values.values())
    return {"values": values, "interval": interval, "agree": agree, "verdict": verdict(claim, *interval)}


def _failures_center_out() -> str:
    """Every run of the failure-rate claim: its ratio to iLQR at the claim's calls, failed or not."""
    data = _bench("failures_center_out_quick.json")
    spec = next(c for c in _declared_claims() if "failures" in c)["failures"]
    lines = [
        f"| optimizer | runs | failed (above {spec['limit']}x iLQR at {spec['calls']:,} calls, or diverged) "
        "| loss / iLQR's: median [best, worst] | seeds that failed |",
        "|---|---|---|---|---|",
    ]
    for name in (spec["fewer"], spec["more"], *spec.get("also", [])):
        ratios, failed = failed_runs(data, name, spec)
        values = sorted(ratios.values())
        lines.append(
            f"| {name} | {len(values)} | {len(failed)} | {statistics.median(values):.4f} "
            f"[{values[0]:.4f}, {values[-1]:.4f}] | "
            + (", ".join(f"{s} ({ratios[s]:.4f})" for s in failed) or "none")
            + " |"
        )
    return "\n".join(lines)


def _equal_wall_center_out() -> str:
    """Per seed, L-BFGS against AHF at equal wall time and at equal calls (the failure-rate runs:
    the same seeds and settings, so the same iterates; only their timing differs); the medians
    of the run before L-BFGS stopped copying its curvature pairs in the last row."""
    at_calls = _bench("failures_center_out_quick.json")["table"]["20000"]
    lines = [
        "| seed | equal time: AHF's 20k calls (s) | L-BFGS's calls by then | L-BFGS / AHF at equal time "
        "| L-BFGS / AHF at 20k calls each |",
        "|---|---|---|---|---|",
    ]

    def rows(name: str, label: str, each_seed: bool) -> None:
        equal = _bench(name)["at_equal_wall"]
        lbfgs, ahf = equal["optimizers"]["lbfgs"], equal["optimizers"]["ahf"]
        timed, counted = [], []
        for seed, seconds in equal["seconds"].items():
            timed.append(lbfgs["per_seed"][seed] / ahf["per_seed"][seed])
            counted.append(at_calls["lbfgs"]["per_seed"][seed] / at_calls["ahf"]["per_seed"][seed])
            if each_seed:
                used = lbfgs["calls"][seed]
                lines.append(f"| {seed} | {seconds:.1f} | {used:,} | {timed[-1]:.4f} | {counted[-1]:.4f} |")
        lines.append(
            f"| {label} | {statistics.median(equal['seconds'].values()):.1f} "
            f"| {statistics.median(lbfgs['calls'].values()):,.0f} "
            f"| {statistics.median(timed):.4f} [{min(timed):.4f}, {max(timed):.4f}] "
            f"| {statistics.median(counted):.4f} [{min(counted):.4f}, {max(counted):.4f}] |"
        )

    rows("equal_wall_center_out_quick.json", "median [lowest, highest]", True)
    rows(
        "equal_wall_center_out_quick_copying_lbfgs.json", "first run, L-BFGS copying its pairs: median", False
    )
    return "\n".join(lines)


def _declared_claims() -> list[dict]:
    import tomllib

    return tomllib.loads((ROOT / "docs" / "claims.toml").read_text())["claims"]


def _claims() -> str:
    claims = _declared_claims()
    lines = [
        "| thesis claim | thesis (section) | quantity, per seed | test | seeds | median [95 % CI] "
        "| seeds on the claim's side | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in claims:
        r = claim_row(c)
        if "failures" in c and r["verdict"] != "not tested":
            counts = " ; ".join(f"{name}: {a} of {n} fail" for name, (a, n) in r["counts"].items())
            lines.append(
                f'| {c["claim"]} | "{c["quote"]}" ({c["where"]}) | {c["quantity"]} | one-sided Fisher '
                f"exact at 0.05 | {counts} | p = {r['p']:.3g} | - | **{r['verdict']}** |"
            )
            continue
        test = (
            f"CI > {c['above']:g}"
            if "above" in c
            else f"CI < {c['below']:g}"
            if "below" in c
            else f"CI in [{c['within'][0]:g}, {c['within'][1]:g}]"
            if "within" in c
            else "-"
        )
        if r["interval"] is None:
            cells = "- | - | - |"
        else:
            values = list(r["values"].values())
            low, high = r["interval"]
            cells = (
                f"{', '.join(f'{v:.4f}' for v in values)} | {statistics.median(values):.4f} "
                f"[{low:.4f}, {high:.4f}] | {r['agree']} of {len(values)} |"
            )
        lines.append(
            f'| {c["claim"]} | "{c["quote"]}" ({c["where"]}) | {c["quantity"]} | {test} | {cells} '
            f"**{r['verdict']}** |"
        )
    return "\n".join(lines)


#: Each generated block: its name in docs/RESULTS.md and the function that writes it.
BLOCKS: dict[str, Callable[[], str]] = {
    "pathological-cheap": _cheap,
    "pathological-fig41": _fig41,
    "pathological-fig41-runs": _fig41_runs,
    "pathological-memory": _memory,
    "pathological-memory-at-init": _memory_at_init,
    "pathological-throughput": _throughput,
    "ahf-profile": _ahf_profile,
    "ahf-kernels": _ahf_kernels,
    "ppo": _ppo,
    "ppo-delays": _ppo_delays,
    "rl-recurrent": _rl_recurrent,
    "rl-table": _rl_table,
    "claims": _claims,
    "failures-center-out": _failures_center_out,
    "equal-wall-center-out": _equal_wall_center_out,
    "center-out-100k": _center_out_100k,
    "center-out-20k": _center_out_20k,
    "postural-15k": _postural_15k,
    "ddn-10k": _ddn_10k,
    "center-out-ahf-100k": _center_out_ahf_100k,
}


def _pattern(name: str) -> re.Pattern:
    return re.compile(
        rf"(<!-- generated: {re.escape(name)} -->\n)(.*?)(<!-- end: {re.escape(name)} -->)", re.S
    )


def regenerate(text: str) -> tuple[str, list[str]]:
    """``text`` with every generated block rewritten, and the names of the blocks that changed."""
    changed = []
    for name, make in BLOCKS.items():
        match = _pattern(name).search(text)
        if match is None:
            continue
        block = make().rstrip("\n") + "\n"
        if match.group(2) != block:
            changed.append(name)
            text = text[: match.start(2)] + block + text[match.end(2) :]
    return text, changed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if a block differs")
    args = parser.parse_args()
    text = RESULTS.read_text()
    missing = [name for name in BLOCKS if not _pattern(name).search(text)]
    if missing:
        print(f"{RESULTS} lacks the generated blocks {missing}", file=sys.stderr)
        return 1
    new, changed = regenerate(text)
    if args.check:
        if changed:
            print(
                f"generated blocks out of date in {RESULTS}: {changed}; run python docs/generate.py",
                file=sys.stderr,
            )
            return 1
        return 0
    RESULTS.write_text(new)
    print(f"rewrote {changed or 'nothing'} in {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
