"""Atomic, verified checkpoints of pytrees (parameters, optimizer state, history) that hold data only.

A checkpoint is a NumPy ``.npz`` archive: every array of the tree as its own ``.npy`` member, and the
tree's structure as JSON (member ``__tree__``, UTF-8 bytes): dicts, lists, tuples, numbers, strings
and the NamedTuples of armctl's and optax's optimizer states, each array named by its index. It is
read with ``allow_pickle=False`` and a NamedTuple is rebuilt only from a class that armctl or optax
defines, so a checkpoint someone sends cannot run code when it is evaluated or resumed. It is
written to a temporary file in the same directory, flushed, fsynced and renamed over the old one,
so an interrupted write never destroys the previous checkpoint; the archive's checksums catch a
damaged file, and loading raises ``ValueError`` naming the file when anything is off.

Checkpoints of armctl 0.1 were pickles behind a checksum header (:data:`LEGACY_FORMAT`). A pickle
can run code when read, so :func:`load` refuses them and :func:`upgrade` converts one only when its
caller says the file is trusted (``armctl upgrade RUN_DIR --trust-pickle``).
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from armctl.optim.driver import strict

FORMAT = "armctl-checkpoint"
VERSION = 2
#: The 0.1 checkpoints: a JSON header line, then a pickle.
LEGACY_FORMAT, LEGACY_VERSION = FORMAT, 1
#: Packages whose NamedTuples a checkpoint may name (optimizer states, counters); a package that
#: registers an optimizer is added (:func:`trust_package`): its code runs anyway.
TRUSTED_MODULES = {"armctl", "optax"}
_TREE = "__tree__"


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


# --- the tree as JSON and arrays --------------------------------------------------------------------


def _encode(obj: Any, arrays: list) -> Any:
    """A JSON node for ``obj``; its arrays are appended to ``arrays`` and named by index. Numbers,
    strings, ``None`` and lists are themselves (Python's JSON keeps floats exact, NaN included);
    the other kinds are tagged."""
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, jax.Array) and jax.dtypes.issubdtype(obj.dtype, jax.dtypes.prng_key):
        arrays.append(np.asarray(jax.random.key_data(obj)))
        return {"key": len(arrays) - 1, "impl": str(jax.random.key_impl(obj))}
    if isinstance(obj, jax.Array | np.ndarray | np.generic):
        array = np.asarray(obj)
        if array.dtype == object:
            raise TypeError("a checkpoint holds numeric arrays only, not arrays of Python objects")
        arrays.append(array)
        return {"array": len(arrays) - 1}
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError(f"a checkpoint's dict keys must be strings, got {sorted(map(repr, obj))[:3]}")
        return {"dict": {k: _encode(v, arrays) for k, v in obj.items()}}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        cls = type(obj)
        return {
            "namedtuple": f"{cls.__module__}:{cls.__qualname__}",
            "fields": {f: _encode(getattr(obj, f), arrays) for f in obj._fields},
        }
    if isinstance(obj, tuple):
        return {"tuple": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    raise TypeError(f"a checkpoint cannot hold a {type(obj).__name__}")


def trust_package(module: str) -> None:
    """Let checkpoints name the NamedTuples of ``module``'s top-level package (an optimizer's state
    classes): called for the factory of every optimizer registered from outside armctl."""
    TRUSTED_MODULES.add(module.split(".")[0])


def _named_tuple(name: str) -> type:
    """The NamedTuple class ``module:qualname`` if armctl or optax defines it, else ``ValueError``."""
    module, _, qualname = name.partition(":")
    if not (module.split(".")[0] in TRUSTED_MODULES and qualname):
        raise ValueError(
            f"names the class {name!r}, which is not armctl's, optax's or a registered optimizer's"
        )
    try:
        cls = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError):
        raise ValueError(f"names the class {name!r}, which this armctl does not have") from None
    if not (isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")):
        raise ValueError(f"names {name!r}, which is not a NamedTuple")
    return cls


def _decode(node: Any, arrays: dict) -> Any:
    if node is None or isinstance(node, bool | int | float | str):
        return node
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if not isinstance(node, dict) or len(node) not in (1, 2):
        raise ValueError(f"has a malformed node {str(node)[:80]!r}")
    if "array" in node:
        return arrays[f"a{node['array']}"]
    if "key" in node:
        return jax.random.wrap_key_data(arrays[f"a{node['key']}"], impl=node["impl"])
    if "dict" in node:
        return {k: _decode(v, arrays) for k, v in node["dict"].items()}
    if "tuple" in node:
        return tuple(_decode(v, arrays) for v in node["tuple"])
    if "namedtuple" in node:
        cls = _named_tuple(node["namedtuple"])
        fields = node["fields"]
        if set(fields) != set(cls._fields):
            raise ValueError(
                f"gives {node['namedtuple']} the fields {sorted(fields)}, not {list(cls._fields)}"
            )
        return cls(**{k: _decode(v, arrays) for k, v in fields.items()})
    raise ValueError(f"has a malformed node {str(node)[:80]!r}")


def save(path: str | os.PathLike, tree: Any) -> None:
    """Save a pytree (dicts with string keys, lists, tuples, NamedTuples, arrays, numbers,
    strings, ``None``) atomically; ``TypeError`` for anything else."""
    arrays: list = []
    structure = {"format": FORMAT, "version": VERSION, "tree": _encode(tree, arrays)}
    buffer = io.BytesIO()
    text = json.dumps(structure, allow_nan=True).encode()
    np.savez(buffer, **{_TREE: np.frombuffer(text, np.uint8)}, **{f"a{i}": a for i, a in enumerate(arrays)})
    atomic_write_bytes(path, buffer.getvalue())


def load(path: str | os.PathLike) -> Any:
    """Load a checkpoint written by :func:`save`; ``ValueError`` naming the file if it is corrupt,
    not a checkpoint, or a legacy pickle checkpoint (:func:`upgrade` converts those)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if _legacy_header(path) is not None:
        raise ValueError(
            f"{path} is a checkpoint of armctl 0.1, a pickle: reading a pickle can run code, so armctl "
            f"reads one only when told it is trusted. If you trust where it came from, convert it once "
            f"with: armctl upgrade {path.parent} --trust-pickle"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {name: data[name] for name in data.files}
        structure = json.loads(contents.pop(_TREE).tobytes())
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError, UnicodeDecodeError) as err:
        with open(path, "rb") as f:
            kind = "corrupt" if f.read(4) == b"PK\x03\x04" else "not an armctl checkpoint"
        raise ValueError(f"{path} is {kind} ({type(err).__name__}: {str(err)[:120]})") from None
    if not isinstance(structure, dict) or structure.get("format") != FORMAT:
        raise ValueError(f"{path} is not an armctl checkpoint (no {FORMAT!r} header)")
    if structure.get("version") != VERSION:
        raise ValueError(f"{path}: checkpoint version {structure.get('version')!r}, expected {VERSION}")
    try:
        return _decode(structure.get("tree"), contents)
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a valid armctl checkpoint: it {err}") from None


