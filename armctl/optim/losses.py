"""Losses convex in the model outputs, each paired with its matching output nonlinearity.

They take the model's pre-nonlinearity outputs (so the Gauss-Newton matrix ``J^T H_L J`` is the
matching-loss GN matrix, Schraudolph 2002) and average over the leading batch axis.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _masked_mean(per_item: jnp.ndarray, mask, batch_size: int) -> jnp.ndarray:
    """Sum over everything but axis 0, mean over axis 0 (the batch); ``mask`` zeroes padding."""
    if mask is not None:
        mask = jnp.asarray(mask, per_item.dtype)
        if mask.shape != per_item.shape:
            raise ValueError(
                f"mask has shape {mask.shape}; expected {per_item.shape} (the outputs without the class axis)"
            )
        per_item = per_item * mask
    return jnp.sum(per_item) / batch_size


def squared_error(outputs: jnp.ndarray, targets: jnp.ndarray, mask=None) -> jnp.ndarray:
    """``sum ||outputs - targets||^2 / 2`` per example (linear outputs), averaged over the batch."""
    if outputs.shape != targets.shape:
        raise ValueError(f"outputs shape {outputs.shape} and targets shape {targets.shape} differ")
    per = 0.5 * jnp.square(outputs - targets)
    if mask is not None:
        per = jnp.sum(per, axis=-1)
    return _masked_mean(per, mask, outputs.shape[0])


def logistic_cross_entropy(logits: jnp.ndarray, targets: jnp.ndarray, mask=None) -> jnp.ndarray:
    """Binary cross-entropy of ``sigmoid(logits)`` against targets in [0, 1], summed over units."""
    if logits.shape != targets.shape:
        raise ValueError(f"logits shape {logits.shape} and targets shape {targets.shape} differ")
    # softplus(z) - t z == -t log s(z) - (1 - t) log(1 - s(z)), stable for large |z|.
    per = jax.nn.softplus(logits) - targets * logits
    if mask is not None:
        per = jnp.sum(per, axis=-1)
    return _masked_mean(per, mask, logits.shape[0])


def softmax_cross_entropy(logits: jnp.ndarray, labels: jnp.ndarray, mask=None) -> jnp.ndarray:
    """Cross-entropy of ``softmax(logits)`` (class axis last) against integer ``labels``.

    ``labels`` has the shape of ``logits`` without the class axis (e.g. (B,) or (B, T));
    ``mask`` (same shape, 1 = real step, 0 = padding) handles variable-length sequences. The
    result is summed over time and averaged over the batch.
    """
    if logits.shape[:-1] != labels.shape:
        raise ValueError(
            f"labels shape {labels.shape} must equal logits shape {logits.shape} without the class axis"
        )
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    logp = jax.nn.log_softmax(logits, axis=-1)
    per = -jnp.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
    return _masked_mean(per, mask, logits.shape[0])
