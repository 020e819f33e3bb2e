"""Run the peers' benchmark scripts (``bench/peer_scripts``) in their own venvs and read their figures.

Each function returns the peer's figures in armctl's units (seconds, env-steps per second) plus
the command that produced them, so that the JSON of a benchmark says how to re-run the
comparison. :func:`add_arguments` gives a benchmark the ``--motornet`` / ``--motornet-jax`` /
``--hessianfree`` / ``--trajax`` options naming each peer's Python; a peer without one is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
from pathlib import Path

from armctl import xla_cpu

SCRIPTS = Path(__file__).resolve().parent / "peer_scripts"


def threads() -> int:
    """Cores this process may run on: the peers get as many threads."""
    return xla_cpu.local_cores()


def run(python: str, args: list[str], env: dict | None = None) -> dict:
    """Run a peer script with ``python`` from :data:`SCRIPTS` and parse the JSON it prints last
    (a script may print one JSON line or one indented object)."""
    command = [python, *args]
    done = subprocess.run(
        command, cwd=SCRIPTS, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"peer benchmark {shlex.join(command)} failed with exit code {done.returncode}:\n"
            f"{done.stderr[-2000:]}"
        )
    # The scripts print one JSON line or one indented object: the last line opening with "{".
    out = done.stdout
    begin = out.rfind("\n{") + 1  # 0 when the JSON opens the output
    try:
        figures = json.loads(out[begin:])
    except ValueError:
        raise RuntimeError(f"peer benchmark {shlex.join(command)} printed no JSON:\n{out[-2000:]}") from None
    figures["command"] = " ".join(f"{k}={v}" for k, v in (env or {}).items()) + " " + shlex.join(command)
    return figures


def _motornet_like(python: str, script: str, package: str, repeats: int) -> dict:
    """Forward rollouts at batch 64 and 1024 and one training step at batch 64 of a MotorNet
    benchmark script (both MotorNets' scripts share the CLI and the keys)."""
    env = {"NT": str(threads())}
    bench = lambda batch, mode: run(python, [script, "reacher_relu", str(batch), str(repeats), mode], env)
    fwd = {b: bench(b, "fwd") for b in (64, 1024)}
    train = bench(64, "train")
    return {
        "package": package,
        "env_steps_per_s": {str(b): r["env_steps_per_s"] for b, r in fwd.items()},
        "train_step_s": {"64": train["median_s"]},
        "runs": {**{f"fwd_{b}": r for b, r in fwd.items()}, "train_64": train},
    }


def motornet(python: str, repeats: int = 5) -> dict:
    """MotorNet 0.3.0 (torch): the Reacher with ReLU muscles under a GRU-100 policy, T = 100."""
    package = "motornet 0.3.0 (torch), Reacher with ReLU muscles, GRU-100 policy, T = 100"
    return _motornet_like(python, "motornet_bench.py", package, repeats)


def motornet_jax(python: str, repeats: int = 5) -> dict:
    """MotorNet-JAX (the MotorJax branch of motornet-org/MotorNet): the same rollouts and training
    step from its own script (its header says where the JAX port must deviate)."""
    package = "motornet_jax (MotorJax branch), Reacher with ReLU muscles, GRU-100 policy, T = 100"
    return _motornet_like(python, "motornet_jax_bench.py", package, repeats)


def hessianfree(python: str, repeats: int = 8, hf_runs: int = 3) -> dict:
    """hessianfree 0.4.0 on the RNN-100 addition setting: G v, forward, gradient, HF iteration."""
    env = {"OPENBLAS_NUM_THREADS": str(threads())}
    products = run(python, ["gv_only.py", "1", "f32", "1e-2", str(repeats)], env)
    iteration = run(python, ["bench_hf.py", str(hf_runs), "f32", "1e-2"], env)
    return {
        "package": "hessianfree 0.4.0 (NumPy), RNN 2-100-1 tanh, addition T = 50, batch 1000, float32",
        "gv_s": products["Gv_median_s"],
        "forward_s": products["fwd_median_s"],
        # hessianfree's gradient reuses a cached forward pass: forward + gradient is armctl's gradient.
        "forward_plus_gradient_s": products["fwd_median_s"] + products["grad_median_s"],
        "hf_iter_50cg_s": iteration["hf_iter_fixed50_median_s"],
        "runs": {"products": products, "hf_iteration": iteration},
    }


def trajax(python: str, source: str, x64: bool = False) -> dict:
    """google/trajax iLQR on one center-out reach of the monkey arm (8 targets; median over them)."""
    args = ["trajax_bench.py", "--params", "monkey"] + (["--x64"] if x64 else [])
    # JAX like armctl's benchmarks: the same XLA_FLAGS (written out so the command shows them).
    env = {"PYTHONPATH": str(Path(source).resolve()), "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")}
    figures = run(python, args, env)
    return {
        "package": "google/trajax (source checkout), iLQR, 40 steps, monkey arm",
        "dtype": "float64" if x64 else "float32",
        "per_reach_s": statistics.median(t["median_ms"] for t in figures["per_target"]) / 1e3,
        "vmap8_s": figures["vmap8_median_ms"] / 1e3,
        "iterations": [t["iters"] for t in figures["per_target"]],
        "runs": {"trajax": figures},
    }


def add_arguments(parser: argparse.ArgumentParser, *names: str) -> None:
    """``--NAME PYTHON`` for each peer in ``names`` (and ``--trajax-src`` with trajax)."""
    for name in names:
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            metavar="PYTHON",
            help=f"Python of a venv with {name} (bench/peer_scripts/README.md)",
        )
    if "trajax" in names:
        parser.add_argument("--trajax-src", metavar="DIR", help="a google/trajax source checkout")
