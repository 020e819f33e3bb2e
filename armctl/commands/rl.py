"""``armctl rl ppo ENV_ID``: PPO compiled end to end on the functional env, MLP or GRU policy.

    armctl rl ppo armctl/CenterOut-v1 --steps 1000000 --seed 0 --policy mlp --out runs/rl/co
    armctl rl ppo armctl/DDN-v1 --policy gru --steps 3000000
    armctl rl ppo --resume runs/rl/co --steps 2000000     # 2 million env steps in all
    armctl eval runs/rl/co                                  # evaluate it again

Writes a run directory (config, checkpoint, history with the evaluations, report.json with
``final_hand_error_mm``, ``thesis_cost``, ``return``, ``wall_s``, ``env_steps``, progress.png).
"""

from __future__ import annotations

import argparse

from armctl.commands import add_run_arguments, config_from


def register(subparsers) -> None:
    from armctl.ppo import PPOConfig

    parser = subparsers.add_parser(
        "rl",
        help="model-free RL on the JAX side (PPO)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="algorithm", required=True, metavar="ALGORITHM")
    ppo = sub.add_parser(
        "ppo",
        help="PPO, one jitted update per rollout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_arguments(ppo, PPOConfig)
    ppo.set_defaults(func=execute)


def execute(args) -> int:
    from armctl.ppo import PPOConfig, train

    train(config_from(args, PPOConfig), resume=args.resume is not None, force=args.force)
    return 0
