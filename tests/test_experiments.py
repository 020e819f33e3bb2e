"""Small-scale versions of the experiment commands: they run end to end and write their figures."""

import json

import pytest

from armctl.cli import main


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ARMCTL_CACHE_DIR", str(tmp_path / "cache"))


def test_compare_writes_fig_6_2_table_and_paths(tmp_path):
    out = tmp_path / "cmp"
    args = [
        "compare",
        "center-out",
        "--optimizers",
        "ahf,lbfgs",
        "--steps",
        "2",
        "--seed",
        "0",
        "--task-option",
        "n_targets=3",
        "--task-option",
        "horizon=12",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["optimizers"]) == {"ahf", "lbfgs"}
    for r in results["optimizers"].values():
        # iLQR is optimal for the open-loop reach, so no controller beats it.
        assert r["ratio_to_ilqr"] >= 1.0 and r["calls"] > 0
    for fig in ("compare.png", "compare_time.png", "compare_paths.png"):
        assert (out / fig).stat().st_size > 1000


def test_robustness_evaluates_both_controllers_and_online_ilqr_on_the_same_episodes(tmp_path):
    out = tmp_path / "rob"
    args = [
        "robustness",
        "ddn",
        "--steps",
        "2",
        "--task-option",
        "batch_size=4",
        "--task-option",
        "horizon=12",
        "--task-option",
        "delay=3",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    summary = json.loads((out / "robustness.json").read_text())
    assert set(summary["results"]) == {"robust", "non-robust", "online iLQR"}
    assert summary["episodes"] == 4
    assert (out / "robustness_paths.png").stat().st_size > 1000
