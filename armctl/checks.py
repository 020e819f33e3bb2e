"""Checks at the Python API's doors: PRNG keys and finite inputs, each a ``ValueError`` naming the
argument. JAX is imported inside the functions, so the modules that call them keep their imports
light (the single Gymnasium env runs without JAX).
"""

from __future__ import annotations


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
