"""Benchmark the Gauss-Newton product, the gradient and one HF iteration on the classic RNN setting.

Setting (Martens & Sutskever 2011): a tanh RNN with 100 units on the addition problem, T = 50,
2 input channels, 1 linear output read at the last step, squared error, batch 1000, float32
(random inputs of the right shape: the timing does not depend on the values).

Reports the median wall time (after compilation) of one gradient (``grad_s``), one ``G v``
(``gv_s``, the model linearized once beforehand) and one HF iteration with exactly 50 CG steps
(``hf_iter_50cg_s``: gradient, linearization, 50 products, backtracking and line search), and a
float32 matmul peak from an n x n matmul. FLOPs of ``G v`` are counted analytically (matmul
FLOPs only: per step the forward-mode pass does ``dW_in x``, ``dW_rec h`` and ``W_rec dh``, the
transposed pass ``W_rec^T g``, ``h^T g`` and ``x^T g``); XLA's ``cost_analysis`` figure is
reported alongside for reference (it counts the scan body once, i.e. about 1/T of the total).

    python bench/gn_product.py --out gn.json            # full setting
    python bench/gn_product.py --quick --out gn.json    # smoke run (small sizes)

``library_rnn`` times the same three on the model the pathological problems train
(:class:`armctl.sequence.rnn.SparseTanhRNN` on the addition problem: outputs at every step, masked loss,
taps; with and without structural damping). With ``--hessianfree`` (a venv's Python, see
``bench/peer_scripts/README.md``) the peer runs the same setting in the same run: ``peers`` and
``speedup_over_hessianfree`` (its gradient reuses a cached forward pass, so armctl's gradient is
compared with its forward + gradient).

With more than one JAX device (on CPU: ``XLA_FLAGS=--xla_force_host_platform_device_count=N``,
one per core) ``data_parallel`` repeats the gradient, G v and HF iteration with the batch sharded
over all of them (:mod:`armctl.optim.parallel`); the figures above stay on one device.

``--processes N`` measures the same three data-parallel over N processes instead, one per core,
each pinned to its core and holding one device, joined by ``jax.distributed`` on loopback
(:func:`common.run_processes`): ``multi_process``, with the matmul peak measured over the same
processes. On CPU this is the faster layout (see :func:`common.run_processes` for why); only the
multi-process figures are measured in such a run.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402
from common import (  # noqa: E402
    join_processes,
    machine_info,
    matmul_peak_gflops,
    median_time,
    run_processes,
    write_json,
    write_result,
)

from armctl.optim import Problem, gauss_newton_product, hf, losses, parallel  # noqa: E402
from armctl.optim.base import (
    objective_jit,  # noqa: E402
    value_and_grad_jit,  # noqa: E402
)
from armctl.optim.gn import _apply  # noqa: E402
from armctl.sequence import pathological  # noqa: E402
from armctl.sequence.pathological_experiment import make_problem, model_for  # noqa: E402


def rnn_problem(hidden: int) -> Problem:
    def outputs(params, batch):
        def body(h, x_t):
            a = x_t @ params["w_in"] + h @ params["w_rec"] + params["b"]
            return jnp.tanh(a), a

        h, taps = jax.lax.scan(body, jnp.zeros((batch["x"].shape[0], hidden)), jnp.swapaxes(batch["x"], 0, 1))
        return h @ params["w_out"] + params["b_out"], jnp.swapaxes(taps, 0, 1)

    return Problem(outputs, lambda out, batch: losses.squared_error(out, batch["y"]))


def init(key, hidden: int, n_in: int = 2):
    k = jax.random.split(key, 4)
    return {
        "w_in": jax.random.normal(k[0], (n_in, hidden)) / jnp.sqrt(n_in),
        "w_rec": jax.random.normal(k[1], (hidden, hidden)) / jnp.sqrt(hidden),
        "b": jnp.zeros(hidden),
        "w_out": jax.random.normal(k[2], (hidden, 1)) / jnp.sqrt(hidden),
        "b_out": jnp.zeros(1),
    }


def gv_flops(batch: int, steps: int, hidden: int, n_in: int) -> float:
    """Matmul FLOPs of one G v: 3 products forward-mode and 3 transposed per step (see module doc)."""
    per_step = 2 * batch * (2 * hidden * hidden + n_in * hidden) + 2 * batch * (
        2 * hidden * hidden + n_in * hidden
    )
    return float(steps * per_step)


def library_rnn(hidden: int, steps: int, batch_size: int, repeats: int) -> dict:
    """Objective, gradient and G v (without and with structural damping, mu = 0.3) of the
    pathological problems' own model on the addition problem, in seconds."""
    model = dataclasses.replace(model_for("addition", steps), n_hidden=hidden)
    problem = make_problem("addition", steps, model)
    params = model.init_params(jax.random.PRNGKey(0))
    batch = pathological.sample("addition", jax.random.PRNGKey(1), steps, batch_size)
    v = jax.tree_util.tree_map(jnp.ones_like, params)
    products = {
        f"gv_mu{mu}_s": gauss_newton_product(problem, params, batch, damping=1.0, structural=mu)
        for mu in (0.0, 0.3)
    }
    return {
        "model": f"armctl.sequence.rnn.SparseTanhRNN({model.n_in}, {hidden}, {model.n_out}), addition",
        "objective_s": median_time(lambda: objective_jit(problem, params, batch), repeats=repeats),
        "grad_s": median_time(lambda: value_and_grad_jit(problem, params, batch), repeats=repeats),
        **{name: median_time(lambda gnp=gnp: gnp(v), repeats=repeats) for name, gnp in products.items()},
    }


