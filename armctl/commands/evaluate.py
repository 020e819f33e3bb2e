"""``armctl eval RUN_DIR``: reload a trained controller and report its loss and metrics."""

from __future__ import annotations

import json
from pathlib import Path

from armctl.train import evaluate


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="reload a run and report loss, metrics and figures")
    p.add_argument("run_dir", type=Path)
    p.add_argument(
        "--gym",
        action="store_true",
        help="also run the controller as a policy in the Gymnasium env and report its metrics",
    )
    p.add_argument("--episodes", type=int, default=16, help="episodes for --gym")
    p.add_argument("--seed", type=int, default=0, help="seed for --gym episodes")
    p.set_defaults(func=run)


def run(args) -> int:
    summary = evaluate(args.run_dir)
    if args.gym:
        from envs.policy import run_run_dir_in_gym

        summary["gym"] = run_run_dir_in_gym(args.run_dir, n_episodes=args.episodes, seed=args.seed)
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0
