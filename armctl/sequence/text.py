"""Character-level text data: corpora, the alphabet, deterministic splits and training batches.

A corpus is one long string split into contiguous train / validation / test parts (default
90 / 5 / 5 per cent, always the same for the same text). The alphabet is built from the
training part only: characters seen fewer than ``min_count`` times there (and characters
that only occur in validation or test) map to one unknown symbol, so held-out text never
needs a symbol the model does not have. The alphabet is saved with every model.

Sources (:func:`load_corpus`):

* ``"default"`` -- the English documentation text CPython ships in ``pydoc_data.topics``
  (about 0.46 MB; the topic texts joined in sorted key order). It exists on every machine,
  but its content changes a little between Python versions: :attr:`Corpus.digest` records
  which text a model saw.
* any UTF-8 text file;
* the standard corpora when the user has them locally: ``text8`` and ``enwik8`` (a file of
  that name; the standard 90M / 5M / 5M split; enwik8 is modelled as bytes, each byte one
  symbol) and the Penn Treebank character files (a directory holding ``ptb.char.train.txt``,
  ``ptb.char.valid.txt``, ``ptb.char.test.txt``, or one of those files; the given splits).

Training batches follow the thesis (ch. 5.4.2): random subsequences of ``context + predict``
characters, the loss on the last ``predict`` predictions only (250 and 200 in the thesis), so
every scored prediction has at least ``context`` characters of context.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import math
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

#: The unknown symbol: stands for every character outside the alphabet. Always index 0.
UNKNOWN = "\ufffd"
#: Share of the text in the train / validation / test split (contiguous, in this order).
DEFAULT_SPLIT = (0.9, 0.05, 0.05)
#: Sizes of the standard text8 / enwik8 split (characters or bytes).
STANDARD_SPLIT = (90_000_000, 5_000_000, 5_000_000)
PTB_FILES = ("ptb.char.train.txt", "ptb.char.valid.txt", "ptb.char.test.txt")


@dataclasses.dataclass(frozen=True)
class Alphabet:
    """Symbols of a character model; ``symbols[0]`` is :data:`UNKNOWN`.

    ``encode`` maps every character outside the alphabet to index 0; ``decode`` inverts
    ``encode`` on text made of alphabet symbols.
    """

    symbols: tuple[str, ...]

    def __post_init__(self):
        symbols = tuple(self.symbols)
        if not symbols or symbols[0] != UNKNOWN:
            raise ValueError(f"an alphabet starts with the unknown symbol {UNKNOWN!r}, got {symbols[:3]!r}")
        if any(not isinstance(s, str) or len(s) != 1 for s in symbols):
            raise ValueError("alphabet symbols must be single characters")
        if len(set(symbols)) != len(symbols):
            raise ValueError("alphabet symbols must be distinct")
        object.__setattr__(self, "symbols", symbols)
        object.__setattr__(self, "_index", {s: i for i, s in enumerate(symbols)})

    @property
    def size(self) -> int:
        return len(self.symbols)

    @classmethod
    def from_text(cls, text: str, min_count: int = 1) -> Alphabet:
        """Characters of ``text`` seen at least ``min_count`` times, in code-point order."""
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be an integer >= 1, got {min_count!r}")
        counts = collections.Counter(text)
        kept = sorted(c for c, n in counts.items() if n >= min_count and c != UNKNOWN)
        return cls((UNKNOWN, *kept))

    def encode(self, text: str) -> np.ndarray:
        """Indices (int32) of the characters of ``text``; unknown characters give 0."""
        index = self._index
        return np.fromiter((index.get(c, 0) for c in text), dtype=np.int32, count=len(text))

    def decode(self, ids) -> str:
        """The string of the symbols at ``ids`` (a sequence of ints)."""
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(
                f"symbol indices must lie in [0, {self.size}), got range [{ids.min()}, {ids.max()}]"
            )
        return "".join(self.symbols[i] for i in ids.ravel().tolist())


class Corpus(NamedTuple):
    """An encoded corpus: int32 index arrays of the three splits, the alphabet, and
    ``digest``, the SHA-256 of the raw text (identifies which text a model was trained on)."""

    name: str
    alphabet: Alphabet
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    digest: str


# ----- sources ---------------------------------------------------------------------------------
def default_text() -> str:
    """The embedded default corpus: CPython's ``pydoc_data.topics`` joined in sorted key order."""
    from pydoc_data.topics import topics

    return "".join(topics[key] for key in sorted(topics))


