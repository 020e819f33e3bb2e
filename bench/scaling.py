"""Data-parallel throughput of the gradient and the Gauss-Newton product at 1, 2, 4 devices.

    python bench/scaling.py --out scaling.json [--devices 1,2,4] [--quick]

On a CPU machine each device count runs in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` (fake devices sharing the cores: expect
little gain on 2 cores); on a GPU machine it uses the real devices. The problem is the DDN arm
task (T = 60, 2 x 100 controller, batch 256, float32): the batch is sharded with
:mod:`armctl.optim.parallel` and the same jitted functions the optimizers call are timed.
JSON: ``devices`` -> {N: {``grad_env_steps_per_s``, ``gv_env_steps_per_s``, ``grad_s``, ``gv_s``}}.

``remat`` -> {``lm``|``arm``: {T: {block: bytes}}}: XLA's temporary memory for the gradient of an
mLSTM language model (101 symbols, batch 32) over T = 250 and 1000 characters, and of the 2 x 100
arm controller through the plant (random reaches, batch 32) over T = 250 and 1000 steps, without
(block 0) and with rematerialization in blocks of ~sqrt(T) steps (``remat_block``,
:func:`armctl.scan.remat_scan`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, median_time, write_json  # noqa: E402


def measure(devices: int, batch_size: int, repeats: int) -> dict:
    import jax
    from armctl.controllers import ArmController

    from armctl import optim
    from armctl.arm_problem import arm_problem
    from armctl.optim.base import value_and_grad_jit
    from armctl.tasks import DDN

    task, controller = DDN(batch_size=batch_size), ArmController()
    problem = arm_problem(controller, task)
    mesh = optim.parallel.batch_mesh(devices)
    params = optim.parallel.replicate(controller.init_params(jax.random.PRNGKey(0)), mesh)
    batch = optim.parallel.shard_batch(task.sample(jax.random.PRNGKey(1)), mesh)
    grad_s = median_time(lambda: value_and_grad_jit(problem, params, batch), repeats=repeats)
    gnp = optim.gauss_newton_product(problem, params, batch, damping=1e-3)
    gv_s = median_time(lambda: gnp(params), repeats=repeats)
    steps = batch_size * task.horizon
    return {
        "grad_s": grad_s,
        "gv_s": gv_s,
        "grad_env_steps_per_s": steps / grad_s,
        "gv_env_steps_per_s": steps / gv_s,
    }


def remat_memory(model: str, length: int, block: int) -> int:
    """Temporary bytes XLA allocates for one gradient (compiled, not run) of the mLSTM language
    model (``model='lm'``) or of the arm controller through the plant (``'arm'``) over ``length`` steps."""
    import jax
    import jax.numpy as jnp
    from armctl.controllers import ArmController

    from armctl.arm_problem import arm_problem
    from armctl.optim.base import objective
    from armctl.optim.losses import softmax_cross_entropy
    from armctl.sequence.char_models import make_model
    from armctl.tasks import RandomReach

    if model == "lm":
        lm = make_model("mlstm", 101)
        params = lm.init_params(jax.random.key(0))
        tokens = jnp.zeros((32, length), jnp.int32)

        def loss(p):
            logits, _ = lm.apply(p, tokens, block)
            return softmax_cross_entropy(logits, tokens)
    else:
        task, controller = RandomReach(horizon=length, batch_size=32), ArmController()
        problem, batch = arm_problem(controller, task, block), task.sample(jax.random.key(1))
        params = controller.init_params(jax.random.key(0))
        loss = lambda p: objective(problem, p, batch)

    compiled = jax.jit(jax.grad(loss)).lower(params).compile()
    return int(compiled.memory_analysis().temp_size_in_bytes)


def main(argv=None) -> dict:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--out", help="write the JSON result here")
    parser.add_argument("--devices", default="1,2,4")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7
    if args.child:
        print(json.dumps(measure(args.child, args.batch, repeats)))
        return {}
    result = {"devices": {}, "batch": args.batch, "machine": machine_info()}
    for n in (int(d) for d in args.devices.split(",")):
        env = dict(os.environ)
        if result["machine"]["backend"] == "cpu":
            env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={n}"
        cmd = [sys.executable, __file__, "--child", str(n), "--batch", str(args.batch)] + (
            ["--quick"] if args.quick else []
        )
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        result["devices"][str(n)] = json.loads(out.strip().splitlines()[-1])
        r = result["devices"][str(n)]
        print(
            f"{n} device(s): gradient {r['grad_s'] * 1e3:8.2f} ms "
            f"({r['grad_env_steps_per_s']:10.0f} env-steps/s), "
            f"G v {r['gv_s'] * 1e3:8.2f} ms ({r['gv_env_steps_per_s']:10.0f} env-steps/s)"
        )
    result["remat"] = {}
    for model, what in (("lm", "mLSTM LM gradient"), ("arm", "arm controller gradient")):
        result["remat"][model] = {}
        for length, block in ((250, 25), (1000, 40)):
            plain, remat = remat_memory(model, length, 0), remat_memory(model, length, block)
            result["remat"][model][str(length)] = {"0": plain, str(block): remat}
            print(
                f"{what}, T = {length}: {plain / 2**20:8.1f} MiB temporaries, "
                f"{remat / 2**20:8.1f} MiB with remat blocks of {block}"
            )
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
