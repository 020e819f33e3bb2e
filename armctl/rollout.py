"""Differentiable closed-loop rollout of a controller through the plant.

``x[t+1] = f(x[t], u[t] * (1 + xi_u[t]) + d[t]) + xi_f[t]``, with the controller seeing the
state ``delay`` steps old. The per-step pieces (:func:`transition`, the delay line) are the
ones the Gymnasium environments call too, so both faces share one physics.

A controller is any object with

* ``initial_state(params, batch_size) -> carry``
* ``step(params, carry, observation, target) -> (carry, command, taps)`` where
  ``observation`` is the delayed state (B, 4), ``target`` the target state (B, 4),
  ``command`` the joint torques (B, 2) and ``taps`` a pytree of hidden pre-activations
  (used by structural damping; may be ``()``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from armctl import plant
from armctl.scan import remat_scan
from armctl.tasks import Task, TaskBatch


class Rollout(NamedTuple):
    """Result of :func:`simulate`, batch-major.

    ``states`` (B, T+1, 4) including the start state; ``commands`` (B, T, 2) the controller's
    commands before noise; ``torques`` (B, T, 2) the torques the arm received (noisy
    command plus disturbance); ``taps`` the controller's hidden pre-activations stacked over
    time with a leading (B, T) (``None`` unless requested).
    """

    states: jnp.ndarray
    commands: jnp.ndarray
    torques: jnp.ndarray
    taps: Any = None


# ----- the delay line: a shift register of the last delay+1 states ---------------------------
def delay_line_init(x0: jnp.ndarray, delay: int) -> jnp.ndarray:
    """A delay line filled with ``x0`` (the arm rested there before the episode)."""
    return jnp.broadcast_to(x0, (delay + 1,) + x0.shape)


def delay_line_push(line: jnp.ndarray, x: jnp.ndarray) -> jnp.ndarray:
    """Append the newest state, dropping the oldest."""
    return jnp.concatenate([line[1:], x[None]], axis=0)


def delay_line_read(line: jnp.ndarray) -> jnp.ndarray:
    """The state ``delay`` steps old."""
    return line[0]


def transition(
    task: Task, batch: TaskBatch, x: jnp.ndarray, u: jnp.ndarray, t
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """One plant step of the task at step ``t``: returns ``(x_next, applied_torque)``.

    ``batch`` fields may carry any leading batch shape matching ``x``; the per-step noise is
    ``batch.command_noise[..., t, :]`` and ``batch.plant_noise[..., t, :]``.
    """
    xi_u = jnp.take(batch.command_noise, t, axis=-2)
    xi_f = jnp.take(batch.plant_noise, t, axis=-2)
    tau = u * (1.0 + xi_u) + task.disturbance(batch, x[..., :2], t)
    return plant.step(task.arm, x, tau) + xi_f, tau


def simulate(
    controller, params, task: Task, batch: TaskBatch, *, return_taps: bool = False, remat_block: int = 0
) -> Rollout:
    """Roll the controller out on the task's batch of episodes (``lax.scan`` over time).

    Differentiable in ``params`` (and in the batch). ``controller`` and ``task`` are static
    (hashable), so ``jax.jit(simulate, static_argnums=(0, 2), static_argnames='return_taps')``
    compiles once per controller/task configuration. ``remat_block = k > 0`` rematerializes the
    scan in blocks of k steps (:func:`armctl.scan.remat_scan`): same values, and memory for
    differentiation that grows like sqrt(T) when k ~ sqrt(T).
    """
    task.validate_batch(batch)
    b = batch.size

    def body(carry, t):
        x, line, h = carry
        obs = delay_line_read(line)
        h, u, taps = controller.step(params, h, obs, batch.target)
        x_next, tau = transition(task, batch, x, u, t)
        line = delay_line_push(line, x_next)
        return (x_next, line, h), (x_next, u, tau, taps if return_taps else ())

    carry0 = (batch.x0, delay_line_init(batch.x0, task.delay), controller.initial_state(params, b))
    _, (xs, us, taus, taps) = remat_scan(body, carry0, jnp.arange(task.horizon), remat_block)
    states = jnp.concatenate([batch.x0[:, None], jnp.swapaxes(xs, 0, 1)], axis=1)
    batch_major = lambda a: jnp.swapaxes(a, 0, 1)
    return Rollout(
        states=states,
        commands=batch_major(us),
        torques=batch_major(taus),
        taps=jax.tree_util.tree_map(batch_major, taps) if return_taps else None,
    )
