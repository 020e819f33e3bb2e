"""The argument checks, written once: numbers and integers in a range, booleans, choices, PRNG keys
and finite inputs, each a ``ValueError`` naming the argument, its value and what is valid. JAX is
imported inside the functions that need it, so the modules that call them keep their imports light
(the single Gymnasium env runs without JAX).
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def _interval(low: float, high: float, low_closed: bool, high_closed: bool) -> str:
    """The range in words: ``> 0``, ``>= 0`` or ``in (0, 1]``."""
    if high == math.inf:
        return f"{'>=' if low_closed else '>'} {low:g}"
    return f"in {'[' if low_closed else '('}{low:g}, {high:g}{']' if high_closed else ')'}"


def check_number(
    name: str,
    value,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_closed: bool = False,
    high_closed: bool = False,
) -> float:
    """``value`` as a float, once checked to be a finite real number in the interval from ``low``
    to ``high`` (closed at an end when ``low_closed`` / ``high_closed``).

    Integers pass (options arrive as JSON values, where ``1`` is as good as ``1.0``); booleans,
    strings, NaN and infinities do not. Raises ``ValueError`` naming ``name``, the value and the
    valid range.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_) and math.isfinite(value)
    if ok:
        ok = (low <= value if low_closed else low < value) and (
            value <= high if high_closed else value < high
        )
    if not ok:
        raise ValueError(
            f"{name} must be a finite number {_interval(low, high, low_closed, high_closed)}, got {value!r}"
        )
    return float(value)


def check_integer(
    name: str, value, low: int, high: float = math.inf, *, optional: bool = False
) -> int | None:
    """``value`` as an int, once checked to be an integer (not a bool, not a float) in ``[low, high]``
    (or ``None``, when ``optional``)."""
    if optional and value is None:
        return None
    if not (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool | np.bool_)
        and low <= value <= high
    ):
        either = " or None" if optional else ""
        raise ValueError(
            f"{name} must be an integer {_interval(low, high, True, True)}{either}, got {value!r}"
        )
    return int(value)


def check_bool(name: str, value) -> bool:
    """``value`` once checked to be ``True`` or ``False`` (not a string, not a number)."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return bool(value)


def check_choice(name: str, value, choices: tuple[str, ...]) -> str:
    """``value`` once checked to be one of ``choices``."""
    if not (isinstance(value, str) and value in choices):
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_key(name: str, key) -> None:
    """``key`` must be a JAX PRNG key: a typed key (``jax.random.key(seed)``, shape ``()``) or a raw
    one (``jax.random.PRNGKey(seed)``, uint32 of shape ``(2,)``). Works on tracers too (it looks at
    the dtype and shape only)."""
    import jax
    import jax.numpy as jnp

    dtype, shape = getattr(key, "dtype", None), getattr(key, "shape", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key) and shape == ():
        return
    if dtype == jnp.uint32 and shape == (2,) and isinstance(key, jax.Array):
        return
    what = f"{type(key).__name__} of dtype {dtype} and shape {shape}" if dtype is not None else repr(key)[:60]
    raise ValueError(
        f"{name} must be one JAX PRNG key (jax.random.key(seed), or jax.random.PRNGKey(seed)), got {what}"
    )


def check_finite(name: str, tree) -> None:
    """Every floating-point array of the pytree ``tree`` must be finite; ``ValueError`` naming
    ``name`` and the leaf otherwise. Leaves being traced (inside ``jit``, ``grad``, ``vmap``)
    have no values to look at and are skipped: the check guards eager calls."""
    import jax
    import numpy as np

    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        if isinstance(leaf, jax.core.Tracer) or not hasattr(leaf, "dtype"):
            continue
        if np.issubdtype(leaf.dtype, np.floating) and not bool(np.all(np.isfinite(np.asarray(leaf)))):
            raise ValueError(
                f"{name}{jax.tree_util.keystr(path)} holds values that are not finite (NaN or inf)"
            )