def read_text(path: str | os.PathLike, encoding: str = "utf-8") -> str:
    """Contents of a text file; clear errors for a missing, unreadable or empty file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"corpus file not found: {path!r}")
    try:
        with open(path, encoding=encoding) as f:
            text = f.read()
    except UnicodeDecodeError as err:
        raise ValueError(f"corpus file {path!r} is not valid {encoding}: {err}") from err
    if not text:
        raise ValueError(f"corpus file {path!r} is empty")
    return text


def ptb_text(path: str) -> str:
    """A Penn Treebank character file as plain text: characters are space separated there,
    ``_`` marks a word boundary and each line is a sentence."""
    lines = read_text(path).splitlines()
    return "\n".join("".join(" " if c == "_" else c for c in line.split()) for line in lines) + "\n"


def split_sizes(n: int, fractions=DEFAULT_SPLIT) -> tuple[int, int, int]:
    """Lengths of the contiguous train / validation / test parts of ``n`` characters."""
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) <= 0 or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions must be three positive numbers summing to 1, got {fractions!r}")
    n_valid, n_test = int(n * fractions[1]), int(n * fractions[2])
    return n - n_valid - n_test, n_valid, n_test


def split_text(text: str, sizes: tuple[int, int, int]) -> tuple[str, str, str]:
    a, b, c = sizes
    if a + b + c > len(text) or min(sizes) < 2:
        raise ValueError(
            f"split sizes {sizes} need at least 2 characters each and at most {len(text)} in all"
        )
    return text[:a], text[a : a + b], text[a + b : a + b + c]


def make_corpus(name: str, parts: tuple[str, str, str], min_count: int = 1) -> Corpus:
    """Encode three text parts with an alphabet built from the first (the training text)."""
    train, valid, test = parts
    alphabet = Alphabet.from_text(train, min_count)
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return Corpus(
        name, alphabet, alphabet.encode(train), alphabet.encode(valid), alphabet.encode(test), digest
    )


def load_corpus(source: str, min_count: int = 1, fractions=DEFAULT_SPLIT) -> Corpus:
    """The corpus named by ``source``: ``"default"``, a text8 / enwik8 file, a PTB character
    directory or file, or any UTF-8 text file (split by ``fractions``)."""
    if source == "default":
        text = default_text()
        return make_corpus("default", split_text(text, split_sizes(len(text), fractions)), min_count)
    path = os.fspath(source)
    if os.path.isdir(path):
        files = [os.path.join(path, f) for f in PTB_FILES]
        missing = [f for f in files if not os.path.isfile(f)]
        if missing:
            raise FileNotFoundError(f"corpus directory {path!r} lacks the PTB character files {missing}")
        return make_corpus("ptb", tuple(ptb_text(f) for f in files), min_count)
    base = os.path.basename(path)
    if base in PTB_FILES:
        return load_corpus(os.path.dirname(path) or ".", min_count)
    if base in ("text8", "enwik8"):
        # enwik8 is a byte benchmark: latin-1 maps each byte to one character.
        text = read_text(path, "utf-8" if base == "text8" else "latin-1")
        sizes = STANDARD_SPLIT if len(text) >= sum(STANDARD_SPLIT) else split_sizes(len(text), fractions)
        return make_corpus(base, split_text(text, sizes), min_count)
    text = read_text(path)
    try:
        parts = split_text(text, split_sizes(len(text), fractions))
    except ValueError as err:
        raise ValueError(
            f"corpus file {path!r} ({len(text)} characters) is too short to split by {fractions}: {err}"
        ) from None
    return make_corpus(base, parts, min_count)


# ----- batches ---------------------------------------------------------------------------------
class TextBatch(NamedTuple):
    """Sequences for next-character prediction, batch-major (every leaf has the batch on axis 0,
    so the optimizer can take the curvature batch as a leading slice).

    ``tokens`` (B, T+1) int32: the model reads ``tokens[:, :-1]`` and predicts ``tokens[:, 1:]``;
    ``mask`` (B, T) float32: 1 where a prediction is scored.
    """

    tokens: jnp.ndarray
    mask: jnp.ndarray

    @property
    def inputs(self) -> jnp.ndarray:
        return self.tokens[:, :-1]

    @property
    def targets(self) -> jnp.ndarray:
        return self.tokens[:, 1:]


def sample_batch(key: jax.Array, ids: jnp.ndarray, batch_size: int, context: int, predict: int) -> TextBatch:
    """``batch_size`` random windows of ``context + predict + 1`` characters of ``ids``, the loss
    on the last ``predict`` predictions (thesis: context 50, predict 200)."""
    length = context + predict + 1
    if ids.shape[0] < length:
        raise ValueError(f"a text of {ids.shape[0]} characters is shorter than one window ({length})")
    starts = jax.random.randint(key, (batch_size,), 0, ids.shape[0] - length + 1)
    tokens = ids[starts[:, None] + jnp.arange(length)]
    mask = jnp.broadcast_to(
        (jnp.arange(context + predict) >= context).astype(jnp.float32), tokens[:, 1:].shape
    )
    return TextBatch(tokens, mask)


def sequential_batches(ids: np.ndarray, context: int, predict: int) -> TextBatch:
    """All of ``ids`` as overlapping windows that score every prediction exactly once.

    Window ``k`` holds ``ids[k P : k P + C + P + 1]`` and scores its last ``P`` predictions
    (with at least ``C`` characters of context); the first window scores all of its
    predictions so the text is covered from its second character on. The last window is
    zero-padded with mask 0. The mask sums to ``len(ids) - 1``.
    """
    ids = np.asarray(ids, dtype=np.int32)
    n = ids.shape[0]
    length = context + predict + 1
    if n < 2:
        raise ValueError(f"need at least 2 characters to score a prediction, got {n}")
    n_windows = max(1, math.ceil((n - length) / predict) + 1)
    padded = np.zeros(n_windows * predict + length, dtype=np.int32)
    padded[:n] = ids
    starts = np.arange(n_windows) * predict
    tokens = padded[starts[:, None] + np.arange(length)]
    position = starts[:, None] + np.arange(1, length)  # index in ids of each predicted character
    scored = np.arange(length - 1) >= context
    mask = (scored[None, :] | (starts == 0)[:, None]) & (position < n)
    return TextBatch(jnp.asarray(tokens), jnp.asarray(mask, dtype=jnp.float32))
