"""The arm trainer and the run layer end to end at toy scale: run directory, report, figures,
resume (after a budget, after Ctrl-C), divergence, eval, and the command line's usage errors."""

import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from armctl import checkpoint, optim, runs
from armctl.arm_experiment import ArmConfig, train
from armctl.cli import main
from armctl.loading import evaluate
from armctl.tasks import RandomReach

TINY = dict(
    task="random-reach", hidden=(8, 8), task_options={"batch_size": 6, "horizon": 12}, checkpoint_every=1
)
TINY_ARGS = [
    "random-reach",
    "--hidden",
    "8",
    "8",
    "--task-option",
    "batch_size=4",
    "--task-option",
    "horizon=10",
]


KEY = jax.random.PRNGKey(0)


def quiet(*_):
    pass


def strict_json(path):
    """The file's JSON, refusing NaN and Infinity (which strict JSON does not have)."""

    def refuse(constant):
        raise AssertionError(f"{path} holds {constant}")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "straight"
    report = train(ArmConfig(optimizer="ahf", steps=4, seed=3, out=str(run_dir), **TINY), log=quiet)
    return run_dir, report


def test_run_directory_holds_report_figures_checkpoint_and_every_info_key(straight_run):
    run_dir, report = straight_run
    for name in runs.FILES:
        assert (run_dir / name).is_file()
    for fig in report["figures"]:
        assert (run_dir / fig).read_bytes()[:4] == b"\x89PNG"
    saved = strict_json(run_dir / "report.json")
    assert saved["iterations"] == 4 and np.isfinite(saved["loss"])
    assert strict_json(run_dir / "config.json")["experiment"] == "arm"
    history = strict_json(run_dir / "history.json")
    # AHF only accepts steps that lower the objective on the training batch.
    assert all(n <= l for n, l in zip(history["new_loss"], history["loss"], strict=True))
    # Every key AHF reports is kept, not only lambda and the CG iterations.
    assert {"lambda", "cg_iters", "rho", "cg_stop"} <= set(history)
    assert all(len(column) == 4 for column in history.values())


def test_resume_reaches_the_same_numbers_as_an_uninterrupted_run(straight_run, tmp_path):
    run_dir, report = straight_run
    config = ArmConfig(optimizer="ahf", steps=2, seed=3, out=str(tmp_path / "split"), **TINY)
    train(config, log=quiet)
    resumed = train(dataclasses.replace(config, steps=4), resume=True, log=quiet)
    _, _, params_a, hist_a, _ = runs.load_run(run_dir)
    _, _, params_b, hist_b, _ = runs.load_run(tmp_path / "split")
    assert hist_a["loss"] == hist_b["loss"] and hist_a["lambda"] == hist_b["lambda"]
    np.testing.assert_array_equal(params_a["out"]["w"], params_b["out"]["w"])
    assert resumed["loss"] == report["loss"]


def test_ctrl_c_checkpoints_the_last_step_and_the_resumed_run_matches(straight_run, tmp_path, monkeypatch):
    run_dir, report = straight_run
    sample, calls = RandomReach.sample, []

    def interrupted_at_step_3(self, key, batch_size=None):
        calls.append(key)
        if len(calls) == 4:  # the evaluation batch, steps 0 and 1, then step 2
            raise KeyboardInterrupt
        return sample(self, key, batch_size)

    out = tmp_path / "interrupted"
    config = ArmConfig(optimizer="ahf", steps=4, seed=3, out=str(out), **TINY)
    with monkeypatch.context() as patch:
        patch.setattr(RandomReach, "sample", interrupted_at_step_3)
        with pytest.raises(runs.Interrupted, match=f"2 steps are checkpointed.*armctl train --resume {out}"):
            train(config, log=quiet)
    assert len(runs.load(out, ArmConfig).history) == 2 and not (out / "report.json").exists()
    assert main(["train", "--resume", str(out)]) == 0
    _, _, params, history, _ = runs.load_run(out)
    assert history["loss"] == runs.load_run(run_dir).history["loss"]
    assert strict_json(out / "report.json")["loss"] == report["loss"]


