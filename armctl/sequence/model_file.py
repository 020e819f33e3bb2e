"""A trained pathological-problem network as one data file, and its check on fresh sequences.

A model file is a NumPy ``.npz`` holding the parameters of :class:`armctl.sequence.rnn.SparseTanhRNN`
(``w_in``, ``w_rec``, ``b``, ``h0``, ``w_out``, ``b_out``) and ``meta``, a JSON text: the format
and version, the problem, the ``T`` it was trained at, the network's sizes, and where it came from
(the run's config and outcome). It is read with ``allow_pickle=False``: it holds arrays and text,
never code, so a model someone sends can be checked safely.

    armctl pathological export runs/pathological/addition-T200-hf-s0 --out docs/models/addition-T200.npz
    armctl pathological eval docs/models/addition-T200.npz --sequences 10000 --seed 1
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import jax
import numpy as np

from armctl import checkpoint
from armctl.sequence import pathological
from armctl.sequence.rnn import SparseTanhRNN

FORMAT = "armctl-pathological-rnn"
VERSION = 1
PARAMS = ("w_in", "w_rec", "b", "h0", "w_out", "b_out")


def save(
    path: str | os.PathLike, model: SparseTanhRNN, params: dict, problem: str, T: int, source: dict
) -> None:
    """Write ``params`` of ``model`` (trained on ``problem`` at ``T``) to ``path`` atomically."""
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "problem": problem,
        "T": T,
        "n_in": model.n_in,
        "n_hidden": model.n_hidden,
        "n_out": model.n_out,
        "source": source,
    }
    buffer = io.BytesIO()
    arrays = {name: np.asarray(params[name], np.float32) for name in PARAMS}
    np.savez_compressed(buffer, meta=np.array(checkpoint.json_text(meta)), **arrays)
    checkpoint.atomic_write_bytes(path, buffer.getvalue())


def load(path: str | os.PathLike) -> tuple[dict, SparseTanhRNN, dict]:
    """``(meta, model, params)`` of a model file; ``ValueError`` naming the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {name: data[name] for name in data.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{path} is not a model file (an .npz of arrays): {err}") from None
    try:
        meta = json.loads(str(contents.pop("meta")))
    except (KeyError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not an armctl model file (no readable meta: {err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError(f"{path} is not an armctl model file of version {VERSION} (format {FORMAT!r})")
    missing = sorted(set(PARAMS) - set(contents))
    if missing:
        raise ValueError(f"{path} lacks the parameters {missing}")
    try:
        pathological.spec(meta["problem"], meta["T"])
        model = SparseTanhRNN(meta["n_in"], meta["n_hidden"], meta["n_out"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: bad meta ({err})") from None
    expected = jax.eval_shape(model.init_params, jax.random.key(0))
    for name in PARAMS:
        if contents[name].shape != expected[name].shape or not np.all(np.isfinite(contents[name])):
            raise ValueError(
                f"{path}: parameter {name} has shape {contents[name].shape} (expected "
                f"{expected[name].shape}) or values that are not finite"
            )
    return meta, model, {name: contents[name] for name in PARAMS}


def evaluate(
    path: str | os.PathLike, *, T: int | None = None, sequences: int = 10_000, seed: int = 0
) -> dict:
    """The model's error on ``sequences`` fresh sequences of its problem at ``T`` (default: the
    ``T`` it was trained at), drawn from ``seed``: ``{"error_rate", "solved", ...}``. The 5-bit
    problem has only 32 distinct sequences, all of which are scored whatever ``sequences`` says."""
    meta, model, params = load(path)
    problem, T = meta["problem"], meta["T"] if T is None else T
    spec = pathological.spec(problem, T)
    if (spec.n_in, spec.n_out) != (model.n_in, model.n_out):
        raise ValueError(
            f"{path} has {model.n_in} inputs / {model.n_out} outputs; "
            f"{problem} needs {spec.n_in} / {spec.n_out}"
        )
    if problem == "memorization_5bit":
        batch = pathological.memorization_5bit_all(T)
    else:
        batch = pathological.sample(problem, jax.random.key(seed), T, sequences)
    rate = float(jax.jit(lambda p, b: pathological.error_rate(model.apply(p, b.inputs)[0], b))(params, batch))
    return {
        "model": str(path),
        "problem": problem,
        "T": T,
        "trained_T": meta["T"],
        "sequences": int(batch.inputs.shape[0]),
        "seed": seed,
        "error_rate": rate,
        "solved": pathological.solved(rate),
    }


def export(run_dir: str | os.PathLike, path: str | os.PathLike) -> dict:
    """Write the network of the pathological run in ``run_dir`` to the model file ``path``;
    returns its meta. The run's config and outcome (report.json, if the run has ended) go in
    ``meta["source"]``."""
    from armctl import runs
    from armctl.sequence.pathological_experiment import PathologicalConfig

    loaded = runs.load_run(run_dir, PathologicalConfig)
    config, model, params = loaded.config, loaded.model, loaded.params
    report = runs.read_report(run_dir) if (Path(run_dir) / "report.json").is_file() else None
    source = {
        "config": config.to_json(),
        "outcome": None
        if report is None
        else {k: report[k] for k in ("success", "minibatches", "iterations", "wall_s", "test_error")},
    }
    save(path, model, params, config.problem, config.T, source)
    return load(path)[0]
