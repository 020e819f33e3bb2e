"""``lax.scan`` over time with optional rematerialization, shared by every recurrent scan.

Differentiating a scan keeps every step's intermediates for the backward pass, so memory grows
linearly in the length T. With ``remat_block = k`` the steps run in blocks of k, each under
``jax.checkpoint``: only the carries between blocks are kept and each block's internals are
recomputed when the backward pass reaches it (the sqrt(T) checkpointing the HF literature used for
long sequences; k ~ sqrt(T) balances the two). Values and gradients are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from armctl.checks import check_integer


def remat_scan(body: Callable, carry, xs, remat_block: int = 0):
    """``jax.lax.scan(body, carry, xs)``, rematerialized in blocks of ``remat_block`` steps.

    ``remat_block = 0`` is a plain scan. Otherwise the leading (time) axis of ``xs`` is cut into
    blocks of ``remat_block`` steps plus a shorter last block when it does not divide T.
    """
    check_integer("remat_block", remat_block, 0)  # 0: no remat
    if not remat_block:
        return jax.lax.scan(body, carry, xs)
    t = jax.tree_util.tree_leaves(xs)[0].shape[0]
    k = min(remat_block, t)
    full = t - t % k
    block = jax.checkpoint(lambda c, chunk: jax.lax.scan(body, c, chunk))
    head = jax.tree_util.tree_map(lambda a: a[:full].reshape((full // k, k) + a.shape[1:]), xs)
    carry, ys = jax.lax.scan(block, carry, head)
    ys = jax.tree_util.tree_map(lambda a: a.reshape((full,) + a.shape[2:]), ys)
    if full < t:
        carry, tail = block(carry, jax.tree_util.tree_map(lambda a: a[full:], xs))
        ys = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), ys, tail)
    return carry, ys
