"""The pathological long-range problems (Hochreiter & Schmidhuber 1997) as defined in the appendix of
Sutskever's thesis, sec. 4.4 (= Martens & Sutskever 2011, supplementary material).

Every generator is a pure function of a PRNG key: ``sample(name, key, T, batch_size) -> SequenceBatch``.
Notation of the thesis: ``i[a, b]`` is a uniform integer in ``[a, b]`` (so ``i[T/10, 2T/10]`` ranges over
``ceil(T/10) .. floor(2T/10)``), ``U[a, b]`` a uniform real; positions are 1-based in the docstrings and
0-based in the arrays.  Symbols ``s`` are 1-of-N encoded with class index ``s - 1``.

Problems (``PROBLEMS``):

- ``addition``, ``multiplication``, ``xor`` (4.4.1): length ``T' ~ i[T, 11T/10]``; markers at
  ``I ~ i[1, T'/10]`` and ``J ~ i[T'/10, T'/2]``; inputs ``v_t = (u_t, u'_t)`` with ``u_t ~ U[0, 1]``
  (``i[0, 1]`` for xor) and the marker ``u'_t`` equal to 1 at ``I`` and ``J``; one target at ``T'``:
  ``(u_I + u_J)/2``, ``u_I u_J`` (continuous, squared error) or ``u_I xor u_J`` (a binary symbol, softmax).
  The appendix's ranges overlap at ``T'/10`` when it is an integer; two *distinct* marked numbers are
  meant, so ``J`` is uniform over the range without ``I``.  Sequences are padded after ``T'`` to
  ``floor(11T/10)`` steps; padding never influences the target because the network is causal.
- ``temporal_order`` (4.4.2): length ``T``, symbols ``c_t ~ i[3, 6]`` (1-of-6) except ``v_I = a`` and
  ``v_J = b`` with ``I ~ i[T/10, 2T/10]``, ``J ~ i[5T/10, 6T/10]``, ``a, b ~ i[1, 2]``; target at ``T``:
  the pair ``(a, b)`` 1-of-4 (class ``2(a-1) + (b-1)``).
- ``temporal_order_3bit`` (4.4.3): as above with ``I ~ i[T/10, 2T/10]``, ``J ~ i[3T/10, 4T/10]``,
  ``K ~ i[6T/10, 7T/10]`` and target ``(a, b, c)`` 1-of-8 (class ``4(a-1) + 2(b-1) + (c-1)``).
- ``random_permutation`` (4.4.4): length ``T`` of symbols from 1..100 (1-of-100); ``v_1 = v_T ~ i[1, 2]``,
  the rest ``~ i[3, 100]``; a target at every step ``t < T``: ``y_t = v_{t+1}``.  The loss covers all
  of them; success is judged on the last one (``y_{T-1} = v_T``, predictable from ``v_1`` only).
- ``memorization_5bit`` (4.4.5): length ``T + 10``; ``v_1..v_5 ~ i[1, 2]``, then the constant symbol 3
  except the trigger 4 at ``t = T + 5``; targets ``y_j = 3`` for ``j <= T + 5`` and ``y_{T+5+j} = v_j``.
  Inputs 1-of-4, outputs 1-of-3; the loss covers every step, success is judged on the last 5.
- ``memorization_20bit``: the thesis's "straightforward adaptation" to 10 symbols from ``{1..5}``:
  length ``T + 20``, constant symbol 6, trigger 7 at ``t = T + 10``, targets 6 then the 10 symbols.

Success (thesis 4.4, after Hochreiter & Schmidhuber): fewer than 1 % of the test sequences misclassified;
a sequence is misclassified when a scored prediction is wrong: the arg-max class differs from the target
for symbolic outputs, the absolute error exceeds 0.04 for continuous ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from armctl.checks import check_integer, check_key

#: A continuous prediction is wrong when its absolute error exceeds this (thesis 4.4).
CONTINUOUS_TOLERANCE = 0.04
#: A run succeeds when fewer than this fraction of test sequences is misclassified.
SUCCESS_ERROR_RATE = 0.01


class SequenceBatch(NamedTuple):
    """A padded batch of sequences.

    Attributes:
        inputs: (B, Tmax, n_in) float inputs, zero after the end of a sequence.
        targets: (B, Tmax, n_out) float targets for continuous problems, (B, Tmax) int32 class indices
            for symbolic ones; only meaningful where ``loss_mask`` is 1.
        loss_mask: (B, Tmax) float, 1 where the loss applies.
        score_mask: (B, Tmax) bool, the predictions that decide whether a sequence is misclassified.
        valid: (B, Tmax) bool, True on the steps of the sequence (before padding).
    """

    inputs: jnp.ndarray
    targets: jnp.ndarray
    loss_mask: jnp.ndarray
    score_mask: jnp.ndarray
    valid: jnp.ndarray


class Spec(NamedTuple):
    """Shape of a problem at a given ``T``: input/output units, output kind and padded length."""

    n_in: int
    n_out: int
    kind: str  # "continuous" (linear output, squared error) or "symbolic" (softmax, cross-entropy)
    length: int


def _int_lo(num: int, den: int) -> int:
    """Smallest integer >= num/den (the lower end of ``i[num/den, ...]``)."""
    return -(-num // den)


def _randint(key: jax.Array, lo, hi) -> jnp.ndarray:
    """A uniform integer in the closed range ``[lo, hi]`` (bounds may be traced)."""
    return jax.random.randint(key, (), lo, hi + 1)


def _one(index, length: int) -> jnp.ndarray:
    """Boolean vector of ``length`` with a single True at ``index`` (0-based)."""
    return jnp.arange(length) == index


# --- addition, multiplication, xor -------------------------------------------------------------


def _marked_positions(key: jax.Array, t_len) -> tuple[jnp.ndarray, jnp.ndarray]:
    """1-based ``I ~ i[1, T'/10]`` and ``J ~ i[T'/10, T'/2]`` with ``J != I``."""
    k_i, k_j = jax.random.split(key)
    first = _randint(k_i, 1, t_len // 10)
    lo, hi = _int_lo(t_len, 10), t_len // 2
    # Uniform over [lo, hi] without I: draw from one value fewer and skip over I.
    overlap = (first >= lo).astype(jnp.int32)
    second = _randint(k_j, lo, hi - overlap)
    second = second + overlap * (second >= first)
    return first, second


def _marked_sequence(key: jax.Array, T: int, op: str):
    """One sequence of the addition-type problems, padded to ``floor(11T/10)``."""
    length = 11 * T // 10
    k_len, k_pos, k_u = jax.random.split(key, 3)
    t_len = _randint(k_len, T, length)
    first, second = _marked_positions(k_pos, t_len)
    valid = jnp.arange(length) < t_len
    if op == "xor":
        u = jax.random.bernoulli(k_u, 0.5, (length,)).astype(jnp.float32)
    else:
        u = jax.random.uniform(k_u, (length,))
    u = jnp.where(valid, u, 0.0)
    marker = (_one(first - 1, length) | _one(second - 1, length)).astype(u.dtype)
    a, b = u[first - 1], u[second - 1]
    end = _one(t_len - 1, length)
    if op == "xor":
        value = jnp.logical_xor(a > 0.5, b > 0.5).astype(jnp.int32)
        targets = jnp.where(end, value, 0)
    else:
        value = (a + b) / 2 if op == "addition" else a * b
        targets = jnp.where(end, value, 0.0)[:, None]
    return jnp.stack([u, marker], axis=-1), targets, end.astype(jnp.float32), end, valid


# --- temporal order ------------------------------------------------------------------------------


#: Position ranges of the special symbols as fractions ``(lo/10, hi/10)`` of T (thesis 4.4.2, 4.4.3).
_ORDER_RANGES = {2: ((1, 2), (5, 6)), 3: ((1, 2), (3, 4), (6, 7))}


def _order_sequence(key: jax.Array, T: int, n_special: int):
    """One temporal-order sequence with ``n_special`` special symbols from {1, 2} among {3..6}."""
    k_c, k_pos, k_sym = jax.random.split(key, 3)
    symbols = jax.random.randint(k_c, (T,), 3, 7)
    pos_keys = jax.random.split(k_pos, n_special)
    special = jax.random.randint(k_sym, (n_special,), 1, 3)
    label = jnp.int32(0)
    for k, (lo, hi), s in zip(pos_keys, _ORDER_RANGES[n_special], special, strict=True):
        pos = _randint(k, _int_lo(lo * T, 10), hi * T // 10)
        symbols = jnp.where(_one(pos - 1, T), s, symbols)
        label = 2 * label + (s - 1)
    end = _one(T - 1, T)
    inputs = jax.nn.one_hot(symbols - 1, 6)
    return inputs, jnp.where(end, label, 0), end.astype(jnp.float32), end, jnp.ones(T, bool)


# --- random permutation -------------------------------------------------------------------------


def _permutation_sequence(key: jax.Array, T: int):
    """One random-permutation sequence: ``v_1 = v_T ~ i[1, 2]``, the rest ``~ i[3, 100]``."""
    k_end, k_mid = jax.random.split(key)
    symbols = jax.random.randint(k_mid, (T,), 3, 101)
    ends = _randint(k_end, 1, 2)
    t = jnp.arange(T)
    symbols = jnp.where((t == 0) | (t == T - 1), ends, symbols)
    targets = jnp.append(symbols[1:], 1) - 1  # y_t = v_{t+1}; the last step has no target
    loss_mask = (t < T - 1).astype(jnp.float32)
    return jax.nn.one_hot(symbols - 1, 100), targets, loss_mask, t == T - 2, jnp.ones(T, bool)


# --- noiseless memorization ---------------------------------------------------------------------


def _memorization_from_items(items: jnp.ndarray, T: int, n_values: int):
    """The memorization sequence that stores ``items`` (symbols from ``{1..n_values}``)."""
    n_items = items.shape[0]
    length = T + 2 * n_items
    blank, trigger = n_values + 1, n_values + 2
    t = jnp.arange(length)
    inputs = jnp.full(length, blank).at[:n_items].set(items)
    inputs = jnp.where(t == T + n_items - 1, trigger, inputs)
    targets = jnp.full(length, blank).at[T + n_items :].set(items)
    return (
        jax.nn.one_hot(inputs - 1, n_values + 2),
        targets - 1,
        jnp.ones(length),
        t >= T + n_items,
        jnp.ones(length, bool),
    )


def _memorization_sequence(key: jax.Array, T: int, n_items: int, n_values: int):
    """``n_items`` random symbols from ``{1..n_values}`` to reproduce after ``T`` steps and a trigger."""
    return _memorization_from_items(jax.random.randint(key, (n_items,), 1, n_values + 1), T, n_values)


# --- registry -----------------------------------------------------------------------------------


class _Problem(NamedTuple):
    spec: Callable[[int], Spec]
    sequence: Callable[[jax.Array, int], tuple]
    min_T: int


PROBLEMS: dict[str, _Problem] = {
    "addition": _Problem(
        lambda T: Spec(2, 1, "continuous", 11 * T // 10), lambda k, T: _marked_sequence(k, T, "addition"), 10
    ),
    "multiplication": _Problem(
        lambda T: Spec(2, 1, "continuous", 11 * T // 10),
        lambda k, T: _marked_sequence(k, T, "multiplication"),
        10,
    ),
    "xor": _Problem(
        lambda T: Spec(2, 2, "symbolic", 11 * T // 10), lambda k, T: _marked_sequence(k, T, "xor"), 10
    ),
    "temporal_order": _Problem(
        lambda T: Spec(6, 4, "symbolic", T), lambda k, T: _order_sequence(k, T, 2), 10
    ),
    "temporal_order_3bit": _Problem(
        lambda T: Spec(6, 8, "symbolic", T), lambda k, T: _order_sequence(k, T, 3), 10
    ),
    "random_permutation": _Problem(lambda T: Spec(100, 100, "symbolic", T), _permutation_sequence, 3),
    "memorization_5bit": _Problem(
        lambda T: Spec(4, 3, "symbolic", T + 10), lambda k, T: _memorization_sequence(k, T, 5, 2), 1
    ),
    "memorization_20bit": _Problem(
        lambda T: Spec(7, 6, "symbolic", T + 20), lambda k, T: _memorization_sequence(k, T, 10, 5), 1
    ),
}


def _lookup(name: str, T: int) -> _Problem:
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; expected one of {sorted(PROBLEMS)}")
    problem = PROBLEMS[name]
    if not isinstance(T, int) or isinstance(T, bool) or T < problem.min_T:
        raise ValueError(f"T must be an int >= {problem.min_T} for {name!r}, got {T!r}")
    return problem


def spec(name: str, T: int) -> Spec:
    """Input/output units, output kind and padded length of problem ``name`` at length ``T``."""
    return _lookup(name, T).spec(T)


def sample(name: str, key: jax.Array, T: int, batch_size: int) -> SequenceBatch:
    """``batch_size`` independent sequences of problem ``name`` with length parameter ``T``."""
    problem = _lookup(name, T)
    check_integer("batch_size", batch_size, 1)
    check_key("key", key)
    keys = jax.random.split(key, batch_size)
    return SequenceBatch(*jax.vmap(lambda k: problem.sequence(k, T))(keys))


@functools.cache
def sampler(name: str, T: int, batch_size: int) -> Callable[[jax.Array], SequenceBatch]:
    """A jitted ``key -> SequenceBatch`` for fresh data every iteration (cached: compiled once)."""
    _lookup(name, T)
    return jax.jit(lambda key: sample(name, key, T, batch_size))


def memorization_5bit_all(T: int) -> SequenceBatch:
    """All 32 distinct 5-bit memorization sequences (the thesis trains on all of them at once)."""
    _lookup("memorization_5bit", T)
    bits = (jnp.arange(32)[:, None] >> jnp.arange(4, -1, -1)) & 1
    return SequenceBatch(*jax.vmap(lambda b: _memorization_from_items(b + 1, T, 2))(bits))


def misclassified(outputs: jnp.ndarray, batch: SequenceBatch) -> jnp.ndarray:
    """(B,) bool: whether any scored prediction of each sequence is wrong.

    ``outputs`` are the network outputs before the output nonlinearity (B, Tmax, n_out): arg-max
    against integer targets for symbolic problems, absolute error above ``CONTINUOUS_TOLERANCE``
    against float targets for continuous ones. A prediction that is not finite is always wrong
    (a NaN output never counts as correct, whatever its arg-max or comparison gives).
    """
    if outputs.shape[:2] != batch.score_mask.shape:
        raise ValueError(
            f"outputs must have shape (B, Tmax, n_out) = {batch.score_mask.shape} + (n_out,), "
            f"got {outputs.shape}"
        )
    if jnp.issubdtype(batch.targets.dtype, jnp.integer):
        wrong = (jnp.argmax(outputs, axis=-1) != batch.targets) | ~jnp.all(jnp.isfinite(outputs), axis=-1)
    else:
        wrong = ~jnp.all(jnp.abs(outputs - batch.targets) <= CONTINUOUS_TOLERANCE, axis=-1)
    return jnp.any(wrong & batch.score_mask, axis=1)


def error_rate(outputs: jnp.ndarray, batch: SequenceBatch) -> jnp.ndarray:
    """Fraction of misclassified sequences."""
    return jnp.mean(misclassified(outputs, batch).astype(jnp.float32))


def solved(rate) -> bool:
    """The success criterion: fewer than 1 % of the test sequences misclassified (NaN: no)."""
    return bool(rate < SUCCESS_ERROR_RATE)
