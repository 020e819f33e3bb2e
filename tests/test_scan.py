"""Rematerialized scans: the same values and gradients as a plain scan, less memory (issue: scale out)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from armctl.scan import remat_scan


def _loss(w, xs, block):
    def body(h, x):
        h = jnp.tanh(h @ w + x)
        return h, h.sum()

    h, ys = remat_scan(body, jnp.ones(xs.shape[1:]), xs, block)
    return jnp.sum(h**2) + jnp.sum(jnp.sin(ys))


@pytest.mark.parametrize("block", [1, 3, 4, 7, 12, 50])  # dividing, not dividing, whole, longer than T
def test_remat_scan_matches_plain_scan(block):
    w = 0.5 * jax.random.normal(jax.random.key(0), (3, 3))
    xs = jax.random.normal(jax.random.key(1), (12, 3))
    value, grad = jax.value_and_grad(_loss)(w, xs, 0)
    value_r, grad_r = jax.jit(jax.value_and_grad(_loss), static_argnums=2)(w, xs, block)
    assert float(value_r) == pytest.approx(float(value), rel=1e-6)
    np.testing.assert_allclose(grad_r, grad, rtol=1e-5, atol=1e-7)


def test_remat_scan_keeps_fewer_activations():
    w = jnp.eye(64)
    xs = jnp.zeros((400, 256, 64))
    temp = {
        block: jax.jit(jax.grad(_loss), static_argnums=2)
        .lower(w, xs, block)
        .compile()
        .memory_analysis()
        .temp_size_in_bytes
        for block in (0, 20)
    }
    assert temp[20] < 0.5 * temp[0]


@pytest.mark.parametrize("block", [-1, 2.5, True])
def test_remat_scan_rejects_bad_block(block):
    with pytest.raises(ValueError, match="remat_block must be an integer >= 0"):
        remat_scan(lambda c, x: (c, x), 0.0, jnp.zeros(4), block)
