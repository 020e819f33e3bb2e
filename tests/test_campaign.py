"""Campaign files, the campaign runner (worker processes pinned to cores, deadlines, resumption)
and model files (export, safe loading, evaluation on fresh sequences)."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import zipfile

import jax
import numpy as np
import pytest

from armctl import runs
from armctl.cli import main
from armctl.sequence import campaign, model_file, pathological

#: A core this test process may run on (core 0 need not be one, e.g. under taskset).
FIRST_CORE = campaign.default_cores()[0]

# Small runs: 8 hidden units, T = 10, 200 / 40 sequences; a bound of a few minibatches.
SMALL = """
[defaults]
batch_size = 200
curvature_batch = 40
test_batch = 200
eval_every = 0.5
hidden = 8
"""


def write(path, text):
    path.write_text(text)
    return path


def test_a_campaign_file_lists_the_product_of_its_entries(tmp_path):
    path = write(
        tmp_path / "c.toml",
        SMALL
        + """
[[runs]]
problems = ["addition", "xor"]
T = [10, 12]
seeds = [0, 1]

[[runs]]
problem = "memorization_5bit"
T = 10
seed = 3
precision = "float64"
tag = "f64"
""",
    )
    planned = campaign.read(path)
    names = [run.name for run in planned]
    assert names[:3] == ["addition-T10-hf-s0", "addition-T10-hf-s1", "addition-T12-hf-s0"]
    assert len(names) == 9 and names[-1] == "memorization_5bit-T10-hf-s3-f64"
    last = planned[-1].config
    # [defaults] apply to every entry: its batch_size too, so this 5-bit run samples 200 sequences.
    assert last.precision == "float64" and last.hidden == 8 and not last.all_sequences
    assert planned[0].config.out == str(tmp_path / "c" / "addition-T10-hf-s0")
    assert campaign.read(path, tmp_path / "elsewhere")[0].config.run_dir() == (
        tmp_path / "elsewhere" / "addition-T10-hf-s0"
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("[[runs]]\nT = 10\n", "name the problems"),
        ('[[runs]]\nproblems = ["adition"]\n', "entry 1: unknown problem 'adition'"),
        ('[[runs]]\nproblems = ["addition"]\nlr = 3\n', r"entry 1: unknown or reserved keys \['lr'\]"),
        ('[[runs]]\nproblems = ["addition"]\nout = "x"\n', r"reserved keys \['out'\]"),
        (
            '[[runs]]\nproblems = ["addition"]\n[[runs]]\nproblems = ["addition"]\n',
            "entry 2: run addition-T50",
        ),
        ('[[runs]]\nproblems = ["addition"]\ntag = "a b"\n', "tag must be letters"),
        ('[[runs]]\nproblems = ["addition"]\nT = 3\n', "entry 1: T must be an int >= 10"),
        ("[defaults]\npreset = 'thesis'\n", "at least one"),
        ("[[runs]\n", "not a TOML campaign file"),
        ("[run]\n", r"unknown top-level keys \['run'\]"),
    ],
)
def test_bad_campaign_files_are_refused_with_the_entry_and_key(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        campaign.read(write(tmp_path / "c.toml", text))


@pytest.fixture(scope="module")
def ended(tmp_path_factory):
    """A campaign of two small runs on one core: a run solved, a run at its bound."""
    root = tmp_path_factory.mktemp("campaign")
    path = write(
        root / "c.toml",
        SMALL
        + """
[[runs]]
problems = ["addition"]
T = 10
seeds = [0]
max_minibatches = 150

