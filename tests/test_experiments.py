"""Small-scale versions of the experiment commands: they run end to end and write their figures."""

import json
import math

import jax
import numpy as np
import pytest

from armctl.cli import main
from armctl.compare import center_out_probe, loss_near_calls
from armctl.compare_seeds import band, seed_table
from armctl.plant import forward_kinematics
from armctl.report import evaluation_losses
from armctl.tasks import make_task


def is_png(path) -> bool:
    return path.read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ARMCTL_CACHE_DIR", str(tmp_path / "cache"))


def test_compare_writes_fig_6_2_table_and_paths(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = [
        "compare",
        "center-out",
        "--optimizers",
        "ahf,lbfgs",
        "--steps",
        "2",
        "--hidden",
        "6",
        "6",
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
        assert is_png(out / fig)
    # Equal calls: the smaller of the two final counts, each optimizer's loss averaged near it.
    assert results["common_calls"] == min(r["calls"] for r in results["optimizers"].values())
    for name, r in results["optimizers"].items():
        history = json.loads((out / name / "history.json").read_text())
        losses = evaluation_losses(history)
        calls = history["function_calls"]
        if calls[0] > results["common_calls"]:
            # Its first iteration already cost more than the other optimizer's whole run.
            assert r["loss_at_common_calls"] is None
        else:
            expected = loss_near_calls(calls, losses, results["common_calls"])
            assert r["loss_at_common_calls"] == pytest.approx(expected)
    assert any(r["loss_at_common_calls"] is not None for r in results["optimizers"].values())
    # Its sub-runs are runs: another seed into the same directory is refused before any work.
    capsys.readouterr()
    seed = args.index("--seed") + 1
    assert main([*args[:seed], "1", *args[seed + 1 :]]) == 2
    assert "seed=1 (the run has 0)" in capsys.readouterr().err


def test_a_diverging_seed_is_counted_not_fatal(tmp_path):
    """compare --seeds records a run that diverges (a failure to count) and summarizes the rest."""
    from armctl.arm_experiment import ArmConfig
    from armctl.compare_seeds import compare_seeds, format_seed_table

    base = ArmConfig(
        task="center-out",
        steps=2,
        hidden=(6, 6),
        task_options={"n_targets": 3, "horizon": 12},
    )
    diverging = {"gd": {"optimizer_options": {"learning_rate": 1e200, "clip_norm": None}}}  # at step 1
    summary = compare_seeds(
        base, ["gd", "lbfgs"], [0], tmp_path / "seeds", overrides=diverging, log=lambda *a: None
    )
    assert summary["diverged"] == {"gd": ["0"], "lbfgs": []}
    assert set(summary["runs"]["gd"]) == set() and set(summary["runs"]["lbfgs"]) == {"0"}
    assert summary["ilqr_loss"] > 0  # the reference comes from a run that finished
    assert json.loads((tmp_path / "seeds" / "seeds.json").read_text())["diverged"]["gd"] == ["0"]
    assert "gd: no run finished, diverged: seeds 0" in format_seed_table(summary)


def test_compare_over_seeds_writes_bands_and_the_seed_table(tmp_path, capsys):
    out = tmp_path / "seeds"
    args = [
        "compare", "center-out", "--optimizers", "lbfgs", "--seeds", "0,1", "--steps", "2",
        "--hidden", "6", "6", "--task-option", "n_targets=3", "--task-option", "horizon=12",
        "--out", str(out),
    ]  # fmt: skip
    assert main([*args, "--at-calls", "5,1000000"]) == 0
    summary = json.loads((out / "seeds.json").read_text())
    assert is_png(out / "compare_seeds.png")
    assert summary["seeds"] == [0, 1] and summary["window"] == 0.0  # center-out is deterministic
    reference = summary["ilqr_loss"]
    for name in ("lbfgs",):
        for seed in (0, 1):
            history = json.loads((out / f"{name}-s{seed}" / "history.json").read_text())
            calls, losses = history["function_calls"], evaluation_losses(history)
            # The loss at 5 calls is the last one reached at or before 5 calls.
            expected = [loss for c, loss in zip(calls, losses, strict=True) if c <= 5]
            got = summary["table"]["5"][name]["per_seed"][str(seed)]
            assert got == (pytest.approx(expected[-1]) if expected else None)
        cell = summary["table"]["1000000"][name]
        assert cell["loss"] == {"reached": 0, "runs": 2}  # no run used a million calls
        # iLQR is optimal for these open-loop reaches: no run gets within 1.01 after 2 steps.
        assert cell["within_1.01"] == 0 and reference > 0
    table = capsys.readouterr().out
    assert "at 5 calls" in table and "lbfgs" in table and "at equal wall time" in table
    # One optimizer: the equal-time budget is each run's own end.
    for seed in (0, 1):
        walls = json.loads((out / f"lbfgs-s{seed}" / "history.json").read_text())["wall_time"]
        assert summary["at_equal_wall"]["seconds"][str(seed)] == walls[-1]
    # Reused, not retrained: the sub-runs are done, and the same command prints the same table.
    assert main([*args, "--at-calls", "5,1000000"]) == 0
    assert json.loads((out / "seeds.json").read_text())["table"] == summary["table"]
    # --seed and --seeds together, or --at-calls without --seeds, are refused by name.
    assert main([*args, "--seed", "3"]) == 2
    assert "--seed 3 and --seeds [0, 1]" in capsys.readouterr().err
    assert main(["compare", "--at-calls", "5"]) == 2
    assert "give --seeds too" in capsys.readouterr().err


def test_seed_table_counts_runs_near_ilqr_and_ratios_to_the_first_optimizer():
    histories = {
        "ahf": {0: ([10, 20], [2.0, 1.005]), 1: ([10, 20], [3.0, 1.2]), 2: ([10], [1.5])},
        "hf": {0: ([10, 20], [4.0, 2.01]), 1: ([10, 20], [1.5, 1.0005]), 2: ([10, 20], [3.0, 1.5])},
    }
    table = seed_table(histories, [20], reference=1.0, window=0.0)["20"]
    assert table["ahf"]["loss"] == {"reached": 2, "runs": 3, "median": 1.1025, "best": 1.005, "worst": 1.2}
    assert table["ahf"]["within_1.01"] == 1 and table["ahf"]["within_1.001"] == 0
    assert table["hf"]["within_1.01"] == 1 and table["hf"]["within_1.001"] == 1
    # Per seed hf / ahf where both reached 20 calls: 2.01 / 1.005 and 1.0005 / 1.2.
    over = table["hf"]["over_ahf"]
    assert (
        over["reached"] == 2
        and over["worst"] == pytest.approx(2.0)
        and over["best"] == pytest.approx(1.0005 / 1.2)
    )


def test_band_summarizes_step_curves_up_to_the_shortest():
    calls, median, low, high = band([([1, 10, 100], [3.0, 2.0, 1.0]), ([1, 50], [5.0, 0.5])], points=50)
    assert calls[-1] == 50 and calls[0] == 1  # the shorter curve ends at 50 calls
    at_20 = np.searchsorted(calls, 20)
    assert (low[at_20], high[at_20]) == (2.0, 5.0)  # 2.0 after 10 calls; 5.0 until 50 calls
    assert median[-1] == pytest.approx((2.0 + 0.5) / 2)


def test_loss_near_calls_averages_the_last_tenth_of_the_calls():
    calls = [10, 50, 85, 92, 100, 140]
    losses = [9.0, 5.0, 4.0, 2.0, 3.0, 1.0]
    # Iterations with 90 <= calls <= 100: 2.0 and 3.0.
    assert loss_near_calls(calls, losses, 100) == pytest.approx(2.5)
    # No iteration in [63, 70]: the last loss at or before 70 calls.
    assert loss_near_calls(calls, losses, 70) == 5.0
    assert loss_near_calls(calls, losses, 140, window=0.0) == 1.0
    with pytest.raises(ValueError, match="at most 5"):
        loss_near_calls(calls, losses, 5)
    with pytest.raises(ValueError, match="window"):
        loss_near_calls(calls, losses, 100, window=1.0)
    with pytest.raises(ValueError, match="same length"):
        loss_near_calls(calls, losses[:-1], 100)


def test_robustness_evaluates_both_controllers_and_online_ilqr_on_the_same_episodes(tmp_path, capsys):
    out = tmp_path / "rob"
    args = [
        "robustness",
        "ddn",
        "--steps",
        "2",
        "--hidden",
        "6",
        "6",
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
    for row in summary["results"].values():
        assert 1 <= row["median_correction_steps"] <= 12  # from the onset to the horizon
        assert row["mean_peak_deviation_mm"] > 0  # every episode is pushed
    assert is_png(out / "robustness_paths.png")
    # `armctl eval --ablate`: the robust controller's loss with parts of the randomness off.
    capsys.readouterr()
    assert main(["eval", str(out / "robust"), "--ablate"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    ablated = evaluated["ablations"]
    assert set(ablated) == {
        "as_trained",
        "no_noise_last_step",
        "no_unseen_noise",
        "no_command_noise",
        "no_disturbance",
        "neither",
    }
    assert ablated["as_trained"] == pytest.approx(evaluated["loss"], rel=1e-9)
    assert all(math.isfinite(v) and v > 0 for v in ablated.values())


def test_ablations_switch_off_only_the_named_randomness():
    """The command noise of the last step changes only the last state; the last ``delay + 1``
    steps' noise only the states from there on; the disturbance variants keep the noise."""
    from armctl.controllers.table import CommandTable

    from armctl.robustness import ablations
    from armctl.rollout import simulate

    task = make_task("ddn", batch_size=3, horizon=20, delay=4, disturbance_std=0.02)
    batch = task.sample(jax.random.PRNGKey(4))
    variants = ablations(task, batch)
    noise = np.asarray(batch.command_noise)
    assert np.all(noise != 0) and np.any(np.asarray(batch.joint_disturbance) != 0)
    for name, kept in (("no_noise_last_step", 19), ("no_unseen_noise", 15), ("no_command_noise", 0)):
        quiet = np.asarray(variants[name].command_noise)
        np.testing.assert_array_equal(quiet[:, :kept], noise[:, :kept])
        assert not np.any(quiet[:, kept:]), name
    np.testing.assert_array_equal(variants["no_disturbance"].command_noise, noise)
    assert not np.any(variants["no_disturbance"].joint_disturbance)
    assert not np.any(variants["neither"].command_noise) and not np.any(variants["neither"].joint_disturbance)
    # A constant command makes the multiplicative noise act: the states part where it is cut.
    table = CommandTable(task.horizon)
    push = table.init_params() + 0.05
    states = {name: np.asarray(simulate(table, push, task, b).states) for name, b in variants.items()}
    for name, first in (("no_noise_last_step", 20), ("no_unseen_noise", 16)):
        np.testing.assert_array_equal(states[name][:, :first], states["as_trained"][:, :first])
        assert np.all(np.any(states[name][:, first] != states["as_trained"][:, first], axis=-1)), name


def test_correction_steps_count_from_the_onset_to_the_largest_deviation():
    """A deviation that rises until 5 steps after the onset and falls back peaks there; an arm
    that nobody steers, pushed by a constant torque, deviates more at every step (the peak is
    the horizon); shapes that do not match are refused."""
    from armctl.controllers.table import CommandTable

    from armctl.robustness import correction_steps, without_push
    from armctl.rollout import simulate

    task = make_task("ddn", batch_size=3, horizon=20, disturbance_std=0.02)
    calm = np.tile(np.array([0.7, 1.5, 0.0, 0.0]), (3, 21, 1))
    bump = np.concatenate([np.zeros(8), np.linspace(0, 0.05, 6)[1:], np.linspace(0.04, 0.01, 8)])
    pushed = calm.copy()
    pushed[:, :, 1] += bump  # elbow deviation: onset at step 7, largest at state 12
    steps, peak_mm = correction_steps(task.arm, pushed, calm, np.array([7, 7, 7]))
    np.testing.assert_array_equal(steps, [5, 5, 5])
    assert np.all(peak_mm > 0)

    batch = task.sample(jax.random.PRNGKey(3))
    still = without_push(batch)
    table = CommandTable(task.horizon)
    zeros = table.init_params()
    noisy, quiet = (simulate(table, zeros, task, b).states for b in (batch, still))
    steps, _ = correction_steps(task.arm, noisy, quiet, batch.onset)
    np.testing.assert_array_equal(steps, task.horizon - np.asarray(batch.onset))
    with pytest.raises(ValueError, match="one shape"):
        correction_steps(task.arm, noisy, quiet[:, :-1], batch.onset)


@pytest.mark.parametrize(
    "task, options, task_figure",
    [
        ("postural", ["horizon=12", "delay=3"], "postural_joints.png"),
        ("ddn", ["batch_size=4", "horizon=12", "delay=3"], None),
    ],
)
def test_train_command_runs_each_thesis_task_and_resumes_from_the_cli(tmp_path, task, options, task_figure):
    out = tmp_path / task
    args = ["train", task, "--steps", "1", "--hidden", "6", "6", "--seed", "2", "--out", str(out)]
    for option in options:
        args += ["--task-option", option]
    assert main(args) == 0
    assert main(["train", "--resume", str(out), "--steps", "2"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["task"] == task and report["iterations"] == 2
    assert report["ilqr_loss"] is None  # iLQR's reference is defined for center-out only
    figures = {"hand_paths.png", "profiles.png", "loss.png"} | ({task_figure} if task_figure else set())
    assert set(report["figures"]) == figures
    for fig in figures:
        assert is_png(out / fig)
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 2 and all(map(math.isfinite, history["loss"]))


def test_compare_on_ddn_shows_the_controllers_on_center_out_reaches(tmp_path):
    out = tmp_path / "cmp-ddn"
    args = ["compare", "ddn", "--optimizers", "ahf,lbfgs", "--steps", "2", "--hidden", "6", "6"]
    args += ["--task-option", "batch_size=4", "--task-option", "horizon=12", "--task-option", "delay=3"]
    assert main(args + ["--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    for name in ("ahf", "lbfgs"):
        probe = results["optimizers"][name]["center_out"]
        assert math.isfinite(probe["loss"]) and probe["final_error_mm"] > 0
        # iLQR's open-loop reaches are optimal there; no controller beats them.
        assert probe["ratio_to_ilqr"] == pytest.approx(probe["loss"] / results["center_out_ilqr_loss"])
        assert probe["ratio_to_ilqr"] >= 1.0
    for fig in ("compare.png", "compare_paths.png", "compare_center_out.png"):
        assert is_png(out / fig)


def test_compare_gives_each_optimizer_its_own_batch_refresh_and_budget_as_the_thesis_did(tmp_path, capsys):
    """``--batch-refresh lbfgs=3 --steps adam=2,lbfgs=4``: L-BFGS's sub-run keeps each batch for 3
    steps and trains as ``armctl train --batch-refresh 3 --steps 4`` does; Adam's keeps a fresh
    batch every step and stops at 2 steps; the seed table compares them at each run's own end.
    Settings for an optimizer that is not compared, or a malformed value, are refused by name."""
    tiny = ["--hidden", "6", "6", "--task-option", "batch_size=4", "--task-option", "horizon=12"]
    tiny += ["--task-option", "delay=3"]
    out = tmp_path / "seeds"
    args = ["compare", "ddn", "--optimizers", "adam,lbfgs", "--seeds", "0", "--out", str(out), *tiny]
    args += ["--steps", "adam=2,lbfgs=4"]
    assert main([*args, "--batch-refresh", "lbfgs=3"]) == 0
    printed = capsys.readouterr().out
    assert "at each run's own end" in printed and "each batch kept 3 steps" in printed
    summary = json.loads((out / "seeds.json").read_text())
    assert summary["batch_refresh"] == {"adam": 1, "lbfgs": 3}
    histories = {}
    for name, kept, steps in (("adam", 1, 2), ("lbfgs", 3, 4)):
        run = out / f"{name}-s0"
        config = json.loads((run / "config.json").read_text())
        assert (config["batch_refresh"], config["steps"]) == (kept, steps)
        histories[name] = json.loads((run / "history.json").read_text())
        assert len(histories[name]["loss"]) == steps
    alone = tmp_path / "alone"
    train = ["train", "ddn", "--optimizer", "lbfgs", "--batch-refresh", "3", "--steps", "4", *tiny]
    assert main([*train, "--out", str(alone)]) == 0
    trained = json.loads((alone / "history.json").read_text())
    assert histories["lbfgs"]["loss"] == trained["loss"]
    assert histories["lbfgs"]["function_calls"] == trained["function_calls"]
    # At each run's own end: its last call count, its loss there, L-BFGS's over Adam's.
    ends = summary["at_own_end"]
    for name in ("adam", "lbfgs"):
        assert ends[name]["calls"]["0"] == histories[name]["function_calls"][-1]
    ratio = ends["lbfgs"]["per_seed"]["0"] / ends["adam"]["per_seed"]["0"]
    assert ends["lbfgs"]["over_adam"]["median"] == pytest.approx(ratio)
    # The same sub-runs with L-BFGS's batch refreshed every step are other settings: refused.
    capsys.readouterr()
    assert main(args) == 2
    assert "batch_refresh" in capsys.readouterr().err
    assert main([*args, "--batch-refresh", "hf=25"]) == 2
    assert "['hf'], which are not among the optimizers ['adam', 'lbfgs']" in capsys.readouterr().err
    for bad in ("lbfgs=0", "lbfgs", "lbfgs=25,=3"):
        with pytest.raises(SystemExit) as exit_:
            main([*args, "--batch-refresh", bad])
        assert exit_.value.code == 2 and "--batch-refresh" in capsys.readouterr().err
    # Under the thesis preset nobody types the thesis's DDN protocol: L-BFGS keeps its batch for 25.
    thesis = tmp_path / "thesis"
    assert main([*args, "--preset", "thesis", "--out", str(thesis)]) == 0
    assert json.loads((thesis / "seeds.json").read_text())["batch_refresh"] == {"adam": 1, "lbfgs": 25}


def test_per_optimizer_values_split_from_the_values_for_every_optimizer():
    from armctl.commands import positive_integer
    from armctl.commands.compare import per_optimizer, split_per_optimizer
    from armctl.compare import check_overrides

    parse = per_optimizer(positive_integer)
    assert parse("25") == 25 and parse("lbfgs=25, ahf=2") == {"lbfgs": 25, "ahf": 2}
    given = {"seed": 1, "minutes": 30.0, "function_calls": {"ahf": 100000, "lbfgs": 25000}}
    given["batch_refresh"] = {"lbfgs": 25}
    common, overrides = split_per_optimizer(given)
    assert common == {"seed": 1, "minutes": 30.0}
    # An optimizer's own budget replaces the preset's default steps; --minutes still holds for it.
    assert overrides == {
        "ahf": {"function_calls": 100000, "steps": None, "minutes": 30.0},
        "lbfgs": {"function_calls": 25000, "steps": None, "minutes": 30.0, "batch_refresh": 25},
    }
    assert check_overrides(None, ["ahf"]) == {}
    # A comparison sets each sub-run's optimizer, seed and directory itself.
    with pytest.raises(ValueError, match=r"lbfgs: \['seed'\] are set by the comparison"):
        check_overrides({"lbfgs": {"seed": 3, "batch_refresh": 25}}, ["ahf", "lbfgs"])


def test_thesis_presets_give_the_thesis_budgets_and_batch_refresh_where_it_states_them():
    """Thesis 6.7.2-6.7.3: postural AHF 75k calls, L-BFGS 15k; DDN AHF 100k, L-BFGS 25k with its
    batch refreshed every 25 updates. A typed budget or batch refresh wins; ``quick``, other
    optimizers and center-out keep the preset's steps and a fresh batch every step."""
    from armctl.arm_experiment import ArmConfig
    from armctl.commands.compare import preset_overrides

    def protocol(**fields):
        c = ArmConfig(**fields)
        return c.steps, c.function_calls, c.batch_refresh

    for preset in ("thesis", "thesis-scale"):
        assert protocol(task="ddn", preset=preset) == (None, 100_000, 1)
        assert protocol(task="ddn", preset=preset, optimizer="lbfgs") == (None, 25_000, 25)
        assert protocol(task="postural", preset=preset, optimizer="lbfgs") == (None, 15_000, 1)
        assert protocol(task="postural", preset=preset) == (None, 75_000, 1)
        assert protocol(task="ddn", preset=preset, optimizer="hf") == (1000, None, 1)
        assert protocol(task="center-out", preset=preset, optimizer="lbfgs") == (2000, None, 1)
    assert protocol(task="ddn", optimizer="lbfgs") == (100, None, 1)
    assert protocol(task="ddn", preset="thesis", optimizer="lbfgs", steps=7) == (7, None, 25)
    assert protocol(task="ddn", preset="thesis", optimizer="lbfgs", batch_refresh=1) == (None, 25_000, 1)

    # `armctl compare` builds one base config (for AHF) and gives the others their own defaults
    # where nothing was typed for them.
    given = {"task": "ddn", "preset": "thesis"}
    overrides = preset_overrides(ArmConfig(**given), given, ["ahf", "lbfgs", "hf"], {})
    assert overrides == {
        "lbfgs": {"function_calls": 25_000, "batch_refresh": 25},
        "hf": {"steps": 1000, "function_calls": None},
    }
    given = {"task": "ddn", "preset": "thesis", "minutes": 5.0}
    own = {"lbfgs": {"batch_refresh": 3}}
    assert preset_overrides(ArmConfig(**given), given, ["ahf", "lbfgs"], own) == own
    given = {"task": "ddn"}
    assert preset_overrides(ArmConfig(**given), given, ["ahf", "lbfgs", "hf"], {}) == {}


def test_at_own_end_compares_each_run_where_it_stopped():
    from armctl.compare_seeds import at_own_end

    histories = {
        "ahf": {0: ([10, 50, 100], [3.0, 2.0, 1.0]), 1: ([10, 100], [4.0, 2.0])},
        "lbfgs": {0: ([10, 25], [2.5, 2.0]), 1: ([10, 20, 25], [5.0, 4.0, 3.0])},
    }
    ends = at_own_end(histories, window=0.0)
    assert ends["ahf"]["calls"] == {0: 100, 1: 100} and ends["lbfgs"]["calls"] == {0: 25, 1: 25}
    assert ends["lbfgs"]["per_seed"] == {0: 2.0, 1: 3.0}
    assert ends["lbfgs"]["over_ahf"] == {"reached": 2, "runs": 2, "median": 1.75, "best": 1.5, "worst": 2.0}
    # A stochastic task's end is the mean over the last tenth of the run's calls.
    assert at_own_end(histories, window=0.1)["ahf"]["per_seed"][0] == 1.0
    assert at_own_end({"a": {0: ([10, 95, 100], [3.0, 2.0, 1.0])}}, 0.1)["a"]["per_seed"][0] == 1.5


def test_at_equal_wall_reads_every_run_at_the_end_of_its_seeds_shortest_run():
    from armctl.compare_seeds import at_equal_wall

    curves = {  # (seconds, calls, losses) after each iteration
        "ahf": {
            0: ([2.0, 6.0, 10.0], [100, 300, 500], [3.0, 2.0, 1.0]),
            1: ([3.0, 8.0], [50, 90], [4.0, 2.0]),
        },
        "lbfgs": {
            0: ([4.0, 9.0, 30.0], [50, 80, 500], [2.5, 2.2, 0.5]),
            1: ([9.0, 20.0], [40, 60], [5.0, 4.0]),
        },
    }
    equal = at_equal_wall(curves, window=0.0)
    assert equal["seconds"] == {0: 10.0, 1: 8.0}  # AHF's runs ended first on both seeds
    ahf, lbfgs = equal["optimizers"]["ahf"], equal["optimizers"]["lbfgs"]
    assert ahf["per_seed"] == {0: 1.0, 1: 2.0} and ahf["calls"] == {0: 500, 1: 90}
    # L-BFGS at 10 s had done two iterations of seed 0 (80 calls); on seed 1 none by 8 s.
    assert lbfgs["per_seed"] == {0: 2.2, 1: None} and lbfgs["calls"] == {0: 80, 1: None}
    assert lbfgs["over_ahf"] == {"reached": 1, "runs": 2, "median": 2.2, "best": 2.2, "worst": 2.2}
    # A stochastic task's level: the mean over the last tenth of the budget's seconds.
    assert at_equal_wall({"a": {0: ([1.0, 9.5, 10.0], [1, 2, 3], [3.0, 2.0, 1.0])}}, 0.1)["optimizers"]["a"][
        "per_seed"
    ][0] == pytest.approx(1.5)


def test_center_out_probe_keeps_the_task_plant_and_drops_its_randomness():
    ddn = make_task("ddn", horizon=30, delay=4)
    probe = center_out_probe(ddn)
    assert (probe.horizon, probe.delay, probe.alpha, probe.arm) == (30, 4, ddn.alpha, ddn.arm)
    batch = probe.sample(jax.random.PRNGKey(5))
    for field in ("joint_disturbance", "hand_force", "command_noise", "plant_noise"):
        assert not np.any(np.asarray(getattr(batch, field))), field
    # The reaches go from one posture to targets on a circle around its hand position.
    hands = np.asarray(forward_kinematics(probe.arm, batch.target[:, :2]))
    radii = np.linalg.norm(hands - probe.center_hand(), axis=1)
    np.testing.assert_allclose(radii, probe.radius, rtol=1e-4)


def test_thesis_scale_preset_pushes_the_arm_as_far_as_fig_6_3_during_the_delay():
    """The calibration behind the ``thesis-scale`` preset (armctl.presets): on the motionless arm at
    the central posture, the postural force's push during the feedback delay, over the 8 force
    directions, spans fig. 6.3's 0.02 rad at the shoulder and 0.08 rad at the elbow (to 15 %);
    DDN's disturbance std is the rms joint torque of that force (to 30 %)."""
    from armctl.arm_experiment import ArmConfig, build_task
    from armctl.world import env_reset, env_step

    task = build_task(ArmConfig(task="postural", preset="thesis-scale"))
    batch = jax.tree_util.tree_map(np.asarray, task.sample(jax.random.PRNGKey(0)))
    state, _ = env_reset(task, batch)
    for _ in range(task.delay):
        state, _, parts = env_step(task, batch, state, np.zeros((72, 2)))
    central = slice(32, 40)  # posture 4 of the 3 x 3 grid, all 8 forces
    push = state.x[central, :2] - batch.x0[central, :2]
    np.testing.assert_allclose(np.ptp(push, axis=0), [0.02, 0.08], rtol=0.15)
    torque = np.asarray(parts.torque)  # J^T F, the only torque acting
    ddn = build_task(ArmConfig(task="ddn", preset="thesis-scale"))
    np.testing.assert_allclose(np.sqrt(np.mean(torque**2)), ddn.disturbance_std, rtol=0.3)
    assert ddn.batch_size == 400 and task.force == 0.1