def measure(problem, params, batch, key, repeats: int) -> dict:
    """Seconds of one gradient, one G v and one HF iteration with exactly 50 CG steps (gradient,
    linearization, 50 products, backtracking and line search) of ``problem`` on ``batch``."""
    grad_s = median_time(lambda: value_and_grad_jit(problem, params, batch), repeats=repeats)
    gnp = gauss_newton_product(problem, params, batch, damping=1.0)
    v = jax.tree_util.tree_map(jnp.ones_like, params)
    gv_s = median_time(lambda: gnp(v), repeats=repeats)
    opt = hf(lambda_init=1e-3, max_cg=50, min_cg=50)  # small lam: CG does not converge early
    state = opt.init(params)
    cg_iters = []

    def hf_iteration():
        new_params, _, info = opt.step(problem, params, state, batch, key)
        cg_iters.append(info["cg_iters"])  # 50 unless CG converged exactly (tiny --quick problems)
        return new_params

    hf_s = median_time(hf_iteration, repeats=max(1, repeats // 2), warmup=1)
    return {"grad_s": grad_s, "gv_s": gv_s, "hf_iter_50cg_s": hf_s, "hf_cg_iters": cg_iters[-1]}


def versus_hessianfree(python: str, ours: dict) -> dict:
    """Run hessianfree (``python``: its venv's interpreter) and compare it with ``ours`` (the
    ``grad_s``, ``gv_s`` and ``hf_iter_50cg_s`` of :func:`measure`): ``peers`` and
    ``speedup_over_hessianfree``."""
    peer = peers.hessianfree(python)
    return {
        "peers": {"hessianfree": peer},
        "speedup_over_hessianfree": {
            "gv": peer["gv_s"] / ours["gv_s"],
            "gradient": peer["forward_plus_gradient_s"] / ours["grad_s"],
            "hf_iter_50cg": peer["hf_iter_50cg_s"] / ours["hf_iter_50cg_s"],
        },
    }


def launch_processes(processes: int, repeats: int, quick: bool, hessianfree, flops: float, out) -> dict:
    """Measure over ``processes`` pinned processes (:func:`common.run_processes`), then run
    hessianfree (when given) on its own; prints and writes the result."""
    child = ["--processes", str(processes), "--repeats", str(repeats)] + ["--quick"] * quick
    result = run_processes(__file__, child, processes)
    spread = result["multi_process"]
    result |= {"matmul_gflops": spread["matmul_gflops"], "gv_flops_analytic": flops}
    if hessianfree:
        result |= versus_hessianfree(hessianfree, spread)
    write_json(out, result)
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="JSON file to write")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--repeats", type=int, default=None, help="timed repetitions (median)")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="measure data-parallel over this many processes, one pinned per core (see the module doc)",
    )
    peers.add_arguments(parser, "hessianfree")
    args = parser.parse_args(argv)
    hidden, steps, batch_size, mm, repeats = (
        (100, 50, 1000, 2048, 7) if not args.quick else (32, 10, 100, 512, 3)
    )
    repeats = args.repeats or repeats
    setting = {"hidden": hidden, "T": steps, "batch": batch_size, "dtype": "float32", "quick": args.quick}
    if args.hessianfree and args.quick:
        parser.error("--hessianfree compares the full setting; leave out --quick")
    flops = gv_flops(batch_size, steps, hidden, 2)
    if args.processes > 1 and not join_processes():
        return launch_processes(args.processes, repeats, args.quick, args.hessianfree, flops, args.out)

    key = jax.random.PRNGKey(0)
    problem, params = rnn_problem(hidden), init(key, hidden)
    kx, ky = jax.random.split(jax.random.fold_in(key, 2))
    batch = {"x": jax.random.normal(kx, (batch_size, steps, 2)), "y": jax.random.normal(ky, (batch_size, 1))}
    if args.processes > 1:  # one of the pinned processes: the data-parallel figures only
        mesh = parallel.batch_mesh()
        sharded = parallel.shard_batch(batch, mesh)
        spread = measure(problem, parallel.replicate(params, mesh), sharded, key, repeats)
        peak = matmul_peak_gflops(mm, repeats=repeats)
        spread |= {"processes": jax.process_count(), "matmul_gflops": peak}
        spread["flop_fraction_gv"] = flops / spread["gv_s"] / 1e9 / peak
        write_result({**machine_info(), "setting": setting, "multi_process": spread})
        return spread

    matmul_gflops = matmul_peak_gflops(mm, repeats=repeats)
    one = measure(problem, params, batch, key, repeats)
    grad_s, gv_s, hf_s = one["grad_s"], one["gv_s"], one["hf_iter_50cg_s"]
    gnp = gauss_newton_product(problem, params, batch, damping=1.0)
    v = jax.tree_util.tree_map(jnp.ones_like, params)
    cost = _apply.lower(gnp, v).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    xla_flops = float(cost.get("flops", float("nan"))) if cost else float("nan")
    devices = len(jax.devices())
    if devices > 1:
        mesh = parallel.batch_mesh(devices)
        spread = measure(
            problem, parallel.replicate(params, mesh), parallel.shard_batch(batch, mesh), key, repeats
        )
        spread["devices"] = devices
        spread["flop_fraction_gv"] = flops / spread["gv_s"] / 1e9 / matmul_gflops
    library = library_rnn(hidden, steps, batch_size, repeats)

    result = {
        **machine_info(),
        "setting": setting,
        "matmul_n": mm,
        "matmul_gflops": matmul_gflops,
        "grad_s": grad_s,
        "gv_s": gv_s,
        "gv_flops_analytic": flops,
        "gv_flops_xla_cost_analysis": xla_flops,
        "gv_gflops": flops / gv_s / 1e9,
        "flop_fraction_gv": flops / gv_s / 1e9 / matmul_gflops,
        "hf_iter_50cg_s": hf_s,
        "hf_cg_iters": one["hf_cg_iters"],
        "flop_count": "analytic (matmul FLOPs only)",
        "library_rnn": library,
    }
    if devices > 1:
        result["data_parallel"] = spread
    if args.hessianfree:
        result |= versus_hessianfree(args.hessianfree, one)
    width = max(map(len, result))
    for name, value in result.items():
        shown = f"{value:.4g}" if isinstance(value, float) else value
        print(f"{name:<{width}}  {shown}")
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
