"""Where the README's main job spends its time: one AHF step of center-out (quick preset) taken apart.

    python bench/ahf_profile.py --out ahf_profile.json [--targets 16] [--steps 20] [--seed 0]

Issue #39 asked whether the main job's ~4-5 ms per function call is dispatch and host round trips
(CG's and the line search's scalars read back every iteration) or arithmetic. This measures, on
the quick preset's problem (float64, the thesis network, ``--targets`` reaches of 40 steps):

* each jitted piece of an AHF step on its own (median of repeats, after compiling): the objective
  at shifted parameters (one line-search evaluation), the gradient, the linearization, one damped
  Gauss-Newton product (structural damping on, as HF's; AHF's is the same product without the
  taps), the same product through the parameters instead of the pre-activations (the problem
  without its ``Factored`` view: the weights' part inside the scans), one CG iteration with its
  five scalars read back, and the floor of any call: a trivial jitted function of the parameters
  with its scalar read back;
* ``--steps`` AHF steps from a half-trained start (the first 60 steps, untimed), timed whole, with
  the products and evaluations they made, and what the pieces' medians account for;
* the operations XLA runs per time step inside the compiled scans (``while`` bodies) of the
  objective, the gradient and the product: a CPU thunk per fusion, dot and copy, each paying a
  fixed cost however small its arrays;
* the objective and the product at 4x the reaches: time per reach falls when the fixed cost
  per operation, not arithmetic, dominates;
* with ``--kernels N``, the N kernels that take most of a product's and of an objective
  evaluation's time, from XLA's own per-kernel timings (``--xla_cpu_enable_xprof_traceme``
  under ``jax.profiler.trace``; tracing slows each kernel a little, so compare shares, not these
  times with the medians).

One process, the armctl command's XLA setting (one thread per operation), one core.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jax  # noqa: E402
import optax  # noqa: E402
from common import machine_info, median_time, write_json  # noqa: E402

from armctl import provenance  # noqa: E402
from armctl.arm_experiment import ArmConfig, build, cast, keys  # noqa: E402
from armctl.optim.base import _value_and_grad, objective_at, objective_jit, value_and_grad_jit  # noqa: E402
from armctl.optim.cg import cg_step, zero_start  # noqa: E402
from armctl.optim.gn import _apply, gauss_newton_product  # noqa: E402

#: Operations a CPU thunk runs for (each is one kernel call in the compiled ``while`` body).
KERNELS = ("fusion", "dot", "copy", "custom-call", "dynamic-update-slice", "dynamic-slice")


def scan_ops(compiled_text: str) -> list[dict]:
    """Per ``while`` body of a compiled HLO module: how many kernel-running operations it has."""
    bodies = {m.group(1) for m in re.finditer(r"while\(.*?body=%?([\w.\-]+)", compiled_text)}
    counts = []
    for block in re.split(r"\n(?=\S)", compiled_text):
        name = block.split(" ", 1)[0].lstrip("%")
        if name in bodies:
            kinds = collections.Counter(re.findall(r"= \S+ ([\w\-]+)\(", block))
            counts.append({k: kinds[k] for k in KERNELS if kinds[k]})
    return counts


def pieces(setup, params, batch, repeats: int) -> dict:
    """Median seconds of each jitted piece of an AHF step."""
    problem = setup.problem
    f0, grad = value_and_grad_jit(problem, params, batch)
    gnp = gauss_newton_product(problem, params, batch, damping=1e-4, structural=0.03)
    unfactored = gauss_newton_product(
        problem._replace(factored=None), params, batch, damping=1e-4, structural=0.03
    )
    state = zero_start(None, optax.tree.scale(-1.0, grad))
    trivial = jax.jit(lambda p: optax.tree.vdot(p, p))
    t = lambda fn: median_time(fn, repeats=repeats, warmup=2)
    return {
        "objective_at_s": t(lambda: objective_at(problem, params, grad, 1e-3, batch)),
        "gradient_s": t(lambda: value_and_grad_jit(problem, params, batch)),
        "linearize_s": t(lambda: gauss_newton_product(problem, params, batch, damping=1e-4).out),
        "product_s": t(lambda: gnp(grad)),
        "product_through_parameters_s": t(lambda: unfactored(grad)),
        "cg_iteration_with_scalars_s": t(
            lambda: [float(x) for x in cg_step(gnp, None, state.r, None, state)[1]]
        ),
        "call_floor_s": t(lambda: float(trivial(params))),
    }


def kernel_profile(fn, compiled_text: str, calls: int, top: int) -> list[dict]:
    """The ``top`` kernels by time in ``calls`` calls of ``fn`` (compiled already), per call, each
    with the shape it makes (from ``fn``'s compiled HLO text)."""
    from jax.profiler import ProfileData

    with tempfile.TemporaryDirectory() as folder:
        with jax.profiler.trace(folder):
            for _ in range(calls):
                jax.block_until_ready(fn())
        (path,) = Path(folder).rglob("*.xplane.pb")
        data = ProfileData.from_file(str(path))
    seconds, counts = collections.Counter(), collections.Counter()
    for plane in data.planes:
        for line in plane.lines:
            if line.name == "python":
                continue
            for event in line.events:
                if event.name.startswith(("ThunkExecutor", "end: ")):
                    continue  # the executor's own span holds all the others
                seconds[event.name] += event.duration_ns * 1e-9
                counts[event.name] += 1

    def makes(name: str) -> str:
        found = re.search(rf"%?{re.escape(name)} = (\S+) ", compiled_text)
        return found.group(1) if found else ""

    return [
        {
            "kernel": name,
            "makes": makes(name),
            "us_per_call": 1e6 * s / calls,
            "runs_per_call": counts[name] / calls,
        }
        for name, s in seconds.most_common(top)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", help="write the JSON result here")
    parser.add_argument("--targets", type=int, default=16, help="center-out reaches (the quick preset's 16)")
    parser.add_argument("--steps", type=int, default=20, help="AHF steps timed whole")
    parser.add_argument("--repeats", type=int, default=21, help="repeats per piece (median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--kernels", type=int, default=0, help="also list the N slowest kernels of a product and an objective"
    )
    args = parser.parse_args()
    if args.kernels:  # before the first computation starts XLA's CPU backend
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_cpu_enable_xprof_traceme=true"

    def setup_for(targets: int):
        config = ArmConfig(
            task="center-out", optimizer="ahf", seed=args.seed, task_options={"n_targets": targets}
        )
        return config, build(config)

    config, setup = setup_for(args.targets)
    with config.scope():
        params = cast(setup.controller.init_params(keys(args.seed)["init"]), config)
        key = keys(args.seed)["data"]
        batch = cast(setup.task.sample(key), config)
        state = setup.optimizer.init(params)
        for _ in range(60):  # untimed: away from the first steps' large, easy moves
            params, state, info = setup.optimizer.step(setup.problem, params, state, batch)
        at_start = pieces(setup, params, batch, args.repeats)

        calls0, t0 = state.counters, time.perf_counter()
        cg_iters = 0
        for _ in range(args.steps):
            params, state, info = setup.optimizer.step(setup.problem, params, state, batch)
            cg_iters += info["cg_iters"]
        jax.block_until_ready(params)
        wall = time.perf_counter() - t0
        evals = state.counters.objective - calls0.objective
        products = state.counters.gv - calls0.gv
        grads = state.counters.gradient - calls0.gradient
        # every step's linearization is counted as an objective evaluation too
        accounted = (
            products * at_start["product_s"]
            + (evals - grads) * at_start["objective_at_s"]
            + grads * (at_start["gradient_s"] + at_start["linearize_s"])
        )
        # CG iterations and line-search evaluations each read scalars back once: the floor of a call
        round_trips = (cg_iters + evals - grads) * at_start["call_floor_s"]
        steps = {
            "steps": args.steps,
            "wall_s": wall,
            "function_calls": state.counters.function_calls - calls0.function_calls,
            "products": products,
            "objective_evaluations": evals,
            "cg_iterations": cg_iters,
            "seconds_per_call": wall / (state.counters.function_calls - calls0.function_calls),
            "pieces_account_for_s": accounted,
            "host_round_trips_s_at_most": round_trips,
            "products_share": products * at_start["product_s"] / wall,
        }

        problem = setup.problem
        gnp = gauss_newton_product(problem, params, batch, damping=1e-4, structural=0.03)
        unfactored = gauss_newton_product(
            problem._replace(factored=None), params, batch, damping=1e-4, structural=0.03
        )
        grad = value_and_grad_jit(problem, params, batch)[1]
        text = lambda jitted, *a: jitted.lower(*a).compile().as_text()
        texts = {  # each compiled once, for the kernel counts and the kernel profile
            "objective": text(objective_jit, problem, params, batch),
            "gradient": text(_value_and_grad, problem, params, batch),
            "product": text(_apply, gnp, grad),
            "product_through_parameters": text(_apply, unfactored, grad),
        }
        ops = {name: scan_ops(compiled) for name, compiled in texts.items()}
        kernels = {}
        if args.kernels:
            shifted_objective = lambda: objective_at(problem, params, grad, 1e-3, batch)
            kernels = {
                "product": kernel_profile(lambda: gnp(grad), texts["product"], 10, args.kernels),
                "product_through_parameters": kernel_profile(
                    lambda: unfactored(grad), texts["product_through_parameters"], 10, args.kernels
                ),
                "objective": kernel_profile(shifted_objective, texts["objective"], 20, args.kernels),
            }

    wide_config, wide = setup_for(4 * args.targets)
    with wide_config.scope():
        wide_params = cast(wide.controller.init_params(keys(args.seed)["init"]), wide_config)
        wide_batch = cast(wide.task.sample(key), wide_config)
        wide_pieces = pieces(wide, wide_params, wide_batch, args.repeats)
    per_reach = {
        name: {
            f"{args.targets}_reaches": at_start[name] / args.targets,
            f"{4 * args.targets}_reaches": wide_pieces[name] / (4 * args.targets),
        }
        for name in ("objective_at_s", "product_s", "product_through_parameters_s")
    }
    result = {
        "what": "AHF step of center-out (quick preset, float64) taken apart",
        "targets": args.targets,
        "horizon": setup.task.horizon,
        "pieces": at_start,
        "steps": steps,
        "kernels_per_time_step": ops,
        "seconds_per_reach": per_reach,
        **({"slowest_kernels": kernels} if kernels else {}),
        "machine": machine_info(),
        **provenance.stamp(),
    }
    write_json(args.out, result)


if __name__ == "__main__":
    main()
