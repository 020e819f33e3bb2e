"""The plain tanh RNN of the thesis (Sutskever 2013, sec. 2.5) for sequence problems::

    u_t = W_hv v_t + W_hh h_{t-1} + b_h        h_t = tanh(u_t)        o_t = W_oh h_t + b_o

``h_0`` is a parameter (the thesis's ``h0``).  ``o_t`` is returned before the output
nonlinearity: the loss applies the matching nonlinearity (identity for squared error, softmax
for cross-entropy), which is what the Gauss-Newton product of the optimizer core expects.

Initialization (thesis sec. 4.4, the pathological problems): every weight matrix is sparse with
15 nonzero incoming weights per unit (Martens 2010); the nonzero entries of ``W_hh`` and ``W_oh``
and the biases are drawn from ``N(0, 1/15)``, the nonzero entries of ``W_hv`` from ``N(0, 1)``.
``h_0`` starts at zero (the thesis does not say; zero keeps the first step driven by the input).

Two scales go beyond the thesis, which blames its failures on the initialization: ``input_std``
and ``recurrent_gain`` (the nonzero ``W_hh`` entries are ``N(0, recurrent_gain^2 / 15)``, so the
spectral radius is close to ``recurrent_gain`` by the circular law).  With the thesis's values the
inputs saturate the tanh units and an input 80 steps back changes ``h_T`` by less than float32
rounding (docs/RESULTS.md, temporal order); smaller inputs and a gain above 1 keep it visible.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from armctl.checks import check_integer
from armctl.controllers.init import SPARSE_FAN_IN, sparse_matrix
from armctl.scan import remat_scan


@dataclasses.dataclass(frozen=True)
class SparseTanhRNN:
    """Single-layer recurrent tanh network; hashable, so it can be a static jit argument.

    Attributes:
        n_in: input units (e.g. 2 for the addition problem, 100 for random permutation).
        n_hidden: tanh hidden units (thesis: 100).
        n_out: output units (1 for continuous targets, the alphabet size for symbolic ones).
        fan_in: nonzero incoming weights per unit in the sparse initialization.
        input_std: std of the nonzero input-to-hidden weights (thesis: 1).
        weight_std: std of the nonzero hidden-to-hidden and hidden-to-output weights and of the
            biases (thesis: ``sqrt(1/15)``).
        recurrent_gain: multiplies the nonzero hidden-to-hidden weights (thesis: 1); about the
            spectral radius of ``W_hh`` at initialization.
    """

    n_in: int
    n_hidden: int = 100
    n_out: int = 1
    fan_in: int = SPARSE_FAN_IN
    input_std: float = 1.0
    weight_std: float = 1.0 / math.sqrt(SPARSE_FAN_IN)
    recurrent_gain: float = 1.0

    def __post_init__(self):
        for name in ("n_in", "n_hidden", "n_out", "fan_in"):
            check_integer(name, getattr(self, name), 1)
        for name in ("input_std", "weight_std", "recurrent_gain"):
            value = getattr(self, name)
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")

    def init_params(self, key: jax.Array) -> dict:
        """Sparse initialization (thesis sec. 4.4) as a dict pytree of arrays in the default float dtype."""
        k_in, k_rec, k_out, k_b, k_bo = jax.random.split(key, 5)
        h = self.n_hidden
        sparse = lambda key, n_in, n_out, std: sparse_matrix(key, n_in, n_out, fan_in=self.fan_in, std=std)
        return {
            "w_in": sparse(k_in, self.n_in, h, self.input_std),
            "w_rec": sparse(k_rec, h, h, self.recurrent_gain * self.weight_std),
            "b": self.weight_std * jax.random.normal(k_b, (h,)),
            "h0": jnp.zeros(h),
            "w_out": sparse(k_out, h, self.n_out, self.weight_std),
            "b_out": self.weight_std * jax.random.normal(k_bo, (self.n_out,)),
        }

    def apply(
        self, params: dict, inputs: jnp.ndarray, remat_block: int = 0
    ) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Run the network on ``inputs`` (B, T, n_in); ``remat_block`` rematerializes the scan
        (:func:`armctl.scan.remat_scan`).

        Returns:
            ``(outputs, preacts)``: outputs ``o_t`` (B, T, n_out) before the output nonlinearity
            and hidden pre-activations ``u_t`` (B, T, n_hidden), the taps of structural damping.
        """
        if inputs.ndim != 3 or inputs.shape[-1] != self.n_in:
            raise ValueError(f"inputs must have shape (B, T, {self.n_in}), got {inputs.shape}")
        # Everything per step inside the scan, outputs included: on XLA's CPU backend a (T, B, H)
        # input projection outside the scan, or outputs read back from the stacked pre-activations,
        # cost more in memory traffic than they save in matmul size (bench/gn_product.py, the
        # library-RNN rows: objective 5.7x, gradient 2.5x, G v 3x faster than that layout).
        dtype = jnp.result_type(inputs, params["w_in"], params["w_rec"], params["b"])
        h0 = jnp.broadcast_to(params["h0"], (inputs.shape[0], self.n_hidden)).astype(dtype)

        def step(h, x_t):
            u = x_t @ params["w_in"] + h @ params["w_rec"] + params["b"]
            h = jnp.tanh(u)
            return h, (h @ params["w_out"] + params["b_out"], u)

        _, (outputs, preacts) = remat_scan(step, h0, jnp.swapaxes(inputs, 0, 1), remat_block)
        return jnp.swapaxes(outputs, 0, 1), jnp.swapaxes(preacts, 0, 1)

    def lyapunov_exponent(
        self, params: dict, inputs: jnp.ndarray, key: jax.Array, burn_in: int = 10
    ) -> jnp.ndarray:
        """How fast the network forgets: the mean log growth per step of a tangent vector carried
        through the hidden state's Jacobians ``diag(1 - h_t^2) W_rec^T`` along ``inputs`` (B, T,
        n_in), after ``burn_in`` steps, averaged over the sequences (the top Lyapunov exponent).

        ``-0.3`` means a change of the hidden state fades by ``e^-0.3`` per step, so an input 100
        steps back reaches the output ``e^-30`` weaker; near 0 it is carried along. The vector
        starts random (``key``) and is renormalized every step.
        """
        if inputs.ndim != 3 or inputs.shape[-1] != self.n_in:
            raise ValueError(f"inputs must have shape (B, T, {self.n_in}), got {inputs.shape}")
        if not 0 <= burn_in < inputs.shape[1]:
            raise ValueError(f"burn_in must be in [0, T = {inputs.shape[1]}), got {burn_in}")
        batch = inputs.shape[0]
        h0 = jnp.broadcast_to(params["h0"], (batch, self.n_hidden)).astype(inputs.dtype)
        v0 = jax.random.normal(key, (batch, self.n_hidden), inputs.dtype)
        v0 = v0 / jnp.linalg.norm(v0, axis=-1, keepdims=True)

        def step(carry, x_t):
            h, v = carry
            h = jnp.tanh(x_t @ params["w_in"] + h @ params["w_rec"] + params["b"])
            v = (v @ params["w_rec"]) * (1.0 - h * h)
            norm = jnp.linalg.norm(v, axis=-1, keepdims=True)
            return (h, v / norm), jnp.log(norm[:, 0])

        _, growth = jax.lax.scan(step, (h0, v0), jnp.swapaxes(inputs, 0, 1))
        return jnp.mean(growth[burn_in:])
