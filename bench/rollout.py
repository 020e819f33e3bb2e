"""Closed-loop rollout throughput: DDN-style arm (T = 100, delay 7, noise, disturbance) driven by the
thesis's 2 x 100 controller.

    python bench/rollout.py --out rollout.json [--quick] [--motornet PYTHON] [--motornet-jax PYTHON]

Prints and writes ``env_steps_per_s`` ({"64": .., "1024": ..}: batch x T / median wall time of a
jitted forward rollout), ``train_step_s`` ({"64": ..}: the loss and its gradient as the optimizers
take them), ``gflops`` (controller FLOPs per second at each batch), ``matmul_gflops`` (large
float32 matmul, measured in the same run) and ``flop_fraction`` (batch-1024 rollout rate / peak).
With ``--motornet`` and ``--motornet-jax`` (a venv's Python each, see
``bench/peer_scripts/README.md``) MotorNet's and MotorNet-JAX's rollout and training step are
measured in the same run: ``peers.NAME`` and ``speedup_over_NAME``.
With more than one JAX device (on CPU: ``XLA_FLAGS=--xla_force_host_platform_device_count=N``)
``data_parallel`` repeats the figures with every batch sharded over all of them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402
from armctl.controllers import ArmController  # noqa: E402
from common import machine_info, matmul_peak_gflops, median_time, write_json  # noqa: E402

from armctl.arm_problem import arm_problem  # noqa: E402
from armctl.optim import parallel  # noqa: E402
from armctl.optim.base import value_and_grad_jit  # noqa: E402
from armctl.rollout import simulate  # noqa: E402
from armctl.tasks import DDN  # noqa: E402


def controller_flops_per_step(ctrl: ArmController) -> int:
    """Multiply-adds of one control step, times two (input 8, layers h1 and h2, 2 outputs)."""
    h1, h2 = ctrl.hidden
    macs = 8 * h1 + h1 * h1 + 8 * h2 + h1 * h2 + h2 * h2 + h2 * 2
    return 2 * macs


def measure(ctrl: ArmController, params, seed: int, repeats: int, devices: int | None) -> dict:
    """Forward rollouts at batch 64 and 1024 and a training step at batch 64; with ``devices``
    every batch is sharded over that many devices and the parameters replicated."""
    flops_step = controller_flops_per_step(ctrl)
    result = {"env_steps_per_s": {}, "gflops": {}, "train_step_s": {}}
    mesh = None if devices is None else parallel.batch_mesh(devices)
    on = (lambda b: b) if mesh is None else (lambda b: parallel.shard_batch(b, mesh))
    p = params if mesh is None else parallel.replicate(params, mesh)
    where = "" if mesh is None else f" ({devices} devices)"
    for batch_size in (64, 1024):
        task = DDN(horizon=100, batch_size=batch_size)
        batch = on(task.sample(jax.random.PRNGKey(seed + 1)))
        forward = jax.jit(lambda p, b, task=task: simulate(ctrl, p, task, b).states)
        t = median_time(lambda forward=forward, batch=batch: forward(p, batch), repeats=repeats)
        steps = batch_size * task.horizon
        result["env_steps_per_s"][str(batch_size)] = steps / t
        result["gflops"][str(batch_size)] = steps * flops_step / t / 1e9
        rate = f"{steps / t:12.0f} env-steps/s"
        print(f"batch {batch_size:5d}{where}: forward rollout {t * 1e3:8.2f} ms, {rate}")

    task = DDN(horizon=100, batch_size=64)
    batch = on(task.sample(jax.random.PRNGKey(seed + 2)))

    # The training path: the optimizers' value_and_grad of the arm problem (shard by shard when sharded).
    problem = arm_problem(ctrl, task)
    t = median_time(lambda: value_and_grad_jit(problem, p, batch), repeats=repeats)
    result["train_step_s"]["64"] = t
    print(f"train step (forward + backward), batch 64{where}: {t * 1e3:.2f} ms")
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", help="write the JSON result here")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    parser.add_argument("--seed", type=int, default=0)
    peers.add_arguments(parser, "motornet", "motornet_jax")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 9

    ctrl = ArmController()
    params = ctrl.init_params(jax.random.PRNGKey(args.seed))
    flops_step = controller_flops_per_step(ctrl)
    result = {"controller_flop_per_arm_step": flops_step}

    result.update(measure(ctrl, params, args.seed, repeats, devices=None))
    devices = len(jax.devices())
    if devices > 1:
        spread = measure(ctrl, params, args.seed, repeats, devices=devices)
        result["data_parallel"] = {"devices": devices, **spread}

    peak = matmul_peak_gflops()
    result["matmul_gflops"] = peak
    result["flop_fraction"] = result["gflops"]["1024"] / peak
    if devices > 1:
        result["data_parallel"]["flop_fraction"] = result["data_parallel"]["gflops"]["1024"] / peak
    print(f"matmul peak {peak:.1f} GFLOP/s; batch-1024 rollout reaches {result['flop_fraction']:.2%} of it")
    result["machine"] = machine_info()
    result["dtype"] = str(jnp.asarray(params["out"]["w"]).dtype)
    for name in ("motornet", "motornet_jax"):
        if getattr(args, name):
            peer = getattr(peers, name)(getattr(args, name), 3 if args.quick else 5)
            result.setdefault("peers", {})[name] = peer
            rates, peer_rates = result["env_steps_per_s"], peer["env_steps_per_s"]
            result[f"speedup_over_{name}"] = {
                **{f"rollout_{b}": rates[b] / peer_rates[b] for b in ("64", "1024")},
                "train_step_64": peer["train_step_s"]["64"] / result["train_step_s"]["64"],
            }
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
