"""Gated recurrent arm controllers: GRU and LSTM layers in place of the thesis's tanh layers.

Same interface as :class:`armctl.controllers.arm.ArmController` (``init_params``,
``initial_state``, ``step``: see :mod:`armctl.rollout`), the same inputs (the delayed state and
the target state, velocities scaled by ``velocity_scale``) and the same linear torque output, so
``armctl train --controller gru`` changes the network and nothing else. ``hidden`` lists the
sizes of stacked layers (each feeds the next; the last feeds the output).

GRU (Cho et al. 2014)::

    z = sigma(W_z x + U_z h + b_z)       r = sigma(W_r x + U_r h + b_r)
    a = W_n x + r * (U_n h) + b_n        h' = (1 - z) * tanh(a) + z * h

LSTM (with forget gates, Gers et al. 1999; forget bias 1)::

    i, f, o = sigma(W x + U h + b)_{i,f,o}     a = (W x + U h + b)_g
    c' = f * c + i * tanh(a)                   h' = o * tanh(c')

The taps (structural damping's hidden pre-activations, tanh units) are the candidate
pre-activations ``a`` of every layer.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from armctl.controllers.arm import INPUT_DIM, OUTPUT_DIM
from armctl.controllers.init import gaussian_matrix


@dataclasses.dataclass(frozen=True)
class GatedController:
    """Stacked gated layers (``cell`` ``'gru'`` or ``'lstm'``) and a linear torque output."""

    cell: str = "gru"
    hidden: tuple[int, ...] = (100,)
    torque_scale: float = 0.1
    velocity_scale: float = 0.2
    output_gain: float = 0.1

    def __post_init__(self):
        if self.cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', got {self.cell!r}")
        hidden = (self.hidden,) if isinstance(self.hidden, int) else tuple(self.hidden)
        if not hidden or not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden):
            raise ValueError(f"hidden must be positive layer sizes, got {self.hidden!r}")
        object.__setattr__(self, "hidden", hidden)
        if not self.torque_scale > 0:
            raise ValueError(f"torque_scale must be > 0, got {self.torque_scale!r}")

    @property
    def _gates(self) -> int:
        return 3 if self.cell == "gru" else 4

    def init_params(self, key: jax.Array) -> dict:
        """Gaussian ``N(0, 1/fan_in)`` weights, zero biases (LSTM: forget bias 1), a small output."""
        keys = jax.random.split(key, len(self.hidden) + 1)
        layers, n_in = [], INPUT_DIM
        for k, h in zip(keys[:-1], self.hidden, strict=True):
            k_w, k_u = jax.random.split(k)
            b = jnp.zeros(self._gates * h)
            if self.cell == "lstm":
                b = b.at[h : 2 * h].set(1.0)  # gate order i, f, o, g: forget gates start open
            layers.append(
                {
                    "w": gaussian_matrix(k_w, n_in, self._gates * h),
                    "u": gaussian_matrix(k_u, h, self._gates * h),
                    "b": b,
                }
            )
            n_in = h
        out = {
            "w": self.output_gain * jax.random.normal(keys[-1], (n_in, OUTPUT_DIM)) / jnp.sqrt(n_in),
            "b": jnp.zeros(OUTPUT_DIM),
        }
        return {"layers": layers, "out": out}

    def initial_state(self, params: dict, batch_size: int) -> tuple:
        dtype = params["out"]["w"].dtype
        zeros = [jnp.zeros((batch_size, h), dtype) for h in self.hidden]
        return tuple(zeros) if self.cell == "gru" else tuple((z, z) for z in zeros)

    def inputs(self, observation: jnp.ndarray, target: jnp.ndarray) -> jnp.ndarray:
        scale = jnp.array([1.0, 1.0, self.velocity_scale, self.velocity_scale], observation.dtype)
        return jnp.concatenate([observation * scale, target * scale], axis=-1)

    def step(self, params: dict, carry, observation: jnp.ndarray, target: jnp.ndarray):
        """One control step: ``(carry, observation, target) -> (carry, torques, taps)``."""
        x, new_carry, taps = self.inputs(observation, target), [], []
        for layer, state, h_size in zip(params["layers"], carry, self.hidden, strict=True):
            if self.cell == "gru":
                h = state
                wx, uh = x @ layer["w"] + layer["b"], h @ layer["u"]
                z = jax.nn.sigmoid(wx[:, :h_size] + uh[:, :h_size])
                r = jax.nn.sigmoid(wx[:, h_size : 2 * h_size] + uh[:, h_size : 2 * h_size])
                a = wx[:, 2 * h_size :] + r * uh[:, 2 * h_size :]
                h = (1.0 - z) * jnp.tanh(a) + z * h
                new_carry.append(h)
            else:
                h, c = state
                g = x @ layer["w"] + h @ layer["u"] + layer["b"]
                i, f, o = (jax.nn.sigmoid(g[:, k * h_size : (k + 1) * h_size]) for k in range(3))
                a = g[:, 3 * h_size :]
                c = f * c + i * jnp.tanh(a)
                h = o * jnp.tanh(c)
                new_carry.append((h, c))
            taps.append(a)
            x = h
        u = self.torque_scale * (x @ params["out"]["w"] + params["out"]["b"])
        return tuple(new_carry), u, tuple(taps)


def gru(
    hidden: tuple[int, ...] = (100,),
    torque_scale: float = 0.1,
    velocity_scale: float = 0.2,
    output_gain: float = 0.1,
) -> GatedController:
    """A GRU arm controller (``hidden``: stacked layer sizes)."""
    return GatedController("gru", hidden, torque_scale, velocity_scale, output_gain)


def lstm(
    hidden: tuple[int, ...] = (100,),
    torque_scale: float = 0.1,
    velocity_scale: float = 0.2,
    output_gain: float = 0.1,
) -> GatedController:
    """An LSTM arm controller (``hidden``: stacked layer sizes)."""
    return GatedController("lstm", hidden, torque_scale, velocity_scale, output_gain)
