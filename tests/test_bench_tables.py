"""The benchmark tables' assembly: bench/vs_peers.py's rows from the scripts' results (made-up
figures: only the arithmetic and the layout are under test, the timings belong to bench/)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))


@pytest.fixture(scope="module")
def vs_peers():
    import os

    # vs_peers asks XLA for one device per core before JAX starts; this worker's JAX is not its to set.
    flags = os.environ.get("XLA_FLAGS")
    import vs_peers

    if flags is None:
        os.environ.pop("XLA_FLAGS", None)
    else:
        os.environ["XLA_FLAGS"] = flags
    return vs_peers


def results(with_peers: bool):
    ro = {"env_steps_per_s": {"64": 600.0, "1024": 900.0}, "train_step_s": {"64": 0.04}}
    ro.update(gflops={"64": 10.0, "1024": 20.0}, matmul_gflops=100.0)
    if with_peers:
        ro["peers"] = {
            "motornet": {"env_steps_per_s": {"64": 60.0, "1024": 300.0}, "train_step_s": {"64": 0.3}},
            "motornet_jax": {"env_steps_per_s": {"64": 300.0, "1024": 450.0}, "train_step_s": {"64": 0.08}},
        }
    gn = {"setting": {"hidden": 100, "T": 50, "batch": 1000}, "gv_s": 0.05, "grad_s": 0.04}
    gn.update(hf_iter_50cg_s=3.0, flop_fraction_gv=0.3)
    il = {"per_reach_s": 0.0015, "batch64_s": 0.02}
    return ro, gn, il


def test_each_rollout_peer_gets_its_rows_and_speedups(vs_peers):
    table = vs_peers.rows(*results(True))
    rollout = [r for r in table if r["what"].startswith("closed-loop rollout, batch 1024")]
    assert [(r["peer"], r["speedup"]) for r in rollout] == [("MotorNet 0.3.0", 3.0), ("MotorNet-JAX", 2.0)]
    train = [r for r in table if r["what"] == "training step, batch 64"]
    assert [(r["peer"], round(r["speedup"], 6)) for r in train] == [
        ("MotorNet 0.3.0", 7.5),
        ("MotorNet-JAX", 2.0),
    ]
    assert rollout[0]["share_of_matmul_peak"] == pytest.approx(0.2)
    assert "MotorNet-JAX" in vs_peers.markdown(table)


def test_without_peers_each_figure_is_one_row(vs_peers):
    table = vs_peers.rows(*results(False))
    rollout = [r for r in table if r["what"].startswith("closed-loop rollout")]
    assert len(rollout) == 2 and all(r["peer"] is None and r["speedup"] is None for r in rollout)