def _checkpoint_steps(last_step: int, every: int, start: int = 0) -> list[int]:
    """The steps after which a run from ``start`` to ``last_step`` writes its checkpoint (the end aside)."""
    saved, last = [], start
    for step in range(start + 1, last_step + 1):
        if runs.checkpoint_due(step, last, every):
            saved.append(step)
            last = step
    return saved


def test_checkpoints_every_n_steps_and_in_a_long_run_every_hundredth_of_it():
    # Short runs: every checkpoint_every steps (1 % of 500 steps is 5).
    assert _checkpoint_steps(500, 5) == list(range(5, 501, 5))
    assert _checkpoint_steps(40, 1) == list(range(1, 41))
    # A long run: the gaps grow with the run, never past ~1 % of it, so a crash loses at most that.
    steps = _checkpoint_steps(50_000, 5)
    gaps = np.diff(steps)
    assert all(gap >= max(5, int(0.01 * s)) for gap, s in zip(gaps, steps[1:], strict=True))
    assert all(gap <= max(5, 0.01 * s) for gap, s in zip(gaps, steps[1:], strict=True))
    # Each write costs time in proportion to the history written: about 100 x the run's length in
    # all, against 50,000^2 / 10 at a fixed 5-step interval (what made long L-BFGS runs crawl).
    assert sum(steps) < 110 * 50_000
    # Resumed from one of its checkpoints, a run keeps the same schedule.
    resumed_at = max(s for s in steps if s <= 1_000)
    assert _checkpoint_steps(2_000, 5, start=resumed_at) == [s for s in steps if resumed_at < s <= 2_000]


def test_a_diverging_run_keeps_its_last_good_checkpoint_and_exits_nonzero(tmp_path, capsys):
    out = tmp_path / "diverged"
    args = ["train", *TINY_ARGS, "--optimizer", "gd", "--optimizer-option", "learning_rate=1e200"]
    assert main([*args, "--optimizer-option", "clip_norm=null", "--out", str(out)]) == 1
    assert "diverged at step 1" in capsys.readouterr().err
    saved = runs.load(out, ArmConfig)
    assert len(saved.history) == 0 and all(np.all(np.isfinite(w)) for w in saved.params["out"].values())
    strict_json(out / "history.json")
    assert not (out / "report.json").exists()


def test_until_ratio_stops_at_the_first_step_within_that_factor_of_ilqr(tmp_path):
    small = dict(task="center-out", hidden=(8, 8), task_options={"n_targets": 4, "horizon": 12})
    full = train(ArmConfig(steps=5, out=str(tmp_path / "full"), **small), log=quiet)
    ratios = [e / full["ilqr_loss"] for e in runs.read_history(tmp_path / "full")["eval_loss"]]
    target = ratios[2]
    first = next(i for i, r in enumerate(ratios) if r <= target)  # the run stops after this step
    train(ArmConfig(steps=5, out=str(tmp_path / "until"), **small), until_ratio=target, log=quiet)
    stopped = runs.read_history(tmp_path / "until")["eval_loss"]
    assert [e / full["ilqr_loss"] for e in stopped] == ratios[: first + 1]
    with pytest.raises(ValueError, match=r"until_ratio needs an iLQR reference; task 'random-reach'"):
        train(ArmConfig(steps=1, out=str(tmp_path / "rr"), **TINY), until_ratio=1.01, log=quiet)
    with pytest.raises(ValueError, match="until_ratio must be .*got 0.5"):
        train(ArmConfig(steps=1, out=str(tmp_path / "low"), **small), until_ratio=0.5, log=quiet)


def test_eval_reloads_the_run(straight_run):
    run_dir, report = straight_run
    again = evaluate(run_dir, log=quiet)
    assert again["loss"] == pytest.approx(report["loss"], rel=1e-12)


