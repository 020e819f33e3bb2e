"""The plain tanh RNN (SparseTanhRNN): sparse initialization, recurrence, causality and BPTT gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from armctl.sequence.rnn import SparseTanhRNN


def reference_apply(params, inputs):
    """The thesis's algorithm (sec. 2.5) written as an explicit loop over time, in numpy float64."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    x = np.asarray(inputs, np.float64)
    h = np.broadcast_to(p["h0"], (x.shape[0], p["h0"].shape[0]))
    outs, pres = [], []
    for t in range(x.shape[1]):
        u = x[:, t] @ p["w_in"] + h @ p["w_rec"] + p["b"]
        h = np.tanh(u)
        outs.append(h @ p["w_out"] + p["b_out"])
        pres.append(u)
    return np.stack(outs, 1), np.stack(pres, 1)


def test_sparse_initialization_follows_the_thesis():
    net = SparseTanhRNN(2, 100, 3)
    params = net.init_params(jax.random.key(0))
    # 15 nonzero incoming weights per hidden unit and per output unit; all inputs when n_in < 15.
    assert np.all(np.count_nonzero(params["w_rec"], axis=0) == 15)
    assert np.all(np.count_nonzero(params["w_out"], axis=0) == 15)
    assert np.all(np.count_nonzero(params["w_in"], axis=0) == 2)
    assert np.all(params["h0"] == 0)
    # Variance 1 for the input weights, 1/15 for the recurrent/output weights and the biases.
    big = SparseTanhRNN(100, 400, 50).init_params(jax.random.key(1))
    nz = lambda w: np.asarray(w)[np.asarray(w) != 0]
    assert np.std(nz(big["w_in"])) == pytest.approx(1.0, rel=0.05)
    assert np.std(nz(big["w_rec"])) == pytest.approx(1 / np.sqrt(15), rel=0.05)
    assert np.std(nz(big["w_out"])) == pytest.approx(1 / np.sqrt(15), rel=0.1)
    assert np.std(big["b"]) == pytest.approx(1 / np.sqrt(15), rel=0.15)
    assert np.count_nonzero(big["w_in"], axis=0).max() == 15


def test_input_std_and_recurrent_gain_scale_the_initialization():
    key = jax.random.key(7)
    base = SparseTanhRNN(2, 400, 1).init_params(key)
    scaled = SparseTanhRNN(2, 400, 1, input_std=0.3, recurrent_gain=1.2).init_params(key)
    # Same sparsity pattern and draws, only the two scales change.
    np.testing.assert_allclose(scaled["w_in"], 0.3 * np.asarray(base["w_in"]), rtol=1e-6)
    np.testing.assert_allclose(scaled["w_rec"], 1.2 * np.asarray(base["w_rec"]), rtol=1e-6)
    for name in ("b", "h0", "w_out", "b_out"):
        np.testing.assert_array_equal(scaled[name], base[name])
    # Circular law: 15 nonzeros of variance gain^2 / 15 per column give a spectral radius near gain.
    for params, gain in ((base, 1.0), (scaled, 1.2)):
        radius = np.max(np.abs(np.linalg.eigvals(np.asarray(params["w_rec"], np.float64))))
        assert radius == pytest.approx(gain, rel=0.1)


