"""Weight initializers shared by the recurrent networks."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

#: Nonzero incoming weights per unit in the sparse initialization (Martens 2010).
SPARSE_FAN_IN = 15


def gaussian_matrix(key: jax.Array, n_in: int, n_out: int, gain: float = 1.0) -> jnp.ndarray:
    """Weights ``W[i, j] ~ N(0, gain^2 / n_in)`` for ``y = x @ W``."""
    return gain * jax.random.normal(key, (n_in, n_out)) / jnp.sqrt(n_in)


# Jitted: run op by op its dozen small operations each compile for every new shape (seconds for
# a network's three matrices); as one program they compile once per shape.
@functools.partial(jax.jit, static_argnames=("n_in", "n_out", "fan_in"))
def sparse_matrix(
    key: jax.Array,
    n_in: int,
    n_out: int,
    gain: float = 1.0,
    fan_in: int = SPARSE_FAN_IN,
    std: float | None = None,
) -> jnp.ndarray:
    """Sparse initialization (Martens 2010): each output unit gets ``min(fan_in, n_in)``
    nonzero incoming weights at random positions, drawn from ``N(0, std^2)`` times ``gain``.

    ``std`` defaults to ``1 / sqrt(fan_in)`` so a unit's input variance matches the dense
    Gaussian initializer; pass ``std=1.0`` for Martens' unit-variance weights.
    """
    k = min(fan_in, n_in)
    k_pos, k_val = jax.random.split(key)
    # For each output unit pick k distinct inputs: the first k of a random permutation.
    scores = jax.random.uniform(k_pos, (n_out, n_in))
    ranks = jnp.argsort(jnp.argsort(scores, axis=1), axis=1)
    mask = (ranks < k).T  # (n_in, n_out)
    std = 1.0 / jnp.sqrt(k) if std is None else std
    values = gain * std * jax.random.normal(k_val, (n_in, n_out))
    return jnp.where(mask, values, 0.0)


def init_matrix(key: jax.Array, n_in: int, n_out: int, scheme: str, gain: float = 1.0) -> jnp.ndarray:
    """``'gaussian'`` or ``'sparse'`` weights of shape (n_in, n_out)."""
    if scheme == "gaussian":
        return gaussian_matrix(key, n_in, n_out, gain)
    if scheme == "sparse":
        return sparse_matrix(key, n_in, n_out, gain)
    raise ValueError(f"unknown initialization {scheme!r}; expected 'gaussian' or 'sparse'")
