"""Speed of the armctl Gymnasium envs beside Gymnasium's Reacher-v5, in one run.

    python bench/env_step.py --out results/env_step.json [--env-id armctl/DDN-v0] [--seconds 3] [--quick]

Measures, prints as a table and writes as JSON:

* the single env's steps per second (``gym.make``, wrappers included, and unwrapped) and
  Reacher-v5's (MuJoCo) with the same loop, in alternating rounds so that both see the same
  machine load; the ratio is the single env's median over Reacher's median;
* the cold start: a fresh Python process imports Gymnasium and armctl, makes the env, resets
  it and takes the first step (timed inside the process, and the process's whole wall time);
* the native vector env's steps per second (arms x calls) at 64 and 1024 arms.

Rates are per second of wall time and, under ``cpu_time_rates``, per second of this process's
CPU time (all its threads), which a shared machine disturbs less.

Every env is stepped with pre-drawn random actions, resets included (single envs reset
whenever an episode ends; the vector env autoresets), after a warm-up. Numbers taken on a
shared machine are unreliable: the JSON keeps the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import armctl.gym_registration  # noqa: F401  (registers the env ids)

COLD_START = """
import time
start = time.perf_counter()
import gymnasium as gym
import armctl  # noqa: F401
env = gym.make({env_id!r})
env.reset(seed=0)
env.step(env.action_space.sample())
import sys
print(time.perf_counter() - start, "jax" in sys.modules)
"""


def single_steps_per_s(env: gym.Env, seconds: float, seed: int = 0) -> tuple[float, float]:
    """Steps per second of wall time and of this process's CPU time."""
    actions = np.random.default_rng(seed).uniform(-1, 1, (4096,) + env.action_space.shape).astype(np.float32)
    env.reset(seed=seed)
    for i in range(200):  # warm-up: fill caches
        if any(env.step(actions[i])[2:4]):
            env.reset()
    steps, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for i in range(256):
            _, _, terminated, truncated, _ = env.step(actions[i])
            if terminated or truncated:
                env.reset()
        steps += 256
    return steps / (time.perf_counter() - start), steps / (time.process_time() - cpu)


def vector_steps_per_s(env_id: str, num_envs: int, seconds: float, seed: int = 0) -> tuple[float, float]:
    """Arm-steps per second of wall time and of this process's CPU time (all its threads)."""
    venv = gym.make_vec(env_id, num_envs=num_envs)
    actions = np.random.default_rng(seed).uniform(-1, 1, (16, num_envs, 2)).astype(np.float32)
    venv.reset(seed=seed)
    for i in range(200):  # warm-up: compile
        venv.step(actions[i % 16])
    calls, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for i in range(64):
            venv.step(actions[i % 16])
        calls += 64
    return calls * num_envs / (time.perf_counter() - start), calls * num_envs / (time.process_time() - cpu)


def cold_start(env_id: str, repeats: int) -> dict:
    """Seconds a fresh process takes to import, make, reset and step (median of ``repeats``)."""
    inside, whole, jax_imported = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", COLD_START.format(env_id=env_id)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "JAX_PLATFORMS": "cpu"},
        )
        whole.append(time.perf_counter() - start)
        seconds, imported = done.stdout.split()
        inside.append(float(seconds))
        jax_imported.append(imported == "True")
    return {
        "import_make_reset_step_s": statistics.median(inside),
        "process_wall_s": statistics.median(whole),
        "imports_jax": any(jax_imported),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--env-id", default="armctl/DDN-v0")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating single-env/Reacher rounds")
    parser.add_argument("--quick", action="store_true", help="0.3 s per measurement (proves the script runs)")
    args = parser.parse_args(argv)
    seconds = 0.3 if args.quick else args.seconds
    if not seconds > 0:
        parser.error(f"--seconds must be > 0, got {seconds}")
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")

    try:
        reacher = gym.make("Reacher-v5")
        reacher_error = None
    except Exception as err:  # MuJoCo envs need extras (imageio: pip install -e '.[bench]')
        reacher, reacher_error = None, f"{type(err).__name__}: {err}"
    env, bare = gym.make(args.env_id), gym.make(args.env_id).unwrapped
    envs = {"single": env, "single_unwrapped": bare, "reacher_v5": reacher}
    rounds = {name: [] for name, measured in envs.items() if measured is not None}
    for _ in range(args.rounds):
        for name in rounds:
            rounds[name].append(single_steps_per_s(envs[name], seconds / args.rounds))
    wall = {name: statistics.median(rate for rate, _ in values) for name, values in rounds.items()}
    cpu = {name: statistics.median(rate for _, rate in values) for name, values in rounds.items()}
    vector = {str(n): vector_steps_per_s(args.env_id, n, seconds) for n in (64, 1024)}
    result = {
        "env_id": args.env_id,
        "seconds_per_measurement": seconds,
        "single_env_steps_per_s": wall["single"],
        "single_env_unwrapped_steps_per_s": wall["single_unwrapped"],
        "reacher_v5_steps_per_s": wall.get("reacher_v5"),
        "single_over_reacher": wall["single"] / wall["reacher_v5"] if "reacher_v5" in wall else None,
        # Per second of this process's CPU time: steadier than wall time on a shared machine.
        "cpu_time_rates": {
            "single_env_steps_per_s": cpu["single"],
            "reacher_v5_steps_per_s": cpu.get("reacher_v5"),
            "single_over_reacher": cpu["single"] / cpu["reacher_v5"] if "reacher_v5" in cpu else None,
            "vector_env_steps_per_s": {n: rate for n, (_, rate) in vector.items()},
        },
        "rounds_wall_and_cpu": rounds,
        "cold_start": cold_start(args.env_id, repeats=1 if args.quick else 3),
        "vector_env_steps_per_s": {n: rate for n, (rate, _) in vector.items()},
    }
    if reacher_error:
        result["reacher_v5_error"] = reacher_error
    import jax  # the vector env has loaded it by now

    result["machine"] = {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_1min_at_end": os.getloadavg()[0],
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "gymnasium": gym.__version__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    return result


def print_table(result: dict) -> None:
    rate = lambda value: "n/a" if value is None else f"{value:12,.0f}"
    ratio = lambda value: "n/a" if value is None else f"{value:.2f} x"
    cold, cpu = result["cold_start"], result["cpu_time_rates"]
    rows = [
        (f"{result['env_id']} single env (gym.make)", rate(result["single_env_steps_per_s"]) + " steps/s"),
        (
            f"{result['env_id']} single env (unwrapped)",
            rate(result["single_env_unwrapped_steps_per_s"]) + " steps/s",
        ),
        ("Reacher-v5 (same run)", rate(result["reacher_v5_steps_per_s"]) + " steps/s"),
        ("single env / Reacher-v5", ratio(result["single_over_reacher"])),
        ("the same per CPU second", ratio(cpu["single_over_reacher"])),
        (
            "cold start: import + make + reset + step",
            f"{cold['import_make_reset_step_s']:.2f} s (process {cold['process_wall_s']:.2f} s, "
            f"JAX imported: {cold['imports_jax']})",
        ),
    ]
    rows += [
        (
            f"vector env, {n} arms",
            rate(value) + f" steps/s ({cpu['vector_env_steps_per_s'][n]:,.0f} per CPU second)",
        )
        for n, value in result["vector_env_steps_per_s"].items()
    ]
    rows.append(("load average (1 min) at the end", f"{result['machine']['load_average_1min_at_end']:.2f}"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
