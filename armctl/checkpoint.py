"""Atomic, verified checkpoints of pytrees (parameters, optimizer state, history).

A checkpoint file is a small JSON header line (format, version, SHA-256 and length of the
payload) followed by the pickled payload, whose JAX arrays were converted to NumPy. It is
written to a temporary file in the same directory, flushed, fsynced and renamed over the
old one, so an interrupted write never destroys the previous checkpoint. Loading checks
the header and the checksum and raises ``ValueError`` naming the file when anything is off.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from armctl.optim.driver import strict

FORMAT = "armctl-checkpoint"
VERSION = 1


def _to_numpy(tree: Any) -> Any:
    return jax.tree_util.tree_map(lambda a: np.asarray(a) if isinstance(a, jax.Array) else a, tree)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def json_text(obj: Any) -> str:
    """``obj`` as strict JSON text: arrays as lists, non-finite numbers as ``null``, keys sorted."""
    return json.dumps(strict(obj), indent=2, sort_keys=True, allow_nan=False)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write :func:`json_text` of ``obj`` atomically."""
    atomic_write_bytes(path, (json_text(obj) + "\n").encode())


def save(path: str | os.PathLike, tree: Any) -> None:
    """Save a pytree (leaves: arrays, numbers, strings) atomically."""
    payload = pickle.dumps(_to_numpy(tree), protocol=pickle.HIGHEST_PROTOCOL)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "bytes": len(payload),
    }
    atomic_write_bytes(path, json.dumps(header).encode() + b"\n" + payload)


def load(path: str | os.PathLike) -> Any:
    """Load a checkpoint written by :func:`save`; raise ``ValueError`` if it is corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    raw = path.read_bytes()
    head, sep, payload = raw.partition(b"\n")
    try:
        header = json.loads(head) if sep else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path} is not an armctl checkpoint (bad header)")
    if header.get("version") != VERSION:
        raise ValueError(f"{path}: checkpoint version {header.get('version')!r}, expected {VERSION}")
    if len(payload) != header.get("bytes") or hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise ValueError(
            f"{path} is corrupt: payload of {len(payload)} bytes does not match its checksum "
            f"({header.get('bytes')} bytes expected)"
        )
    return pickle.loads(payload)
