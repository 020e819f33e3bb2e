"""Final hand error against the feedback delay: PPO (MLP and GRU) beside online iLQR (issue #38).

    python bench/ppo_delays.py --out docs/bench/ppo_delays_cpu.json --png docs/bench/ppo_delays.png \\
        [--env DDN-v1] [--delays 0,2,4,6,8,10,12,14] [--mlp-steps 1000000] [--gru-steps 3000000]

Each policy trains once per delay, all delays in one ``armctl rl ppo --delays`` run (one jitted
update vmapped over the env's delay), with normalized rewards, 10 epochs of 16 minibatches and
seed ``--seed``; its deterministic policy is scored on the run's evaluation episodes. Online iLQR
(:func:`armctl.baselines.online_ilqr`: re-planning every step from the delayed observation,
predicting the present with its model and its own past commands, without knowing the
disturbance) runs on the same episodes with the task's delay set to each value. iLQR's commands
are not held to the v1 torque limit that bounds the policies' actions.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from armctl.envs import functional  # noqa: E402
from common import machine_info, write_json  # noqa: E402

from armctl import provenance, xla_cpu  # noqa: E402
from armctl.ppo import PPOConfig, train  # noqa: E402


def ppo_rows(env_id: str, policy: str, steps: int, delays: tuple[int, ...], args) -> list[dict]:
    """One row per delay of a ``--delays`` PPO run."""
    with tempfile.TemporaryDirectory() as scratch:
        config = PPOConfig(
            env_id=env_id,
            policy=policy,
            steps=steps * len(delays),  # a run's budget counts every delay's env steps
            delays=delays,
            normalize_rewards=True,
            epochs=10,
            minibatches=16,
            eval_episodes=args.episodes,
            eval_every=steps * len(delays),
            seed=args.seed,
            out=str(Path(scratch) / "run"),
        )
        report = train(config, log=print)
    return [
        {
            "method": f"PPO {policy.upper()}",
            "delay": row["delay"],
            "final_hand_error_mm": row["final_hand_error_mm"],
            "thesis_cost": row["thesis_cost"],
            "env_steps": report["env_steps"] // len(delays),
            "wall_s": report["wall_s"],  # the whole run, every delay
        }
        for row in report["per_delay"]
    ]


def ilqr_rows(env_id: str, delays: tuple[int, ...], args) -> list[dict]:
    """Online iLQR (bench/rl.py's iLQR row) on the PPO runs' evaluation episodes, one task delay
    at a time."""
    from rl import ilqr_row, ppo_episodes

    task, batch = ppo_episodes(env_id, args.seed, args.episodes)
    rows = []
    for delay in delays:
        row = ilqr_row(dataclasses.replace(task, delay=delay), batch)
        rows.append(
            {
                "method": row["method"],
                "delay": delay,
                "final_hand_error_mm": row["final_error_mm"],
                "thesis_cost": row["cost"],
                "wall_s": row["seconds"],
            }
        )
        print(f"{row['method']}, delay {delay}: {row['final_error_mm']:.2f} mm")
    return rows


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method in dict.fromkeys(r["method"] for r in result["rows"]):
        rows = [r for r in result["rows"] if r["method"] == method]
        ax.plot([r["delay"] for r in rows], [r["final_hand_error_mm"] for r in rows], "o-", label=method)
    ax.axvline(result["task_delay"], color="0.7", ls=":", label=f"{result['env_id']}'s delay")
    ax.set_xlabel(f"feedback delay (steps of {1000 * result['dt']:.0f} ms)")
    ax.set_ylabel("final hand error (mm)")
    ax.set_yscale("log")
    ax.set_title(f"{result['env_id']}: error against delay")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", default="DDN-v1")
    parser.add_argument("--delays", default="0,2,4,6,8,10,12,14")
    parser.add_argument("--mlp-steps", type=int, default=1_000_000, help="env steps per delay")
    parser.add_argument("--gru-steps", type=int, default=3_000_000, help="env steps per delay")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--png", help="figure to write")
    args = parser.parse_args()
    xla_cpu.prefer_single_threaded_ops()
    env_id = f"armctl/{args.env}"
    delays = tuple(int(d) for d in args.delays.split(","))
    env, _ = functional.make(env_id)
    rows = ilqr_rows(env_id, delays, args)
    rows += ppo_rows(env_id, "mlp", args.mlp_steps, delays, args)
    rows += ppo_rows(env_id, "gru", args.gru_steps, delays, args)
    result = {
        **provenance.stamp(),
        "machine": machine_info(),
        "env_id": env_id,
        "task_delay": env.task.delay,
        "dt": float(env.task.arm.dt),
        "episodes": args.episodes,
        "seed": args.seed,
        "rows": rows,
    }
    write_json(args.out, result)
    if args.png:
        plot(result, Path(args.png))


if __name__ == "__main__":
    main()
