"""The RL table (issue #38, goal 5): every v1 task with `armctl rl ppo`'s MLP and GRU policies, the
AHF RNN and iLQR, all scored on the same evaluation episodes.

    python bench/rl_table.py --out docs/bench/rl_table_cpu.json \\
        --ahf-run center-out=DIR --ahf-run random-reach=DIR --ahf-run ddn=DIR --ahf-run postural=DIR \\
        [--runs CenterOut-v1:mlp:1000000,CenterOut-v1:gru:1000000:normalize,...] [--seed 0]

Each ``--runs`` entry ``ENV:POLICY:STEPS[:normalize]`` trains a fresh PPO run as ``bench/ppo.py``
does (10 epochs of 16 minibatches, seed ``--seed``) and reports its deterministic policy on the
run's evaluation episodes: the ``--episodes`` (20) episodes ``env.reset`` draws from
:func:`armctl.ppo.evaluation_keys`. The same episodes (``bench/rl.py``'s ``ppo_episodes``: their
:class:`~armctl.tasks.TaskBatch`, every noise draw included) are then played by

- ``zero``: the do-nothing policy, through the Gymnasium id;
- ``AHF RNN``: the RNN of an ``armctl train`` run directory (``--ahf-run TASK=DIR``, trained on the
  env's task), through :func:`armctl.rollout.simulate` (unclipped torques, as trained);
- ``iLQR``: per-episode iLQR, or online iLQR (re-planning from the delayed observation, not knowing
  the disturbance) on DDN and postural, whose disturbances are hidden.

PPO's numbers are the env's (the v1 step's final hand error and thesis cost parts, torques
clipped to the v1 limit); the others are :meth:`armctl.tasks.Task.metrics` of their trajectories
(``bench/rl.py``'s scoring).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, write_json  # noqa: E402
from ppo import one as ppo_run  # noqa: E402
from ppo import run_entries  # noqa: E402
from rl import ENV_NAMES, ahf_row, ahf_runs_of, ilqr_row, make_env, ppo_episodes, run_policy, zero_policy  # noqa: E402

from armctl import provenance, xla_cpu  # noqa: E402

DEFAULT_RUNS = ",".join(
    f"{env}-v1:{policy}:{steps}:normalize"
    for env in ("CenterOut", "RandomReach", "DDN", "Postural")
    for policy, steps in (("mlp", 1_000_000), ("gru", 3_000_000))
)
TASK_OF_ENV = {f"{env}-v1": task for task, env in ENV_NAMES.items()}


def scored(task: str, method: str, row: dict) -> dict:
    """A bench/rl.py row (``final_error_mm``, ``cost``) in this table's names."""
    return {
        "task": task,
        "method": method,
        "final_hand_error_mm": row["final_error_mm"],
        "thesis_cost": row["cost"],
        **{k: row[k] for k in ("env_steps", "seconds", "diverged", "run_dir") if k in row},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", default=DEFAULT_RUNS)
    parser.add_argument(
        "--ahf-run", action="append", default=[], metavar="TASK=DIR", help="an armctl train run to score"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--minibatches", type=int, default=16)
    parser.add_argument("--eval-every", type=int, default=500_000)
    parser.add_argument("--target-mm", type=float, default=1.0)
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()
    entries = run_entries(parser, args.runs)
    for env, *_ in entries:
        if env not in TASK_OF_ENV:
            parser.error(f"--runs entry with ENV {env!r}: expected ENV one of {sorted(TASK_OF_ENV)}")
    ahf_runs = ahf_runs_of(parser, args.ahf_run)
    xla_cpu.prefer_single_threaded_ops()
    rows = []
    result = {
        **provenance.stamp(),
        "machine": machine_info(),
        "seed": args.seed,
        "episodes": args.episodes,
        "rows": rows,
    }
    for env_id in dict.fromkeys(e[0] for e in entries):
        name = TASK_OF_ENV[env_id]
        task, batch = ppo_episodes(f"armctl/{env_id}", args.seed, args.episodes)
        zero = run_policy(zero_policy, make_env(name), batch)
        rows.append(scored(name, "zero action", zero))
        for _, policy, steps, normalize in (e for e in entries if e[0] == env_id):
            run = ppo_run(env_id, policy, steps, normalize, args)
            rows.append(
                {
                    "task": name,
                    "method": f"PPO {policy.upper()}",
                    "normalize_rewards": run["normalize_rewards"],
                    "final_hand_error_mm": run["final_hand_error_mm"],
                    "thesis_cost": run["thesis_cost"],
                    "env_steps": run["env_steps"],
                    "seconds": run["wall_s"],
                }
            )
        if name in ahf_runs:
            rows.append(scored(name, "AHF RNN", ahf_row(task, batch, ahf_runs[name])))
        row = ilqr_row(task, batch)
        rows.append(scored(name, row["method"], row))
        for r in (r for r in rows if r["task"] == name):
            print(f"{name:<13}{r['method']:<13}{r['final_hand_error_mm']:>10.2f} mm{r['thesis_cost']:>12.4g}")
        write_json(args.out, result)  # after each task: a killed run keeps the tasks done


if __name__ == "__main__":
    main()
