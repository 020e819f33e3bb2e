"""Small pytree linear-algebra helpers shared by the optimizers (params-shaped vectors)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

tree_map = jax.tree_util.tree_map


def vdot(a, b) -> jnp.ndarray:
    """Inner product of two params-shaped pytrees (summed over all leaves)."""
    return sum(
        (
            jnp.vdot(x, y)
            for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
        ),
        jnp.zeros(()),
    )


def axpy(alpha, x, y):
    """``alpha * x + y`` leafwise."""
    return tree_map(lambda u, v: alpha * u + v, x, y)


def scale(alpha, x):
    """``alpha * x`` leafwise."""
    return tree_map(lambda u: alpha * u, x)


def zeros_like(x):
    return tree_map(jnp.zeros_like, x)


def all_finite(x) -> jnp.ndarray:
    """True when every leaf is finite."""
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(u)) for u in jax.tree_util.tree_leaves(x)]))
