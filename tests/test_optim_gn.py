"""Gauss-Newton products against explicitly formed J^T H J (float64, tiny models).

Tolerances are norm-wise: a product computed through ``n`` parameters in floating point is within
``n eps ||M|| ||v||`` of the exact ``M v`` (the usual ``gamma_n`` bound of a matrix-vector product),
and the explicit matrix is computed to the same accuracy.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from armctl.optim import Factored, GNProduct, Problem, gauss_newton_product, losses

B, D_IN, HID, D_OUT = 5, 3, 4, 3
EPS64, EPS32 = np.finfo(np.float64).eps, np.finfo(np.float32).eps


def _mlp_outputs(params, batch):
    a = batch["x"] @ params["w1"] + params["b1"]  # the taps: hidden pre-activations
    return jnp.tanh(a) @ params["w2"] + params["b2"], a


def _control_outputs(params, batch):
    """Two output blocks (a 'state' and a 'command' trajectory), like the arm problem."""
    out, a = _mlp_outputs(params, batch)
    return (out[:, :2], out[:, 2:] ** 2 + out[:, :1]), {"hidden": a}


def _control_loss(out, batch):
    states, commands = out
    return (jnp.sum(2.0 * (states - batch["y"][:, :2]) ** 2) + 0.3 * jnp.sum(commands**2)) / states.shape[0]


def _mlp_preactivations(params, inputs):
    return {
        "hidden": inputs["hidden"] @ params["w1"] + params["b1"],
        "out": inputs["out"] @ params["w2"] + params["b2"],
    }


def _perturbed_mlp_outputs(params, batch, e):
    """:func:`_mlp_outputs` with ``e`` added to both layers' pre-activations, and the layer inputs."""
    e = e or {"hidden": 0.0, "out": 0.0}
    a = batch["x"] @ params["w1"] + params["b1"] + e["hidden"]
    inputs = {"hidden": batch["x"], "out": jnp.tanh(a)}
    return (inputs["out"] @ params["w2"] + params["b2"] + e["out"], a), inputs


PROBLEMS = {
    "squared_error": Problem(_mlp_outputs, lambda o, b: losses.squared_error(o, b["y"])),
    "logistic": Problem(_mlp_outputs, lambda o, b: losses.logistic_cross_entropy(o, b["p"])),
    "softmax": Problem(_mlp_outputs, lambda o, b: losses.softmax_cross_entropy(o, b["labels"], b["mask"])),
    "control": Problem(_control_outputs, _control_loss),
    # The same model as squared_error's, multiplied through its pre-activations (Factored).
    "factored": Problem(
        _mlp_outputs,
        lambda o, b: losses.squared_error(o, b["y"]),
        factored=Factored(_perturbed_mlp_outputs, _mlp_preactivations),
    ),
}


def _setup(dtype=jnp.float64):
    k = jax.random.split(jax.random.PRNGKey(0), 8)
    params = {
        "w1": jax.random.normal(k[0], (D_IN, HID), dtype),
        "b1": 0.1 * jax.random.normal(k[1], (HID,), dtype),
        "w2": jax.random.normal(k[2], (HID, D_OUT), dtype),
        "b2": jnp.zeros(D_OUT, dtype),
    }
    batch = {
        "x": jax.random.normal(k[3], (B, D_IN), dtype),
        "y": jax.random.normal(k[4], (B, D_OUT), dtype),
        "p": jax.random.uniform(k[5], (B, D_OUT), dtype),
        "labels": jax.random.randint(k[6], (B,), 0, D_OUT),
        "mask": jnp.array([1.0, 1.0, 0.0, 1.0, 1.0], dtype),
    }
    v = jax.tree_util.tree_map(lambda p: jax.random.normal(k[7], p.shape, dtype), params)
    return params, batch, v


def _explicit(problem, params, batch, lam, mu):
    """J^T H_L J + lam mu J_t^T H_D J_t + lam I with J by jacfwd and H by jax.hessian."""
    flat, unravel = ravel_pytree(params)
    out0, taps0 = problem.outputs(params, batch)
    out_flat0, unravel_out = ravel_pytree(out0)
    jac = jax.jacfwd(lambda f: ravel_pytree(problem.outputs(unravel(f), batch)[0])[0])(flat)
    hess = jax.hessian(lambda o: problem.loss(unravel_out(o), batch))(out_flat0)
    g = jac.T @ hess @ jac
    taps_flat = ravel_pytree(taps0)[0]
    jac_t = jax.jacfwd(lambda f: ravel_pytree(problem.outputs(unravel(f), batch)[1])[0])(flat)
    h_d = (1.0 - jnp.tanh(taps_flat) ** 2) / B
    return g + lam * mu * jac_t.T @ (h_d[:, None] * jac_t) + lam * jnp.eye(flat.size), flat.size


