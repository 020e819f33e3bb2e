"""armctl beside its peers, in one run: the table of issue #21.

    python bench/vs_peers.py --out vs_peers.json [--motornet PY] [--motornet-jax PY] \\
        [--hessianfree PY] [--trajax PY --trajax-src DIR] [--processes N] [--quick]

Runs ``bench/rollout.py`` (closed-loop rollout and training step; MotorNet), ``bench/gn_product.py``
(G v, gradient, HF iteration on the RNN-100 addition setting; hessianfree) and ``bench/ilqr.py``
(iLQR per center-out reach and 64 vmapped, float32; trajax) one after the other, each with its
peer (a peer without its ``--NAME PYTHON`` is left out: see ``bench/peer_scripts/README.md``).
With ``--processes N`` the G v, gradient and HF iteration are also measured over N processes,
one pinned per core (``gn_product.py --processes N``), with their own matmul peak. Prints a
markdown table: armctl's figure, the peer's, how many times faster armctl is, and the
share of the float32 matmul peak measured in the same run where FLOPs are counted. The JSON holds
the table (``rows``), the machine, the peak, each script's whole result and each peer's command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402

from armctl import xla_cpu  # noqa: E402

# One JAX CPU device per core this run may use, so that the data-parallel rows use them all (the
# one-device rows are unaffected); it has to be set before JAX starts.
xla_cpu.default_flag(f"--xla_force_host_platform_device_count={peers.threads()}")

import gn_product  # noqa: E402
import ilqr  # noqa: E402
import rollout  # noqa: E402
from common import machine_info, write_json  # noqa: E402


def _row(what, ours, unit, peer=None, theirs=None, rate=False, share=None, devices=1) -> dict:
    """One line of the table; ``speedup`` is how many times faster armctl is (rates: ours over
    theirs; times: theirs over ours)."""
    speedup = None if theirs is None else (ours / theirs if rate else theirs / ours)
    return {
        "what": what,
        "devices": devices,
        "armctl": ours,
        "unit": unit,
        "peer": peer if theirs is not None else None,
        "peer_figure": theirs,
        "speedup": speedup,
        "share_of_matmul_peak": share,
    }


def _figure(result: dict, peer: str, *keys):
    """``result['peers'][peer][keys...]``, or None when that peer was not run."""
    value = result.get("peers", {}).get(peer)
    for key in keys:
        value = None if value is None else value[key]
    return value


def rows(ro: dict, gn: dict, il: dict, gp: dict | None = None) -> list[dict]:
    """The comparison table from the results of bench/rollout.py, gn_product.py and ilqr.py: each
    figure on one device and, where the scripts measured it, data-parallel over all devices; with
    ``gp`` (a ``gn_product.py --processes N`` result) also over N pinned processes."""
    hessianfree = "hessianfree 0.4.0"
    rollout_peers = (("motornet", "MotorNet 0.3.0"), ("motornet_jax", "MotorNet-JAX"))
    size = gn["setting"]  # --quick measures a smaller RNN: the label says which
    setting = f"RNN {size['hidden']}, addition T = {size['T']}, batch {size['batch']}"
    table = []
    for r, n in ((ro, 1), (ro.get("data_parallel"), None)):
        if r is None:
            continue
        n = n or r["devices"]
        # One row per peer that ran (one row without a peer when none did).
        ran = [(key, label) for key, label in rollout_peers if _figure(ro, key) is not None] or [(None, None)]
        for key, label in ran:
            for b in ("64", "1024"):
                table.append(
                    _row(
                        f"closed-loop rollout, batch {b}",
                        r["env_steps_per_s"][b],
                        "env-steps/s",
                        label,
                        _figure(ro, key, "env_steps_per_s", b) if key else None,
                        rate=True,
                        share=r["gflops"][b] / ro["matmul_gflops"],
                        devices=n,
                    )
                )
            table.append(
                _row(
                    "training step, batch 64",
                    r["train_step_s"]["64"],
                    "s",
                    label,
                    _figure(ro, key, "train_step_s", "64") if key else None,
                    devices=n,
                )
            )
    spread = gn.get("data_parallel")
    multi = (gp or {}).get("multi_process")
    for r, n in (
        (gn, 1),
        (spread, spread and spread["devices"]),
        (multi, multi and f"{multi['processes']} processes"),
    ):
        if r is None:
            continue
        table += [
            _row(
                f"G v ({setting})",
                r["gv_s"],
                "s",
                hessianfree,
                _figure(gn, "hessianfree", "gv_s"),
                share=r["flop_fraction_gv"],
                devices=n,
            ),
            _row(
                f"gradient ({setting}; peer: forward + gradient)",
                r["grad_s"],
                "s",
                hessianfree,
                _figure(gn, "hessianfree", "forward_plus_gradient_s"),
                devices=n,
            ),
            _row(
                "HF iteration, 50 CG steps",
                r["hf_iter_50cg_s"],
                "s",
                hessianfree,
                _figure(gn, "hessianfree", "hf_iter_50cg_s"),
                devices=n,
            ),
        ]
    table.append(
        _row(
            "iLQR per reach (center-out, monkey arm, float32)",
            il["per_reach_s"],
            "s",
            "trajax",
            _figure(il, "trajax", "per_reach_s"),
        )
    )
    table.append(_row("iLQR, 64 reaches vmapped (float32)", il["batch64_s"], "s"))
    if "data_parallel" in il:
        spread = il["data_parallel"]
        table.append(
            _row("iLQR, 64 reaches vmapped (float32)", spread["batch64_s"], "s", devices=spread["devices"])
        )
    return table


def markdown(table: list[dict]) -> str:
    show = lambda x, unit="": "" if x is None else (f"{x:.4g} {unit}".strip())
    lines = [
        "| what | devices | armctl | peer | peer's figure | armctl faster by | share of matmul peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table:
        share = "" if r["share_of_matmul_peak"] is None else f"{r['share_of_matmul_peak']:.0%}"
        faster = "" if r["speedup"] is None else f"{r['speedup']:.2f}x"
        lines.append(
            f"| {r['what']} | {r['devices']} | {show(r['armctl'], r['unit'])} | {r['peer'] or ''} | "
            f"{show(r['peer_figure'], r['unit'])} | {faster} | {share} |"
        )
    return "\n".join(lines)


def main(argv=None) -> dict:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--out", help="write the JSON result here")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run; no hessianfree)")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="also measure G v, gradient and HF iteration over this many pinned processes (gn_product.py)",
    )
    peers.add_arguments(parser, "motornet", "motornet_jax", "hessianfree", "trajax")
    args = parser.parse_args(argv)
    quick = ["--quick"] if args.quick else []
    given = lambda name: [f"--{name.replace('_', '-')}", getattr(args, name)] if getattr(args, name) else []
    ro = rollout.main(quick + given("motornet") + given("motornet_jax"))
    gn = gn_product.main(quick + ([] if args.quick else given("hessianfree")))
    gp = gn_product.main(quick + ["--processes", str(args.processes)]) if args.processes > 1 else None
    il = ilqr.main(quick + given("trajax") + given("trajax_src"))
    table = rows(ro, gn, il, gp)
    print(markdown(table))
    result = {
        "machine": machine_info(),
        "peer_threads": peers.threads(),
        "matmul_gflops": {
            "rollout": ro["matmul_gflops"],
            "gn_product": gn["matmul_gflops"],
            **({"gn_product_processes": gp["matmul_gflops"]} if gp else {}),
        },
        "rows": table,
        "runs": {"rollout": ro, "gn_product": gn, "gn_product_processes": gp, "ilqr": il},
    }
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