def test_apply_matches_the_explicit_recurrence():
    net = SparseTanhRNN(3, 7, 2)
    params = net.init_params(jax.random.key(2))
    params["h0"] = 0.3 * jax.random.normal(jax.random.key(3), (7,))
    inputs = jax.random.normal(jax.random.key(4), (4, 9, 3))
    outputs, preacts = net.apply(params, inputs)
    ref_out, ref_pre = reference_apply(params, inputs)
    assert outputs.shape == (4, 9, 2) and preacts.shape == (4, 9, 7)
    np.testing.assert_allclose(outputs, ref_out, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(preacts, ref_pre, rtol=1e-4, atol=1e-5)


def test_outputs_are_causal():
    # Padding after a sequence's end must not change the outputs up to its end.
    net = SparseTanhRNN(2, 20, 1)
    params = net.init_params(jax.random.key(5))
    x = jax.random.uniform(jax.random.key(6), (2, 12, 2))
    y = x.at[:, 8:].set(0.0)
    np.testing.assert_allclose(net.apply(params, x)[0][:, :8], net.apply(params, y)[0][:, :8], atol=1e-6)
    assert not np.allclose(net.apply(params, x)[0][:, 8:], net.apply(params, y)[0][:, 8:])


def test_gradient_matches_finite_differences_float64():
    with jax.enable_x64(True):
        net = SparseTanhRNN(2, 10, 2)
        params = net.init_params(jax.random.key(7))
        params["h0"] = 0.1 * jnp.ones(10)
        inputs = jax.random.uniform(jax.random.key(8), (3, 15, 2), jnp.float64)
        targets = jax.random.normal(jax.random.key(9), (3, 15, 2), jnp.float64)

        @jax.jit
        def loss(p):
            out, pre = net.apply(p, inputs)
            # Squared error plus a term on the pre-activations so every path of BPTT is checked.
            return 0.5 * jnp.sum((out - targets) ** 2) + 0.01 * jnp.sum(jnp.tanh(pre) ** 2)

        grad = jax.grad(loss)(params)
        assert all(g.dtype == jnp.float64 for g in jax.tree.leaves(grad))
        leaves, treedef = jax.tree.flatten(params)
        eps = 1e-6
        for i in range(4):
            direction = jax.tree.unflatten(
                treedef,
                [
                    jax.random.normal(k, x.shape, x.dtype)
                    for k, x in zip(
                        jax.random.split(jax.random.key(10 + i), len(leaves)), leaves, strict=True
                    )
                ],
            )
            plus = jax.tree.map(lambda p, d: p + eps * d, params, direction)
            minus = jax.tree.map(lambda p, d: p - eps * d, params, direction)
            fd = (loss(plus) - loss(minus)) / (2 * eps)
            analytic = sum(
                jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(grad), jax.tree.leaves(direction), strict=True)
            )
            assert float(analytic) == pytest.approx(float(fd), rel=1e-6, abs=1e-9)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="n_hidden"):
        SparseTanhRNN(2, 0, 1)
    with pytest.raises(ValueError, match="n_in"):
        SparseTanhRNN(2.5, 10, 1)
    with pytest.raises(ValueError, match="input_std"):
        SparseTanhRNN(2, 10, 1, input_std=-1.0)
    with pytest.raises(ValueError, match="recurrent_gain"):
        SparseTanhRNN(2, 10, 1, recurrent_gain=float("nan"))
    net = SparseTanhRNN(2, 10, 1)
    with pytest.raises(ValueError, match=r"\(B, T, 2\)"):
        net.apply(net.init_params(jax.random.key(0)), jnp.zeros((3, 5, 4)))


def test_lyapunov_exponent_is_the_log_spectral_radius_of_a_near_linear_network():
    # Tiny inputs keep tanh in its linear range (1 - h^2 = 1): the tangent is multiplied by a
    # scaled orthogonal W_rec^T every step, so its log growth per step is exactly log(scale).
    model = SparseTanhRNN(2, 30, 1)
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(30, 30)))
    params = model.init_params(jax.random.key(0))
    inputs = jax.random.uniform(jax.random.key(1), (6, 40, 2))
    for scale in (0.7, 1.0, 1.1):
        near_linear = {**params, "w_rec": jnp.asarray(scale * q, jnp.float32), "w_in": 1e-4 * params["w_in"]}
        near_linear["b"] = jnp.zeros_like(params["b"])
        value = float(model.lyapunov_exponent(near_linear, inputs, jax.random.key(2)))
        assert abs(value - np.log(scale)) < 1e-5
    # Saturated units forget faster: the thesis's ch. 4 scales give a clearly negative exponent.
    saturated = model.lyapunov_exponent(params, 5.0 * inputs, jax.random.key(2))
    assert float(saturated) < -0.1
    with pytest.raises(ValueError, match="burn_in must be in"):
        model.lyapunov_exponent(params, inputs, jax.random.key(2), burn_in=40)
