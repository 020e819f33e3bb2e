"""A free command table: the open-loop "controller" iLQR optimizes (thesis 6.8).

Trained with HF through the same rollout and cost as the recurrent controllers, it must reach
iLQR's loss: both divide by the exact Gauss-Newton matrix of the same objective.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from armctl.plant import CONTROL_DIM


@dataclasses.dataclass(frozen=True)
class CommandTable:
    """Commands ``u_t = params[..., t, :]``: shape (T, 2) shared by all episodes, or (B, T, 2)
    with one table per episode. The carry is the step index."""

    horizon: int

    def init_params(self, key=None, batch_size: int | None = None) -> jnp.ndarray:
        shape = (self.horizon, CONTROL_DIM) if batch_size is None else (batch_size, self.horizon, CONTROL_DIM)
        return jnp.zeros(shape)

    def initial_state(self, params, batch_size: int):
        return jnp.zeros((), jnp.int32)

    def step(self, params, t, observation, target):
        u = jnp.take(params, t, axis=-2)
        return t + 1, jnp.broadcast_to(u, observation.shape[:-1] + (CONTROL_DIM,)), ()
