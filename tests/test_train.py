"""The trainer end to end at toy scale: run directory, report, figures, resume, eval, bad input."""

import json

import numpy as np
import pytest

from armctl import checkpoint
from armctl.cli import main
from armctl.train import TrainConfig, evaluate, load_run, resume, train

TINY = dict(
    task="random-reach", hidden=(8, 8), task_options={"batch_size": 6, "horizon": 12}, checkpoint_every=1
)


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "straight"
    report = train(TrainConfig(optimizer="ahf", steps=4, seed=3, **TINY), run_dir, log=quiet)
    return run_dir, report


def test_run_directory_holds_report_figures_and_checkpoint(straight_run):
    run_dir, report = straight_run
    for name in ("config.json", "checkpoint.pkl", "history.json", "report.json"):
        assert (run_dir / name).is_file()
    for fig in report["figures"]:
        assert (run_dir / fig).stat().st_size > 1000
    saved = json.loads((run_dir / "report.json").read_text())
    assert saved["iterations"] == 4 and np.isfinite(saved["loss"])
    history = json.loads((run_dir / "history.json").read_text())
    # AHF only accepts steps that lower the objective on the training batch.
    assert all(n <= l for n, l in zip(history["new_loss"], history["loss"], strict=True))


def test_resume_reaches_the_same_numbers_as_an_uninterrupted_run(straight_run, tmp_path):
    run_dir, report = straight_run
    train(TrainConfig(optimizer="ahf", steps=2, seed=3, **TINY), tmp_path / "split", log=quiet)
    resumed = resume(tmp_path / "split", steps=4, log=quiet)
    _, _, params_a, hist_a = load_run(run_dir)
    _, _, params_b, hist_b = load_run(tmp_path / "split")
    np.testing.assert_allclose(hist_a["loss"], hist_b["loss"], rtol=1e-6)
    np.testing.assert_allclose(params_a["out"]["w"], params_b["out"]["w"], rtol=1e-5, atol=1e-7)
    assert resumed["loss"] == pytest.approx(report["loss"], rel=1e-5)


def test_eval_reloads_the_run(straight_run):
    run_dir, report = straight_run
    again = evaluate(run_dir, log=quiet)
    assert again["loss"] == pytest.approx(report["loss"], rel=1e-6)


def test_refuses_to_overwrite_a_run(straight_run):
    run_dir, _ = straight_run
    with pytest.raises(ValueError, match="already holds a run"):
        train(TrainConfig(steps=1, **TINY), run_dir, log=quiet)


def test_corrupt_checkpoint_raises_clear_error(straight_run, tmp_path):
    run_dir, _ = straight_run
    data = bytearray((run_dir / "checkpoint.pkl").read_bytes())
    data[-10] ^= 0xFF
    bad = tmp_path / "checkpoint.pkl"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt"):
        checkpoint.load(bad)
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="not an armctl checkpoint"):
        checkpoint.load(bad)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoint.load(tmp_path / "missing.pkl")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(task="juggling"), "unknown task 'juggling'"),
        (dict(optimizer="sgd-with-vibes"), "unknown optimizer 'sgd-with-vibes'"),
        (dict(steps=0), "steps must be a positive integer, got 0"),
        (dict(minutes=-1.0), "minutes must be a positive number"),
        (dict(batch_refresh=0), "batch_refresh must be a positive integer.*got 0"),
    ],
)
def test_bad_config_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_cli_train_then_eval(tmp_path, capsys):
    out = tmp_path / "cli-run"
    args = [
        "train",
        "random-reach",
        "--optimizer",
        "adam",
        "--steps",
        "3",
        "--hidden",
        "8",
        "8",
        "--task-option",
        "batch_size=4",
        "--task-option",
        "horizon=10",
        "--seed",
        "1",
        "--batch-refresh",
        "2",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert (out / "report.json").is_file()
    assert json.loads((out / "config.json").read_text())["batch_refresh"] == 2
    capsys.readouterr()
    assert main(["eval", str(out), "--gym", "--episodes", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    # The controller acting through Gymnasium reaches the JAX rollout's numbers on the same episodes.
    assert summary["gym"]["env"]["mean_cost"] == pytest.approx(
        summary["gym"]["jax_rollout"]["mean_cost"], rel=1e-4
    )
    assert main(["train", "random-reach", "--task-option", "colour=3", "--out", str(tmp_path / "x")]) == 2
    assert "unknown option(s) ['colour']" in capsys.readouterr().err
