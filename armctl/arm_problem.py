"""The arm-control problem in Gauss-Newton form: outputs are the state and command trajectories."""

from __future__ import annotations

import functools

import jax.numpy as jnp

from armctl.optim import Factored, Problem
from armctl.rollout import simulate


@functools.cache  # one Problem per (controller, task), so jitted functions keyed on it compile once
def arm_problem(controller, task, remat_block: int = 0) -> Problem:
    """``Problem`` for training ``controller`` on ``task`` (both hashable).

    ``outputs``: ``(states[:, 1:], commands)`` of the closed-loop rollout and the controller's
    taps (hidden pre-activations, tanh units); ``loss``: ``task.loss`` on the full trajectory.
    The task cost is quadratic in states and commands, so ``H_L`` is exact and the GN matrix is
    the one iLQR divides by (thesis 6.8). ``remat_block``: see :func:`armctl.rollout.simulate`.
    A controller with ``perturbed_step`` (the thesis's) also gets the problem's
    :class:`~armctl.optim.Factored` view, which makes Gauss-Newton products cheaper.
    """

    def rollout(params, batch, **options):
        r = simulate(controller, params, task, batch, return_taps=True, remat_block=remat_block, **options)
        return ((r.states[:, 1:], r.commands), r.taps), r.inputs

    def outputs(params, batch):
        return rollout(params, batch)[0]

    def loss(out, batch):
        states, commands = out
        full = jnp.concatenate([batch.x0[:, None], states], axis=1)
        return task.loss(full, commands, batch.target)

    if not hasattr(controller, "perturbed_step"):
        return Problem(outputs, loss, "tanh")

    def perturbed_outputs(params, batch, perturbation):
        return rollout(params, batch, perturbation=perturbation, return_inputs=True)

    return Problem(outputs, loss, "tanh", Factored(perturbed_outputs, controller.preactivations))
