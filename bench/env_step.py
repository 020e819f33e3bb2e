"""Steps per second of the armctl Gymnasium envs (single and native vector) and of Reacher-v5.

    python bench/env_step.py --out results/env_step.json [--env-id armctl/DDN-v0] [--seconds 3] [--quick]

Every env is stepped with pre-drawn random actions, resets included (single envs reset
whenever an episode ends; the vector env autoresets), after a warm-up that compiles.
Reacher-v5 (MuJoCo) is measured in the same run with the same loop when it can be made here.
Numbers taken on a shared machine are unreliable: note the load average stored in the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import gymnasium as gym
import jax
import numpy as np

import armctl.gym_registration  # noqa: F401  (registers the env ids)


def single_steps_per_s(env: gym.Env, seconds: float, seed: int = 0) -> float:
    actions = np.random.default_rng(seed).uniform(-1, 1, (4096,) + env.action_space.shape).astype(np.float32)
    env.reset(seed=seed)
    for i in range(200):  # warm-up: compile, fill caches
        if any(env.step(actions[i])[2:4]):
            env.reset()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for i in range(256):
            _, _, terminated, truncated, _ = env.step(actions[i])
            if terminated or truncated:
                env.reset()
        steps += 256
    return steps / (time.perf_counter() - start)


def vector_steps_per_s(env_id: str, num_envs: int, seconds: float, seed: int = 0) -> float:
    venv = gym.make_vec(env_id, num_envs=num_envs)
    actions = np.random.default_rng(seed).uniform(-1, 1, (16, num_envs, 2)).astype(np.float32)
    venv.reset(seed=seed)
    for i in range(200):
        venv.step(actions[i % 16])
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for i in range(64):
            venv.step(actions[i % 16])
        calls += 64
    return calls * num_envs / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--env-id", default="armctl/DDN-v0")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per measurement")
    parser.add_argument("--quick", action="store_true", help="0.3 s per measurement (proves the script runs)")
    args = parser.parse_args(argv)
    seconds = 0.3 if args.quick else args.seconds
    if not seconds > 0:
        parser.error(f"--seconds must be > 0, got {seconds}")

    result = {
        "env_id": args.env_id,
        "seconds_per_measurement": seconds,
        "single_env_steps_per_s": single_steps_per_s(gym.make(args.env_id), seconds),
        "single_env_unwrapped_steps_per_s": single_steps_per_s(gym.make(args.env_id).unwrapped, seconds),
        "vector_env_steps_per_s": {str(n): vector_steps_per_s(args.env_id, n, seconds) for n in (64, 1024)},
    }
    try:
        result["reacher_v5_steps_per_s"] = single_steps_per_s(gym.make("Reacher-v5"), seconds)
    except Exception as err:  # MuJoCo envs need extras (e.g. imageio) that may be missing
        result["reacher_v5_steps_per_s"] = None
        result["reacher_v5_error"] = f"{type(err).__name__}: {err}"
    result["machine"] = {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_1min_at_end": os.getloadavg()[0],
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "gymnasium": gym.__version__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
