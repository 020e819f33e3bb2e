"""``armctl eval RUN_DIR``: reload any run (arm, pathological, language model) and recompute its report."""

from __future__ import annotations

import sys
from pathlib import Path

from armctl import checkpoint, runs
from armctl.commands import positive_integer


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="reload a run and report its loss, metrics and figures")
    p.add_argument("run_dir", type=Path)
    p.add_argument(
        "--gym",
        action="store_true",
        help="arm runs: also run the controller as a policy in the Gymnasium env, "
        "beside the JAX rollout of the same episodes",
    )
    p.add_argument(
        "--ablate",
        action="store_true",
        help="arm runs: also the evaluation loss with parts of the randomness off (the command "
        "noise of the last step, of the last delay + 1 steps, all of it; the disturbance; both)",
    )
    p.add_argument("--episodes", type=positive_integer, default=16, help="episodes for --gym")
    p.add_argument("--seed", type=int, default=0, help="seed for the --gym episodes")
    p.set_defaults(func=execute)


def execute(args) -> int:
    kind = runs.experiment_of(args.run_dir)
    for flag, given in (("--gym", args.gym), ("--ablate", args.ablate)):
        if given and kind != "arm":
            raise ValueError(f"{flag} needs an arm run; {args.run_dir} holds a {kind!r} run")
    # Progress to stderr, so stdout is the JSON summary alone.
    summary = runs.evaluate(args.run_dir, log=lambda line: print(line, file=sys.stderr))
    if args.gym:
        from armctl.loading import gym_metrics

        summary["gym"] = gym_metrics(args.run_dir, args.episodes, args.seed)
    if args.ablate:
        from armctl.robustness import ablation_losses

        summary["ablations"] = ablation_losses(args.run_dir)
    print(checkpoint.json_text(summary))
    return 0
