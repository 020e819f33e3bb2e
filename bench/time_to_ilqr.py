"""Calls and seconds for AHF to get within a factor of iLQR's loss on center-out (issue #21, goal 4).

    python bench/time_to_ilqr.py --out time_to_ilqr.json [--ratio 1.01] [--seeds 0]
        [--settings "default;curvature_fraction=0.25,max_group=8"] [--devices 1]
        [--max-calls 100000] [--targets 64]

Each setting trains AHF on the thesis preset (64 reaches, float64) from the same seed until its
evaluation loss is within ``--ratio`` of iLQR's (or ``--max-calls`` run out), and reports the
function calls and wall seconds that took, per call, and as ratios to the first setting of the
same seed. Each setting first runs a few untimed steps, so that no timed run includes compiling.

A setting is a comma-separated list of AHF options (``KEY=VALUE``, as ``--optimizer-option``
takes them; ``default``: none); settings are separated by ``;``. The default compares AHF as the
thesis runs it with the faster setting of README "Faster to 1 % of iLQR": Gauss-Newton products
on a quarter of the reaches (``curvature_fraction=0.25``, every fourth target) and line searches
over groups of up to 8 CG directions (``max_group=8``). The runs land in ``--runs``; ``armctl
report`` or ``armctl eval`` reload them. About 10 minutes per run at the full curvature on one
core of a recent Xeon; one single-threaded process per core is the setting the #20 tables used.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, write_json  # noqa: E402

from armctl.arm_experiment import ArmConfig, train  # noqa: E402
from armctl.options import parse_options  # noqa: E402
from armctl.runs import read_history  # noqa: E402


def parse_settings(text: str) -> list[tuple[str, dict]]:
    """``"default;a=1,b=2"`` -> ``[("default", {}), ("a=1,b=2", {"a": 1, "b": 2})]``."""
    settings = []
    for name in text.split(";"):
        name = name.strip()
        settings.append((name, {} if name == "default" else parse_options(name.split(","), "AHF")))
    return settings


def config_for(args, seed: int, options: dict, out: Path, calls: int) -> ArmConfig:
    return ArmConfig(
        task="center-out",
        preset="thesis",
        seed=seed,
        optimizer="ahf",
        optimizer_options=options,
        function_calls=calls,
        devices=args.devices,
        task_options={"n_targets": args.targets},
        out=str(out),
    )


def warm_up(args, setting: str, options: dict) -> None:
    """A few steps of the setting, untimed, so that no timed run pays for compiling its functions
    (otherwise the first setting of the first seed would)."""
    out = args.runs / f"warm-up-{slug(setting)}"
    shutil.rmtree(out, ignore_errors=True)
    train(config_for(args, 0, options, out, 100), log=lambda *_: None)
    shutil.rmtree(out)


def slug(setting: str) -> str:
    return setting.replace("=", "").replace(",", "-")


def run_setting(args, seed: int, setting: str, options: dict) -> dict:
    out = args.runs / f"{slug(setting)}-s{seed}"
    shutil.rmtree(out, ignore_errors=True)
    summary = train(config_for(args, seed, options, out, args.max_calls), until_ratio=args.ratio, log=print)
    history = read_history(out)
    calls, seconds = history["function_calls"][-1], history["wall_time"][-1]
    return {
        "seed": seed,
        "setting": setting,
        "reached": summary["ratio_to_ilqr"] <= args.ratio,
        "ratio_to_ilqr": summary["ratio_to_ilqr"],
        "calls": calls,
        "seconds": seconds,
        "ms_per_call": 1e3 * seconds / calls,
        "objective_calls": history["objective_calls"][-1],
        "gv_calls": history["gv_calls"][-1],
        "gradient_calls": history["gradient_calls"][-1],
        "steps": len(history["step"]),
        "run": str(out),
    }


def main(argv=None) -> dict:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--out", help="write the JSON result here")
    parser.add_argument("--ratio", type=float, default=1.01, help="target: this factor of iLQR's loss")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument(
        "--settings",
        default="default;curvature_fraction=0.25,max_group=8",
        help="';'-separated settings, each 'default' or comma-separated AHF options KEY=VALUE",
    )
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--max-calls", type=int, default=100_000, help="give up after this many calls")
    parser.add_argument("--targets", type=int, default=64)
    parser.add_argument("--runs", type=Path, default=Path("runs/bench-time-to-ilqr"))
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    settings = parse_settings(args.settings)
    for name, options in settings:
        warm_up(args, name, options)
    rows = [run_setting(args, seed, name, options) for seed in seeds for name, options in settings]
    print(f"\nAHF on center-out ({args.targets} reaches) to {args.ratio} x iLQR, {args.devices} device(s):")
    width = max(len(name) for name, _ in settings)
    header = ("reached", "calls", "seconds", "ms/call", "calls x", "time x")
    print(f"{'seed':>4} {'setting':<{width}} " + " ".join(f"{h:>9}" for h in header))
    for row in rows:
        first = next(r for r in rows if r["seed"] == row["seed"])
        row["calls_vs_first"] = row["calls"] / first["calls"]
        row["seconds_vs_first"] = row["seconds"] / first["seconds"]
        print(
            f"{row['seed']:>4} {row['setting']:<{width}} {str(row['reached']):>9} {row['calls']:>9} "
            f"{row['seconds']:>9.1f} {row['ms_per_call']:>9.2f} {row['calls_vs_first']:>9.3f} "
            f"{row['seconds_vs_first']:>9.3f}"
        )
    result = {
        "ratio": args.ratio,
        "targets": args.targets,
        "devices": args.devices,
        "max_calls": args.max_calls,
        "rows": rows,
        "machine": machine_info(),
    }
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