# --- the legacy pickle format -----------------------------------------------------------------------


def _legacy_header(path: Path) -> dict | None:
    """The JSON header of a 0.1 checkpoint at ``path``, or ``None`` if it is not one."""
    with open(path, "rb") as f:
        head = f.readline(4096)
    try:
        header = json.loads(head)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if (
        isinstance(header, dict)
        and header.get("format") == LEGACY_FORMAT
        and header.get("version") == LEGACY_VERSION
    ):
        return header
    return None


def upgrade(legacy: str | os.PathLike, path: str | os.PathLike, *, trust_pickle: bool) -> None:
    """Convert the 0.1 (pickle) checkpoint ``legacy`` to this format at ``path``.

    Unpickling runs whatever code the file's author put in it, and the checksum in its header
    says only that the file is intact, not who wrote it: this refuses unless ``trust_pickle``.
    """
    legacy = Path(legacy)
    if not trust_pickle:
        raise ValueError(
            f"{legacy} is a pickle, and reading a pickle can run code; convert it only if you trust where "
            "it came from, with --trust-pickle"
        )
    header = _legacy_header(legacy)
    if header is None:
        raise ValueError(f"{legacy} is not an armctl 0.1 checkpoint (no {LEGACY_FORMAT!r} header)")
    payload = legacy.read_bytes().partition(b"\n")[2]
    if len(payload) != header.get("bytes") or hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise ValueError(f"{legacy} is corrupt: its payload does not match its checksum")
    save(path, pickle.loads(payload))
