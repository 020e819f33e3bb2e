"""The AHF RNN in the figure of final hand error against feedback delay (issue #38, goal 3).

    python bench/ahf_delays.py --ahf-run 0=DIR --ahf-run 2=DIR ... \\
        [--ppo-delays docs/bench/ppo_delays_cpu.json] --out docs/bench/ahf_delays_cpu.json \\
        [--png docs/bench/ppo_delays.png]

Each ``--ahf-run DELAY=DIR`` is a run of ``armctl train ddn --task-option delay=DELAY`` (one RNN
per delay: the network cannot be vmapped over the plant as PPO's policies are). Its RNN is scored
as ``bench/rl.py`` scores the AHF RNN (through :func:`armctl.rollout.simulate`, torques
unclipped, as trained) on the evaluation episodes of ``bench/ppo_delays.py``'s JSON (its env,
seed and episodes), with the task's delay set to DELAY. ``--png`` redraws that script's figure
with the AHF RNN's rows beside PPO's and online iLQR's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, write_json  # noqa: E402
from ppo_delays import plot  # noqa: E402
from rl import ahf_row, ppo_episodes  # noqa: E402

from armctl import provenance, xla_cpu  # noqa: E402


def delay_runs(parser: argparse.ArgumentParser, specs: list[str]) -> dict[int, Path]:
    """The ``--ahf-run DELAY=DIR`` options as ``{delay: run dir}``; a bad one is a usage error."""
    runs = {}
    for spec in specs:
        delay, sep, run_dir = spec.partition("=")
        if not (sep and delay.isdigit() and Path(run_dir, "report.json").exists()):
            parser.error(f"--ahf-run must be DELAY=DIR with a finished armctl train run, got {spec!r}")
        runs[int(delay)] = Path(run_dir)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ahf-run", action="append", default=[], metavar="DELAY=DIR", required=True)
    parser.add_argument("--ppo-delays", default="docs/bench/ppo_delays_cpu.json")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--png", help="the figure to redraw with the AHF RNN's rows")
    args = parser.parse_args()
    runs = delay_runs(parser, args.ahf_run)
    xla_cpu.prefer_single_threaded_ops()
    ppo = json.loads(Path(args.ppo_delays).read_text())
    task, batch = ppo_episodes(ppo["env_id"], ppo["seed"], ppo["episodes"])
    rows = []
    for delay, run_dir in sorted(runs.items()):
        row = ahf_row(dataclasses.replace(task, delay=delay), batch, run_dir)
        rows.append(
            {
                "method": "AHF RNN",
                "delay": delay,
                "final_hand_error_mm": row["final_error_mm"],
                "thesis_cost": row["cost"],
                "env_steps": row["env_steps"],
                "wall_s": row["seconds"],
                "run_dir": str(run_dir),
            }
        )
        print(f"AHF RNN, delay {delay}: {row['final_error_mm']:.2f} mm")
    result = {
        **provenance.stamp(),
        "machine": machine_info(),
        "ppo_delays": args.ppo_delays,
        "env_id": ppo["env_id"],
        "seed": ppo["seed"],
        "episodes": ppo["episodes"],
        "rows": rows,
    }
    write_json(args.out, result)
    if args.png:
        plot({**ppo, "rows": ppo["rows"] + rows}, Path(args.png))


if __name__ == "__main__":
    main()