def test_refuses_to_overwrite_a_run_unless_forced(straight_run, tmp_path):
    run_dir, _ = straight_run
    with pytest.raises(ValueError, match="already holds a run.*--resume.*--force"):
        train(ArmConfig(steps=1, out=str(run_dir), **TINY), log=quiet)
    # A report and a history without a checkpoint are a run too.
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("report.json", "history.json"):
        (partial / name).write_text("{}")
    with pytest.raises(ValueError, match=r"already holds a run \(history.json, report.json\)"):
        train(ArmConfig(steps=1, out=str(partial), **TINY), log=quiet)
    report = train(ArmConfig(steps=1, out=str(partial), **TINY), force=True, log=quiet)
    assert report["iterations"] == 1


def test_resume_refuses_other_settings(straight_run):
    run_dir, _ = straight_run
    saved = runs.read_config(run_dir, ArmConfig)
    with pytest.raises(ValueError, match=r"other settings: seed=5 \(the run has 3\)"):
        train(dataclasses.replace(saved, seed=5), resume=True, log=quiet)


def test_corrupt_checkpoint_raises_clear_error(straight_run, tmp_path):
    run_dir, _ = straight_run
    data = bytearray((run_dir / "checkpoint.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "checkpoint.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt"):
        checkpoint.load(bad)
    bad.write_bytes((run_dir / "checkpoint.npz").read_bytes()[:-100])  # truncated
    with pytest.raises(ValueError, match="corrupt|not an armctl checkpoint"):
        checkpoint.load(bad)
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="not an armctl checkpoint"):
        checkpoint.load(bad)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoint.load(tmp_path / "missing.npz")


def _legacy_checkpoint(path, payload: bytes) -> None:
    """An armctl 0.1 checkpoint: a JSON header (format, version, checksum) and a pickle."""
    import hashlib

    header = {"format": "armctl-checkpoint", "version": 1, "sha256": hashlib.sha256(payload).hexdigest()}
    path.write_bytes(json.dumps({**header, "bytes": len(payload)}).encode() + b"\n" + payload)


class _RunsCode:
    """A pickle payload that runs code when read: it creates the file ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_crafted_checkpoint_runs_no_code(straight_run, tmp_path, capsys):
    import pickle
    import shutil

    run_dir, _ = straight_run
    marker = tmp_path / "ran"
    # The 0.1 format, with its checksum and length recomputed for the crafted payload.
    crafted = tmp_path / "crafted"
    shutil.copytree(run_dir, crafted)
    (crafted / "checkpoint.npz").unlink()
    _legacy_checkpoint(crafted / "checkpoint.pkl", pickle.dumps(_RunsCode(marker)))
    assert main(["eval", str(crafted)]) == 2
    assert "a pickle: reading a pickle can run code" in capsys.readouterr().err
    assert main(["train", "--resume", str(crafted), "--steps", "3"]) == 2
    assert main(["upgrade", str(crafted)]) == 2  # not without --trust-pickle
    assert "--trust-pickle" in capsys.readouterr().err and not marker.exists()
    # The data-only format: an object array in the archive is refused, not unpickled.
    with np.load(run_dir / "checkpoint.npz") as data:
        arrays = {k: data[k] for k in data.files}
    np.savez(crafted / "checkpoint.npz", **{**arrays, "a0": np.array([_RunsCode(marker)], dtype=object)})
    assert main(["eval", str(crafted)]) == 2
    assert "checkpoint" in capsys.readouterr().err and not marker.exists()
    # A tree naming a class outside armctl and optax is refused.
    tree = json.loads(arrays["__tree__"].tobytes())
    tree["tree"]["dict"]["state"] = {"namedtuple": "subprocess:CompletedProcess", "fields": {}}
    text = np.frombuffer(json.dumps(tree).encode(), np.uint8)
    np.savez(crafted / "checkpoint.npz", **{**arrays, "__tree__": text})
    with pytest.raises(
        ValueError, match="names the class 'subprocess:CompletedProcess', which is not armctl's"
    ):
        checkpoint.load(crafted / "checkpoint.npz")


def test_legacy_checkpoints_are_upgraded_only_when_trusted(straight_run, tmp_path, capsys):
    import pickle
    import shutil

    run_dir, _ = straight_run
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    (old / "checkpoint.npz").unlink()
    tree = checkpoint.load(run_dir / "checkpoint.npz")
    _legacy_checkpoint(old / "checkpoint.pkl", pickle.dumps(tree))
    assert main(["upgrade", str(old), "--trust-pickle"]) == 0
    assert (
        not (old / "checkpoint.pkl").exists()
        and "checkpoint.pkl -> checkpoint.npz" in capsys.readouterr().out
    )
    a, b = runs.load(run_dir, ArmConfig), runs.load(old, ArmConfig)
    assert a.history == b.history and a.config == b.config.resumed({"out": str(run_dir)})
    for x, y in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params), strict=True):
        np.testing.assert_array_equal(x, y)
    assert main(["upgrade", str(old), "--trust-pickle"]) == 2  # nothing left to convert
    assert "no armctl 0.1 checkpoint" in capsys.readouterr().err


def test_json_files_are_strict():
    text = checkpoint.json_text({"loss": float("nan"), "values": np.array([1.0, np.inf])})
    assert json.loads(text) == {"loss": None, "values": [1.0, None]}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(task="juggling"), "unknown task 'juggling'"),
        (dict(optimizer="sgd-with-vibes"), "unknown optimizer 'sgd-with-vibes'"),
        (dict(steps=0), "steps must be an integer >= 1 or None, got 0"),
        (dict(minutes=-1.0), "minutes must be a finite number > 0, got -1.0"),
        (dict(batch_refresh=0), "batch_refresh must be an integer >= 1, got 0"),
        (dict(task_options={"arm": "human"}), "task option 'arm' is a setting of its own: use --arm"),
        (dict(task_options={"center_posture": 1}), r"center_posture=1: expected a list of 2 numbers"),
        (dict(optimizer_options={"foo": 1}), r"unknown ahf option\(s\) \['foo'\]"),
        (dict(optimizer_options={"lambda_init": "abc"}), "lambda_init='abc': expected a number"),
        (dict(optimizer_options={"adapt_lambda": "maybe"}), "adapt_lambda='maybe': expected true or false"),
    ],
)
def test_bad_config_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ArmConfig(**kwargs)


def test_cli_train_then_eval(tmp_path, capsys):
    out = tmp_path / "cli-run"
    args = ["train", *TINY_ARGS, "--optimizer", "adam", "--steps", "3", "--seed", "1", "--batch-refresh", "2"]
    assert main([*args, "--out", str(out)]) == 0
    assert strict_json(out / "config.json")["batch_refresh"] == 2
    capsys.readouterr()
    assert main(["eval", str(out), "--gym", "--episodes", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    # The controller acting through Gymnasium reaches the JAX rollout's numbers on the same episodes.
    assert summary["gym"]["env"]["mean_cost"] == pytest.approx(
        summary["gym"]["jax_rollout"]["mean_cost"], rel=1e-4
    )
    # Resuming with another task, optimizer or seed is refused before any work.
    assert main(["train", "ddn", "--optimizer", "ahf", "--seed", "5", "--resume", str(out)]) == 2
    err = capsys.readouterr().err
    assert "seed=5 (the run has 1)" in err and "task='ddn'" in err and "optimizer='ahf'" in err


def _usage_errors(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    return [
        (["train", "--out", str(a_file)], "is a file, not a directory"),
        (["train", "--out", str(a_file / "below")], "is a file"),
        (["train", "--task-option", "colour=3"], "unknown random-reach task option(s) ['colour']"),
        (["train", "--task-option", "no-equals-sign"], "is not KEY=VALUE"),
        (["train", "--optimizer-option", "lambda_init=abc"], "lambda_init='abc'"),
        (["train", "--resume", str(tmp_path / "nothing-here")], "no run in"),
        (["train", "--until-ratio", "1.01"], "until_ratio needs an iLQR reference; task 'random-reach'"),
        (["train", "--until-ratio", "0.5"], "until_ratio must be a finite number"),
        (
            ["compare", "--optimizers", "ahf,sgd", "--out", str(tmp_path / "c")],
            "unknown optimizer(s) ['sgd']",
        ),
        (["ilqr", "center-out", "--out", str(a_file)], "is a file"),
        (["pathological", "addition", "--T", "fifty"], "--T: expected comma-separated int values"),
        (["pathological", "addition", "--T", "10,20"], "a single run takes one value of --T"),
        (
            ["pathological", "sweep", "--optimizer", "sgd", "--out", str(tmp_path / "s")],
            "unknown value(s) ['sgd']",
        ),
        (["lm", "train", "--optimizer-option", "foo=1"], "unknown hf option(s) ['foo']"),
    ]


def test_usage_errors_exit_2_with_one_line_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv, message in _usage_errors(tmp_path):
        if argv[0] == "train" and "--resume" not in argv:
            argv = [*argv, *TINY_ARGS]
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, (argv, err)
    assert not (tmp_path / "runs").exists()  # no command got as far as its default output directory


# ----- the driver's stop conditions ----------------------------------------------------------------
QUARTIC = optim.Problem(lambda params, batch: (params["x"], ()), lambda out, batch: jnp.sum(out**4))


def test_driver_stops_on_conditions_and_says_why():
    run = lambda **kw: optim.minimize(
        QUARTIC, optim.gd(0.01), {"x": jnp.ones(3)}, lambda key: None, KEY, **kw
    )
    result = run(steps=3)
    assert result.reason == "steps" and len(result.history) == 3
    result = run(stop=[optim.max_calls(2)])
    assert result.reason == "function_calls" and result.history["function_calls"] == [1, 2]
    low = optim.when(lambda status: status.history["loss"][-1] < 2.0, "low")
    result = run(stop=[low, optim.max_steps(100)])
    assert result.reason == "low" and result.history["loss"][-2] >= 2.0 > result.history["loss"][-1]
    # Budgets are totals: a run whose budget is spent does nothing more.
    again = run(steps=3, state=result.state, history=result.history)
    assert again.reason == "steps" and len(again.history) == len(result.history)


def test_driver_returns_the_last_parameters_whose_loss_was_finite():
    # x <- x - 1000 * 4 x^3 overflows float32 in three steps; the result keeps x before that.
    params, _, history = result = optim.minimize(
        QUARTIC, optim.gd(1e3), {"x": jnp.ones(3)}, lambda key: None, KEY, steps=50
    )
    assert result.reason == "diverged" and 0 < len(history) < 50
    assert np.isfinite(float(optim.objective(QUARTIC, params, None)))
    assert all(np.isfinite(history["loss"]))


def test_driver_keeps_the_last_completed_step_on_ctrl_c():
    def sample(key):
        if len(seen) == 2:
            raise KeyboardInterrupt
        seen.append(key)

    seen = []
    result = optim.minimize(QUARTIC, optim.gd(0.01), {"x": jnp.ones(3)}, sample, KEY, steps=5)
    assert result.reason == "interrupted" and len(result.history) == 2
    resumed = optim.minimize(
        QUARTIC,
        optim.gd(0.01),
        result.params,
        lambda key: None,
        KEY,
        steps=5,
        state=result.state,
        history=result.history,
    )
    straight = optim.minimize(QUARTIC, optim.gd(0.01), {"x": jnp.ones(3)}, lambda key: None, KEY, steps=5)
    assert resumed.history["loss"] == straight.history["loss"]


# --- concurrency and failed starts (#41) ------------------------------------------------------------


def test_a_second_process_writing_a_run_directory_is_refused_naming_the_holder(tmp_path, capsys):
    run_dir = tmp_path / "busy"
    lock = runs.RunLock.acquire(run_dir)  # another open file description: as another process
    try:
        assert main(["train", *TINY_ARGS, "--steps", "1", "--out", str(run_dir)]) == 2
        err = capsys.readouterr().err
        assert f"{run_dir} is in use: process {os.getpid()} on" in err and "has been writing it since" in err
        assert sorted(p.name for p in run_dir.iterdir()) == [runs.LOCK]  # nothing of the refused run
    finally:
        lock.release()
    assert main(["train", *TINY_ARGS, "--steps", "1", "--out", str(run_dir)]) == 0
    assert not (run_dir / runs.LOCK).exists() and (run_dir / "checkpoint.npz").is_file()


def test_a_stale_lock_from_a_killed_process_is_taken_over(tmp_path):
    import signal
    import subprocess
    import sys

    run_dir = tmp_path / "stale"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from armctl import runs; from pathlib import Path; "
            f"runs.RunLock.acquire(Path({str(run_dir)!r})); print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(runs.RunInUse, match=f"process {holder.pid} on"):
            runs.RunLock.acquire(run_dir)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert (run_dir / runs.LOCK).is_file()  # left behind, but no longer locked
        runs.RunLock.acquire(run_dir).release()
    finally:
        holder.kill()


def test_a_run_that_fails_to_start_leaves_nothing_behind(tmp_path, capsys):
    run_dir = tmp_path / "never"
    # More devices than JAX sees: refused once the run directory is locked, before any training.
    assert main(["train", *TINY_ARGS, "--steps", "1", "--devices", "64", "--out", str(run_dir)]) == 2
    assert "devices" in capsys.readouterr().err and not run_dir.exists()
    assert main(["train", *TINY_ARGS, "--steps", "1", "--out", str(run_dir)]) == 0  # not blocked
    # Into an existing directory: it stays, empty of the failed run's files.
    other = tmp_path / "existing"
    other.mkdir()
    assert main(["train", *TINY_ARGS, "--steps", "1", "--devices", "64", "--out", str(other)]) == 2
    assert list(other.iterdir()) == []


def test_a_checkpoint_of_another_run_is_refused_by_name(straight_run, tmp_path, capsys):
    import shutil

    run_dir, _ = straight_run
    moved = tmp_path / "moved"
    shutil.copytree(run_dir, moved)
    config = json.loads((moved / "config.json").read_text())
    (moved / "config.json").write_text(json.dumps({**config, "seed": 5, "task": "ddn"}))
    report = (moved / "report.json").read_text()
    assert main(["eval", str(moved)]) == 2
    err = capsys.readouterr().err
    assert "checkpoint.npz does not belong to the run in" in err and "seed=3 (config.json: 5)" in err
    assert (moved / "report.json").read_text() == report  # not rewritten
    assert main(["train", "--resume", str(moved), "--steps", "6"]) == 2


def test_a_full_disk_is_one_line_naming_the_file_and_the_checkpoint_survives(tmp_path, monkeypatch, capsys):
    import errno

    run_dir = tmp_path / "full"
    assert main(["train", *TINY_ARGS, "--steps", "2", "--checkpoint-every", "1", "--out", str(run_dir)]) == 0
    before = checkpoint.load(run_dir / "checkpoint.npz")
    write = checkpoint.atomic_write_bytes

    def full(path, data):
        if str(path).endswith(".npz"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return write(path, data)

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", full)
    assert main(["train", "--resume", str(run_dir), "--steps", "4"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{run_dir / 'checkpoint.npz'}: No space left on device" in err
    assert "last checkpoint is intact" in err
    monkeypatch.setattr(checkpoint, "atomic_write_bytes", write)
    after = checkpoint.load(run_dir / "checkpoint.npz")
    assert after["history"] == before["history"] and not list(run_dir.glob("*.tmp"))
    assert main(["train", "--resume", str(run_dir), "--steps", "4"]) == 0  # room again: it goes on