[[runs]]
problems = ["temporal_order"]
T = 10
seeds = [0]
max_minibatches = 3
""",
    )
    lines = []
    rows = campaign.execute(campaign.read(path), root / "c", cores=[FIRST_CORE], log=lines.append)
    return root, path, rows, lines


def test_a_campaign_trains_every_run_to_its_end_and_merges_them(ended):
    root, path, rows, lines = ended
    assert [(r["name"], r["state"]) for r in rows] == [
        ("addition-T10-hf-s0", "solved"),
        ("temporal_order-T10-hf-s0", "failed"),
    ]
    solved, failed = rows
    report = json.loads((root / "c" / "addition-T10-hf-s0" / "report.json").read_text())
    assert solved["minibatches"] == report["minibatches"] < 150 and report["success"]
    assert failed["minibatches"] >= 3 and failed["best_test_error"] >= 0.01
    written = json.loads((root / "c" / "results.json").read_text())
    assert written["runs"] == rows and written["commit"] != ""  # a commit, or None outside git
    assert (root / "c" / "fig4_1.png").read_bytes()[:4] == b"\x89PNG"
    assert "started addition-T10-hf-s0" in lines[1] and "progress" not in lines
    log = (root / "c" / "addition-T10-hf-s0" / "log.txt").read_text()
    assert "success: addition T=10" in log and f"on cores [{FIRST_CORE}]" in log
    # Run again: nothing left to train.
    again = []
    assert campaign.execute(campaign.read(path), root / "c", cores=[FIRST_CORE], log=again.append) == rows
    assert again == [f"campaign: 2 runs, 2 ended, 0 to train on cores [{FIRST_CORE}]"]


def test_a_campaign_stopped_at_its_deadline_resumes_to_the_uninterrupted_numbers(ended, tmp_path):
    root, _, _, _ = ended
    text = SMALL + '[[runs]]\nproblems = ["addition"]\nT = 10\nseeds = [0]\nmax_minibatches = 150\n'
    path = write(tmp_path / "late.toml", text)
    planned = campaign.read(path)
    # Interrupted wherever the deadline falls (before, during or after training): nothing is lost.
    first = campaign.execute(planned, tmp_path / "late", cores=[FIRST_CORE], hours=3e-3, log=lambda _: None)
    assert first[0]["state"] in ("new", "unfinished", "solved")
    (row,) = campaign.execute(planned, tmp_path / "late", cores=[FIRST_CORE], log=lambda _: None)
    straight = json.loads((root / "c" / "addition-T10-hf-s0" / "history.json").read_text())
    resumed = json.loads((tmp_path / "late" / "addition-T10-hf-s0" / "history.json").read_text())
    assert row["state"] == "solved"
    assert resumed["loss"] == straight["loss"] and resumed["test_error"] == straight["test_error"]


def test_campaign_arguments_are_checked_before_any_work(ended, tmp_path):
    root, path, _, _ = ended
    planned = campaign.read(path)
    with pytest.raises(ValueError, match="cores must be distinct"):
        campaign.execute(planned, root / "c", cores=[FIRST_CORE, FIRST_CORE])
    with pytest.raises(ValueError, match=r"cores \[4096\] are not available"):
        campaign.execute(planned, root / "c", cores=[4096])
    with pytest.raises(ValueError, match="hours must be a positive number"):
        campaign.execute(planned, root / "c", hours=0)
    # A directory holding a run with other settings is refused before anything starts.
    other = write(
        tmp_path / "o.toml",
        SMALL.replace("hidden = 8", "hidden = 9") + '[[runs]]\nproblems = ["addition"]\nT = 10\n',
    )
    with pytest.raises(ValueError, match=r"holds a run with other settings: .*hidden=9 \(the run has 8\)"):
        campaign.execute(campaign.read(other, root / "c"), root / "c", cores=[FIRST_CORE])
    with pytest.raises(FileNotFoundError, match="no campaign file"):
        campaign.read(tmp_path / "missing.toml")


def test_campaign_status_on_the_command_line(ended, capsys):
    root, path, rows, _ = ended
    assert main(["pathological", "campaign", str(path), "--status"]) == 0
    out = capsys.readouterr().out
    assert "addition-T10-hf-s0" in out and "solved" in out and "failed" in out
    assert main(["pathological", "campaign", str(path), "--status", "--T", "10"]) == 2
    assert "campaign does not take --T" in capsys.readouterr().err


# --- model files ------------------------------------------------------------------------------------


def test_export_and_eval_score_fresh_sequences(ended, tmp_path, capsys):
    root, _, _, _ = ended
    run_dir = root / "c" / "addition-T10-hf-s0"
    path = tmp_path / "addition.npz"
    assert main(["pathological", "export", str(run_dir), "--out", str(path)]) == 0
    assert "addition T=10: network written to" in capsys.readouterr().out
    meta, model, params = model_file.load(path)
    assert (meta["problem"], meta["T"], model.n_hidden) == ("addition", 10, 8)
    assert meta["source"]["outcome"]["success"] is True
    trained = runs.load_run(run_dir).params
    for name in model_file.PARAMS:
        np.testing.assert_array_equal(params[name], np.asarray(trained[name], np.float32))
    # The error on fresh sequences, computed here independently of eval.
    batch = pathological.sample("addition", jax.random.key(5), 10, 3000)
    expected = float(pathological.error_rate(model.apply(params, batch.inputs)[0], batch))
    result = model_file.evaluate(path, sequences=3000, seed=5)
    assert result["error_rate"] == expected and result["sequences"] == 3000 and result["T"] == 10
    code = main(["pathological", "eval", str(path), "--sequences", "3000", "--seed", "5"])
    printed = json.loads(capsys.readouterr().out)
    assert printed["error_rate"] == expected and code == (0 if expected < 0.01 else 1)
    # At another length: the network is run on longer sequences of the same problem.
    assert model_file.evaluate(path, T=20, sequences=500)["T"] == 20


def test_model_files_hold_no_code_and_bad_ones_are_named(ended, tmp_path):
    root, _, _, _ = ended
    good = tmp_path / "good.npz"
    model_file.export(root / "c" / "addition-T10-hf-s0", good)
    with np.load(good) as data:
        arrays = {k: data[k] for k in data.files}

    # A pickled object inside the archive: refused, and nothing is unpickled (the payload would
    # create a file).
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    crafted = tmp_path / "crafted.npz"
    np.savez(crafted, **{**arrays, "w_rec": np.array([Payload()], dtype=object)})
    with pytest.raises(ValueError, match="not a model file"):
        model_file.load(crafted)
    assert not marker.exists()
    plain_pickle = tmp_path / "pickle.npz"
    plain_pickle.write_bytes(pickle.dumps(arrays))
    with pytest.raises(ValueError, match="not a model file"):
        model_file.load(plain_pickle)
    assert not marker.exists()

    def variant(name, **changes):
        path = tmp_path / name
        np.savez(path, **{**arrays, **changes})
        return path

    meta = json.loads(str(arrays["meta"]))
    with pytest.raises(ValueError, match=r"parameter w_rec has shape \(3, 3\)"):
        model_file.load(variant("shape.npz", w_rec=np.zeros((3, 3), np.float32)))
    with pytest.raises(ValueError, match="values that are not finite"):
        model_file.load(variant("nan.npz", b=np.full(8, np.nan, np.float32)))
    with pytest.raises(ValueError, match="not an armctl model file of version 1"):
        model_file.load(variant("version.npz", meta=np.array(json.dumps({**meta, "version": 7}))))
    with pytest.raises(ValueError, match="bad meta"):
        model_file.load(variant("problem.npz", meta=np.array(json.dumps({**meta, "problem": "sum"}))))
    with pytest.raises(ValueError, match="lacks the parameters"):
        np.savez(tmp_path / "part.npz", meta=arrays["meta"], w_in=arrays["w_in"])
        model_file.load(tmp_path / "part.npz")
    with zipfile.ZipFile(tmp_path / "broken.npz", "w") as z:
        z.writestr("meta.npy", b"not an array")
    with pytest.raises(ValueError, match="not a model file|not an armctl model file"):
        model_file.load(tmp_path / "broken.npz")
    with pytest.raises(FileNotFoundError, match="no model file"):
        model_file.load(tmp_path / os.sep.join(["no", "such.npz"]))


def test_a_run_whose_directory_is_in_use_is_refused_and_reported(tmp_path):
    path = write(
        tmp_path / "busy.toml", SMALL + '[[runs]]\nproblems = ["addition"]\nT = 10\nmax_minibatches = 3\n'
    )
    planned = campaign.read(path)
    lock = runs.RunLock.acquire(planned[0].config.run_dir())  # another process writing it
    lines = []
    try:
        (row,) = campaign.execute(planned, tmp_path / "busy", cores=[FIRST_CORE], log=lines.append)
    finally:
        lock.release()
    assert row["state"] == "new" and any("refused (see its log)" in line for line in lines)
    assert "is in use" in (planned[0].config.run_dir() / "log.txt").read_text()


def test_the_fig_4_1_table_tells_failed_unfinished_and_unstarted_runs_apart():
    def row(problem, T, state, minibatches=None):
        return {"config": {"problem": problem, "T": T}, "state": state, "minibatches": minibatches}

    rows = [
        row("addition", 30, "solved", 1000.0),
        row("addition", 30, "solved", 2000.0),
        row("addition", 30, "failed", 50000.0),
        row("addition", 50, "unfinished", 700.0),
        row("addition", 50, "new"),
        row("xor", 50, "new"),
    ]
    assert campaign.fig41_table(rows).splitlines()[2:] == [
        "| addition | 1,500 [1,000, 2,000]; failed 1 / 3 | none solved; 1 unfinished; 1 not run |",
        "| xor |  | 1 not run |",
    ]


def test_a_finished_run_made_on_other_devices_is_reused_not_resumed(ended):
    root, path, rows, _ = ended
    planned = campaign.read(path, root / "c")[0]
    config_file = planned.config.run_dir() / "config.json"
    before = config_file.read_text()
    assert runs.plan(planned.config) == "done"
    # The run was split over two devices (a resume may change them): still done, its config kept.
    saved = json.loads(before)
    config_file.write_text(json.dumps({**saved, "devices": 2}))
    assert runs.plan(planned.config) == "done"
    assert runs.plan(dataclasses.replace(planned.config, hidden=9), force=True) == "new"
    config_file.write_text(before)
