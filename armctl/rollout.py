"""Differentiable closed-loop rollout of a controller through the plant.

:func:`simulate` scans the world step :func:`armctl.world.env_step` (plant, noise, disturbance,
delay line) with the controller in the loop, so the rollout and the Gymnasium envs share one
physics and one step.

A controller is any object with

* ``initial_state(params, batch_size) -> carry``
* ``step(params, carry, observation, target) -> (carry, command, taps)`` where
  ``observation`` is the delayed state (B, 4), ``target`` the target state (B, 4),
  ``command`` the joint torques (B, 2) and ``taps`` a pytree of hidden pre-activations
  (used by structural damping; may be ``()``);
* optionally ``init_params(key) -> params``: then :func:`simulate` checks the parameters it
  is given against the shapes ``init_params`` makes;
* optionally ``perturbed_step(params, carry, observation, target, perturbation) -> (carry,
  command, taps, inputs)`` and ``preactivations(params, inputs)``, for a controller whose
  parameters enter only through affine pre-activations (see
  :meth:`armctl.controllers.arm.ArmController.perturbed_step`): :func:`simulate` then takes a
  ``perturbation`` of the pre-activations and returns the layer ``inputs``.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from armctl.checks import check_finite
from armctl.scan import remat_scan
from armctl.tasks import Task, TaskBatch
from armctl.world import env_reset, env_step


class Rollout(NamedTuple):
    """Result of :func:`simulate`, batch-major.

    ``states`` (B, T+1, 4) including the start state; ``commands`` (B, T, 2) the controller's
    commands before noise; ``torques`` (B, T, 2) the torques the arm received (noisy
    command plus disturbance); ``taps`` the controller's hidden pre-activations stacked over
    time with a leading (B, T) (``None`` unless requested); ``inputs`` the controller's layer
    inputs (``perturbed_step``'s) likewise (``None`` unless requested).
    """

    states: jnp.ndarray
    commands: jnp.ndarray
    torques: jnp.ndarray
    taps: Any = None
    inputs: Any = None


@functools.lru_cache(maxsize=256)
def _param_shapes(controller):
    return jax.eval_shape(controller.init_params, jax.random.PRNGKey(0))


def check_params(controller, params) -> None:
    """Raise ``ValueError`` naming the first parameter whose key or shape does not fit
    ``controller`` (compared with the abstract shapes of ``controller.init_params``, computed
    once per controller). A parameter may carry extra leading axes (a command table per
    episode). Controllers without ``init_params`` are not checked."""
    if not hasattr(controller, "init_params"):
        return
    try:
        expected = _param_shapes(controller)
    except TypeError:  # an unhashable controller: nothing to key the cache on
        expected = jax.eval_shape(controller.init_params, jax.random.PRNGKey(0))
    want = {
        jax.tree_util.keystr(path): leaf.shape for path, leaf in jax.tree_util.tree_leaves_with_path(expected)
    }
    got = {
        jax.tree_util.keystr(path): jnp.shape(leaf)
        for path, leaf in jax.tree_util.tree_leaves_with_path(params)
    }
    if want.keys() != got.keys():
        missing, extra = sorted(want.keys() - got.keys()), sorted(got.keys() - want.keys())
        raise ValueError(
            f"params do not fit {controller!r}: "
            f"missing {missing or 'nothing'}, unexpected {extra or 'nothing'}"
        )
    for key, shape in want.items():
        if got[key][len(got[key]) - len(shape) :] != shape or len(got[key]) < len(shape):
            raise ValueError(f"params{key} has shape {got[key]}; {controller!r} expects {shape}")


def simulate(
    controller,
    params,
    task: Task,
    batch: TaskBatch,
    *,
    return_taps: bool = False,
    remat_block: int = 0,
    perturbation=None,
    return_inputs: bool = False,
) -> Rollout:
    """Roll the controller out on the task's batch of episodes (``lax.scan`` of the world step).

    Differentiable in ``params`` (and in the batch). ``controller`` and ``task`` are static
    (hashable), so ``jax.jit(simulate, static_argnums=(0, 2), static_argnames='return_taps')``
    compiles once per controller/task configuration. ``remat_block = k > 0`` rematerializes the
    scan in blocks of k steps (:func:`armctl.scan.remat_scan`): same values, and memory for
    differentiation that grows like sqrt(T) when k ~ sqrt(T). Raises ``ValueError`` for a batch
    that does not fit the task or parameters that do not fit the controller, and, called eagerly
    (not under ``jit``/``grad``, where there are no values to look at), for NaN or inf in either.
    """
    task.validate_batch(batch)
    check_params(controller, params)
    check_finite("params", params)
    check_finite("batch", batch)

    factored = perturbation is not None or return_inputs
    if factored and not hasattr(controller, "perturbed_step"):
        raise ValueError(
            f"{type(controller).__name__} has no perturbed_step: it takes no perturbation and "
            "returns no layer inputs"
        )
    batch_major = lambda tree: jax.tree_util.tree_map(lambda a: jnp.swapaxes(a, 0, 1), tree)

    def body(carry, e):
        state, obs, h = carry
        if factored:
            h, u, taps, inputs = controller.perturbed_step(params, h, obs, batch.target, e)
        else:
            (h, u, taps), inputs = controller.step(params, h, obs, batch.target), ()
        state, obs, parts = env_step(task, batch, state, u)
        kept = (taps if return_taps else (), inputs if return_inputs else ())
        return (state, obs, h), (state.x, u, parts.torque, kept)

    state, obs = env_reset(task, batch)
    carry0 = (state, obs, controller.initial_state(params, batch.size))
    if perturbation is None:
        steps, scanned = lambda carry, _: body(carry, None), jnp.arange(task.horizon)
    else:
        steps, scanned = body, batch_major(perturbation)
    _, (xs, us, taus, (taps, inputs)) = remat_scan(steps, carry0, scanned, remat_block)
    return Rollout(
        states=jnp.concatenate([jnp.asarray(batch.x0)[:, None], batch_major(xs)], axis=1),
        commands=batch_major(us),
        torques=batch_major(taus),
        taps=batch_major(taps) if return_taps else None,
        inputs=batch_major(inputs) if return_inputs else None,
    )