@pytest.mark.parametrize("name", sorted(PROBLEMS))
@pytest.mark.parametrize("lam,mu", [(0.0, 0.0), (0.7, 0.0), (0.7, 0.3)])
def test_gv_matches_explicit_matrix(name, lam, mu):
    with jax.enable_x64(True):
        problem = PROBLEMS[name]
        params, batch, v = _setup()
        gnp = gauss_newton_product(problem, params, batch, damping=lam, structural=mu)
        assert isinstance(gnp, GNProduct)
        assert (gnp.preactivations is None) == (problem.factored is None)
        mat, n = _explicit(problem, params, batch, lam, mu)
        got, v_flat = ravel_pytree(gnp(v))[0], ravel_pytree(v)[0]
        error = np.linalg.norm(got - mat @ v_flat)
        assert error <= n * EPS64 * np.linalg.norm(mat, 2) * np.linalg.norm(v_flat), error


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_gv_is_symmetric_psd(name):
    with jax.enable_x64(True):
        params, batch, _ = _setup()
        gnp = gauss_newton_product(PROBLEMS[name], params, batch, damping=0.0, structural=0.0)
        flat, unravel = ravel_pytree(params)
        cols = [ravel_pytree(gnp(unravel(e)))[0] for e in np.eye(flat.size)]
        g = np.stack(cols, axis=1)
        scale = flat.size * EPS64 * np.linalg.norm(g, 2)  # each column within n eps ||G|| of exact
        assert np.linalg.norm(g - g.T, 2) <= scale
        assert np.linalg.eigvalsh(0.5 * (g + g.T)).min() >= -scale
        assert np.linalg.norm(g) > 1e-3  # not trivially zero


def test_gv_float32_and_damping_change_without_new_linearization():
    params, batch, v = _setup(jnp.float32)
    batch = {k: (x.astype(jnp.float32) if x.dtype == jnp.float64 else x) for k, x in batch.items()}
    gnp = gauss_newton_product(PROBLEMS["squared_error"], params, batch, damping=0.5)
    out = gnp(v)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(out))
    more = gnp.with_damping(1.5)(v)
    # G v is the same computation in both; (G v + 1.5 v) - (G v + 0.5 v) = v up to one rounding
    # of each sum and of the difference
    diff, v_flat = ravel_pytree(more)[0] - ravel_pytree(out)[0], ravel_pytree(v)[0]
    bound = 2 * EPS32 * (np.linalg.norm(ravel_pytree(more)[0]) + np.linalg.norm(ravel_pytree(out)[0]))
    assert np.linalg.norm(diff - v_flat) <= bound


def test_structural_damping_needs_taps_and_valid_arguments():
    params, batch, _ = _setup(jnp.float32)
    no_taps = Problem(lambda p, b: (_mlp_outputs(p, b)[0], ()), PROBLEMS["squared_error"].loss)
    with pytest.raises(ValueError, match="taps"):
        gauss_newton_product(no_taps, params, batch, damping=1.0, structural=0.5)
    with pytest.raises(ValueError, match="damping must be a finite number >= 0, got -1.0"):
        gauss_newton_product(PROBLEMS["squared_error"], params, batch, damping=-1.0)
    with pytest.raises(ValueError, match="structural must be a finite number >= 0, got 'a'"):
        gauss_newton_product(PROBLEMS["squared_error"], params, batch, structural="a")
    with pytest.raises(ValueError, match="damping must be a finite number >= 0, got nan"):
        gauss_newton_product(PROBLEMS["squared_error"], params, batch).with_damping(float("nan"))
    with pytest.raises(ValueError, match="tap_nonlinearity"):
        gauss_newton_product(Problem(_mlp_outputs, PROBLEMS["squared_error"].loss, "relu"), params, batch)
    with pytest.raises(TypeError, match="pair"):
        gauss_newton_product(Problem(lambda p, b: p["w1"], PROBLEMS["squared_error"].loss), params, batch)
    with pytest.raises(TypeError, match="Problem"):
        gauss_newton_product((_mlp_outputs, None), params, batch)


def test_losses_values_and_validation():
    # float32 values of a few operations each: within a few roundings (16 eps) of float64's
    rtol = 16 * EPS32
    logits = jnp.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0]])
    labels = jnp.array([0, 2])
    expected = -np.mean(np.log(np.exp([2.0, 0.0]) / np.exp(np.asarray(logits)).sum(1)))
    np.testing.assert_allclose(losses.softmax_cross_entropy(logits, labels), expected, rtol=rtol)
    masked = losses.softmax_cross_entropy(logits, labels, jnp.array([1.0, 0.0]))
    np.testing.assert_allclose(masked, -np.log(np.exp(2.0) / np.exp([2.0, -1.0, 0.5]).sum()) / 2, rtol=rtol)
    z, t = jnp.array([[3.0, -2.0]]), jnp.array([[1.0, 0.25]])
    s = 1 / (1 + np.exp(-np.asarray(z)))
    bce = -(t * np.log(s) + (1 - t) * np.log(1 - s)).sum()
    np.testing.assert_allclose(losses.logistic_cross_entropy(z, t), bce, rtol=rtol)
    np.testing.assert_allclose(losses.squared_error(z, t), 0.5 * ((3 - 1) ** 2 + (-2.25) ** 2), rtol=rtol)
    with pytest.raises(ValueError, match="labels shape"):
        losses.softmax_cross_entropy(logits, jnp.array([0]))
    with pytest.raises(TypeError, match="integers"):
        losses.softmax_cross_entropy(logits, jnp.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="mask"):
        losses.softmax_cross_entropy(logits, labels, jnp.ones(3))
    with pytest.raises(ValueError, match="targets shape"):
        losses.squared_error(z, jnp.ones((2, 2)))
