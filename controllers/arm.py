"""The thesis's arm controller (Sutskever 2013, sec. 6.4).

Two hidden layers of tanh units, each fully recurrent within itself but not across layers;
the inputs feed layer 1 and, through skip connections, layer 2; layer 1 feeds layer 2;
layer 2 feeds two output units, the shoulder and elbow torques::

    a1_t = W_in1 v_t + W_rec1 h1_{t-1} + b1                  h1_t = tanh(a1_t)
    a2_t = W_in2 v_t + W_12 h1_t + W_rec2 h2_{t-1} + b2      h2_t = tanh(a2_t)
    u_t  = torque_scale * (W_out h2_t + b_out)               (linear, the thesis's choice)
    u_t  = torque_scale * tanh(W_out h2_t + b_out)           (``bounded=True``)

``v_t`` is the delayed state and the target state ``(q1, q2, dq1, dq2, q1*, q2*, dq1*, dq2*)``;
velocities are multiplied by ``velocity_scale`` so all inputs are of order one (a fixed
rescaling of the input weights, which helps first-order optimizers and costs HF nothing).
``torque_scale`` sets the torque unit of the outputs (N m).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from armctl.controllers.init import init_matrix

INPUT_DIM = 8
OUTPUT_DIM = 2


@dataclasses.dataclass(frozen=True)
class ArmController:
    """Two-layer recurrent tanh controller; hashable, so it can be a static jit argument.

    Attributes:
        hidden: units in layer 1 and layer 2 (thesis: 100, 100).
        bounded: tanh outputs (torques within ``+-torque_scale``) instead of linear.
        torque_scale: torque units of the outputs (N m).
        velocity_scale: factor applied to the velocity inputs.
        init: ``'gaussian'`` (N(0, 1/fan_in)) or ``'sparse'`` (15 nonzero incoming weights
            per unit, Martens 2010).
        recurrent_gain: spectral-scale factor of the recurrent weights at initialization.
        output_gain: scale of the initial output weights (small: start near zero torque).
    """

    hidden: tuple[int, int] = (100, 100)
    bounded: bool = False
    torque_scale: float = 0.1
    velocity_scale: float = 0.2
    init: str = "gaussian"
    recurrent_gain: float = 1.0
    output_gain: float = 0.1

    def __post_init__(self):
        hidden = tuple(int(h) for h in self.hidden)
        if len(hidden) != 2 or min(hidden) < 1:
            raise ValueError(f"hidden must be two positive layer sizes, got {self.hidden!r}")
        object.__setattr__(self, "hidden", hidden)
        if self.init not in ("gaussian", "sparse"):
            raise ValueError(f"init must be 'gaussian' or 'sparse', got {self.init!r}")
        if not self.torque_scale > 0:
            raise ValueError(f"torque_scale must be > 0, got {self.torque_scale!r}")

    def init_params(self, key: jax.Array) -> dict:
        """Fresh parameters (a dict pytree of float32 arrays)."""
        h1, h2 = self.hidden
        k = jax.random.split(key, 6)
        mat = lambda key, n_in, n_out, gain=1.0: init_matrix(key, n_in, n_out, self.init, gain)
        return {
            "layer1": {
                "w_in": mat(k[0], INPUT_DIM, h1),
                "w_rec": mat(k[1], h1, h1, self.recurrent_gain),
                "b": jnp.zeros(h1),
            },
            "layer2": {
                "w_in": mat(k[2], INPUT_DIM, h2),
                "w_12": mat(k[3], h1, h2),
                "w_rec": mat(k[4], h2, h2, self.recurrent_gain),
                "b": jnp.zeros(h2),
            },
            "out": {
                "w": self.output_gain * jax.random.normal(k[5], (h2, OUTPUT_DIM)) / jnp.sqrt(h2),
                "b": jnp.zeros(OUTPUT_DIM),
            },
        }

    def initial_state(self, params: dict, batch_size: int) -> tuple[jnp.ndarray, jnp.ndarray]:
        h1, h2 = self.hidden
        dtype = params["out"]["w"].dtype
        return jnp.zeros((batch_size, h1), dtype), jnp.zeros((batch_size, h2), dtype)

    def inputs(self, observation: jnp.ndarray, target: jnp.ndarray) -> jnp.ndarray:
        scale = jnp.array([1.0, 1.0, self.velocity_scale, self.velocity_scale], observation.dtype)
        return jnp.concatenate([observation * scale, target * scale], axis=-1)

    def step(self, params: dict, carry, observation: jnp.ndarray, target: jnp.ndarray):
        """One control step: ``(carry, observation, target) -> (carry, torques, (a1, a2))``."""
        carry, u, taps, _ = self.perturbed_step(params, carry, observation, target, None)
        return carry, u, taps

    def perturbed_step(self, params: dict, carry, observation, target, perturbation):
        """:meth:`step` with ``perturbation`` (a pytree like :meth:`preactivations`' value, or
        ``None``) added to the pre-activations ``a1``, ``a2`` and ``out``; also returns the step's
        layer inputs, what each weight multiplies (:meth:`preactivations`).

        The parameters enter the step only through these affine pre-activations, so a change of
        parameters at fixed layer inputs is a perturbation of them: the Gauss-Newton product
        (:func:`armctl.optim.gn.gauss_newton_product`) multiplies by the Jacobian in the
        perturbation inside the scan and does the weights' part as a few large matmuls over all
        time steps at once, outside it.
        """
        h1, h2 = carry
        v = self.inputs(observation, target)
        e = perturbation if perturbation is not None else {}
        if set(e) - set(LAYER_WEIGHTS):
            raise ValueError(
                f"perturbation has keys {sorted(e)}; the pre-activations are {sorted(LAYER_WEIGHTS)}"
            )
        inputs = {"layer1": (v, h1)}
        a1 = _perturbed(_preactivation(params, "layer1", inputs["layer1"]), e.get("layer1"))
        h1 = jnp.tanh(a1)
        inputs["layer2"] = (v, h1, h2)
        a2 = _perturbed(_preactivation(params, "layer2", inputs["layer2"]), e.get("layer2"))
        h2 = jnp.tanh(a2)
        inputs["out"] = (h2,)
        out = _perturbed(_preactivation(params, "out", inputs["out"]), e.get("out"))
        u = self.torque_scale * (jnp.tanh(out) if self.bounded else out)
        return (h1, h2), u, (a1, a2), inputs

    @staticmethod
    def preactivations(params: dict, inputs: dict) -> dict:
        """The pre-activations ``{'layer1': a1, 'layer2': a2, 'out': out}`` that ``params`` make from
        the layer inputs :meth:`perturbed_step` returned (any leading axes, e.g. batch and time).
        Linear in ``params`` (biases included), so given a parameter *tangent* it is the
        pre-activations' tangent at fixed layer inputs."""
        return {name: _preactivation(params, name, inputs[name]) for name in LAYER_WEIGHTS}


#: Each layer's weights, in the order of the inputs they multiply (``x @ w`` summed, plus ``b``).
LAYER_WEIGHTS = {"layer1": ("w_in", "w_rec"), "layer2": ("w_in", "w_12", "w_rec"), "out": ("w",)}


def _preactivation(params: dict, layer: str, xs) -> jnp.ndarray:
    """``xs[0] @ w_0 + xs[1] @ w_1 + ... + b`` of one layer (this order: the sums round alike
    in every caller)."""
    weights, names = params[layer], LAYER_WEIGHTS[layer]
    a = xs[0] @ weights[names[0]]
    for name, x in zip(names[1:], xs[1:], strict=True):
        a = a + x @ weights[name]
    return a + weights["b"]


def _perturbed(a: jnp.ndarray, e) -> jnp.ndarray:
    return a if e is None else a + e
