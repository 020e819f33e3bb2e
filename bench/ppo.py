"""PPO on the functional envs (``armctl rl ppo``), one run per entry, into one JSON for RESULTS.

    python bench/ppo.py --out docs/bench/ppo_cpu.json \\
        --runs CenterOut-v1:mlp:1000000,DDN-v1:gru:3000000:normalize [--epochs 10 --minibatches 16]

Each entry ``ENV:POLICY:STEPS[:normalize]`` (``normalize``: ``--normalize-rewards``) trains a fresh
run in a scratch directory (seed ``--seed``) and records its report: the deterministic policy's
``final_hand_error_mm`` (mean over the fixed evaluation episodes), ``thesis_cost``, ``return``, the
``env_steps`` and the ``wall_s`` of the training loop (compilation included), and the first
``env_steps`` and ``wall_s`` at which the error was at most ``--target-mm``, if it got there.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, write_json  # noqa: E402

from armctl import provenance, runs, xla_cpu  # noqa: E402
from armctl.ppo import PPOConfig, train  # noqa: E402


def one(env: str, policy: str, steps: int, normalize_rewards: bool, args) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        config = PPOConfig(
            env_id=f"armctl/{env}",
            policy=policy,
            steps=steps,
            seed=args.seed,
            epochs=args.epochs,
            minibatches=args.minibatches,
            eval_every=args.eval_every,
            eval_episodes=args.episodes,
            normalize_rewards=normalize_rewards,
            out=str(Path(scratch) / "run"),
        )
        report = train(config, log=print)
        history = runs.read_history(config.run_dir())
    reached = [
        (s, w)
        for s, w, e in zip(
            history["env_steps"], history["wall_time"], history["eval_final_hand_error_mm"], strict=True
        )
        if e is not None and e <= args.target_mm
    ]
    return {
        "env_id": config.env_id,
        "policy": policy,
        "normalize_rewards": normalize_rewards,
        "steps": steps,
        **{
            k: report[k]
            for k in ("final_hand_error_mm", "final_hand_error_mm_median", "thesis_cost", "return")
        },
        "env_steps": report["env_steps"],
        "wall_s": report["wall_s"],
        "target_mm": args.target_mm,
        "reached_target_at_env_steps": reached[0][0] if reached else None,
        "reached_target_at_wall_s": reached[0][1] if reached else None,
        "config": config.to_json(),
    }


def run_entries(parser: argparse.ArgumentParser, text: str) -> list[tuple[str, str, int, bool]]:
    """``--runs`` as ``(env, policy, steps, normalize_rewards)`` per entry; a bad one is a usage error."""
    entries = []
    for entry in text.split(","):
        parts = entry.split(":")
        if not (len(parts) in (3, 4) and parts[2].isdigit() and parts[3:] in ([], ["normalize"])):
            parser.error(f"--runs entry {entry!r}: expected ENV:POLICY:STEPS or ENV:POLICY:STEPS:normalize")
        env, policy, steps = parts[:3]
        entries.append((env, policy, int(steps), parts[3:] == ["normalize"]))
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", default="CenterOut-v1:mlp:1000000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--minibatches", type=int, default=16)
    parser.add_argument("--eval-every", type=int, default=250_000)
    parser.add_argument("--target-mm", type=float, default=1.0)
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes")
    parser.add_argument("--out")
    args = parser.parse_args()
    xla_cpu.prefer_single_threaded_ops()
    rows = [one(*entry, args) for entry in run_entries(parser, args.runs)]
    write_json(args.out, {**provenance.stamp(), "machine": machine_info(), "runs": rows})


if __name__ == "__main__":
    main()
