"""Online (receding-horizon) iLQR for the delayed, disturbed tasks (thesis ch. 6.1: "online
trajectory optimization").

At every step ``t`` the planner

1. reads the observation the RNN would get, the state ``delay`` steps old;
2. with ``predict_delay`` (default) predicts the current state by running its model forward
   from that observation through its own last ``delay`` commands (before the episode the arm
   rested with zero command, matching the delay line's start);
3. re-plans the rest of the episode from the (predicted) current state with a few iLQR
   iterations, warm-started from its previous plan shifted by one step (before step 0 it
   solves the whole episode open-loop on its model, to convergence, as the first plan);
4. applies the plan's first command.

The model is the task's own plant on a copy of the batch with the disturbance and every noise
draw zeroed: the planner does not know them. That is why it under-compensates constant
disturbances (it re-plans against a plant that keeps surprising it) -- the thesis's point.

Planning horizon: ``horizon=None`` (default) plans to the end of the episode, a horizon that
shrinks with the remaining steps; it is implemented as a fixed window of ``task.horizon``
steps whose part past the episode end carries no state cost (so its commands are optimal at
zero). An integer ``horizon`` plans over a fixed window of that many steps (truncated at the
episode end the same way); with end-point costs (DDN) such a planner has no reason to move
until the final step enters its window.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from armctl.baselines.ilqr import (
    cast_batch,
    float_dtype,
    ilqr,
    precision,
    rollout,
    solve_task,
    task_cost,
    task_dynamics,
)
from jax import lax

from armctl.rollout import Rollout
from armctl.tasks import Task, TaskBatch
from armctl.world import env_reset, env_step


def blind_batch(batch: TaskBatch) -> TaskBatch:
    """The planner's view of a batch: same starts and targets, no disturbance, no noise."""
    zero = jnp.zeros_like
    return batch._replace(
        joint_disturbance=zero(batch.joint_disturbance),
        hand_force=zero(batch.hand_force),
        command_noise=zero(batch.command_noise),
        plant_noise=zero(batch.plant_noise),
    )


@functools.partial(jax.jit, static_argnames=("task", "horizon", "predict_delay", "iters_per_step", "tol"))
def _online(task, batch, first_plans, *, horizon, predict_delay, iters_per_step, tol):
    steps, delay = task.horizon, task.delay

    def episode_rollout(ep: TaskBatch, model_ep: TaskBatch, first_plan):
        # Time indices past the episode only address the (zero) noise rows of the model batch.
        model_step = task_dynamics(task, model_ep)
        model = lambda x, u, s: model_step(x, u, jnp.clip(s, 0, steps - 1))

        def plan(x_now, t, warm):
            dynamics = lambda x, u, j: model(x, u, t + j)
            cost = task_cost(task, ep.target, offset=t)
            return ilqr(cost, dynamics, x_now, warm, max_iters=iters_per_step, tol=tol).commands

        def body(carry, _):
            world, obs, past, warm = carry
            t = world.t
            if predict_delay and delay > 0:
                x_now = rollout(lambda x, u, j: model(x, u, t - delay + j), obs, past)[-1]
            else:
                x_now = obs
            commands = plan(x_now, t, warm)
            u = commands[0]
            world, obs, parts = env_step(task, ep, world, u)
            if delay > 0:
                past = jnp.concatenate([past[1:], u[None]])
            # Warm start of the next step: this plan shifted by one, padded with a zero command.
            warm = jnp.concatenate([commands[1:], jnp.zeros_like(commands[:1])])
            return (world, obs, past, warm), (world.x, u, parts.torque)

        world, obs = env_reset(task, ep)
        carry0 = (world, obs, jnp.zeros((delay, 2), ep.x0.dtype), first_plan)
        _, (xs, us, taus) = lax.scan(body, carry0, None, length=steps)
        return jnp.concatenate([ep.x0[None], xs]), us, taus

    states, commands, torques = jax.vmap(episode_rollout)(batch, blind_batch(batch), first_plans)
    return Rollout(states=states, commands=commands, torques=torques)


def online_ilqr(
    task: Task,
    batch: TaskBatch,
    *,
    horizon: int | None = None,
    predict_delay: bool = True,
    iters_per_step: int = 2,
    initial_iters: int = 100,
    tol: float | None = None,
    dtype=jnp.float64,
) -> Rollout:
    """Run the receding-horizon iLQR controller on every episode of ``batch``.

    Args:
        task: the task (its delay, plant and cost); the true plant uses ``batch`` as sampled.
        batch: the same :class:`TaskBatch` the RNN is evaluated on.
        horizon: planning window in steps, ``None`` for "to the end of the episode" (see the
            module docstring).
        predict_delay: predict the current state from the delayed observation with the model
            and the planner's own past commands; ``False`` plans from the stale observation.
        iters_per_step: iLQR iterations per re-plan (warm-started).
        initial_iters: iteration cap of the first plan, the open-loop iLQR solution of the whole
            episode on the blind model (:func:`~armctl.baselines.ilqr.solve_task`), cut to the window.
        tol: relative tolerance of each re-plan; defaults to 1e-6 (float32) or 1e-10 (float64).
        dtype: planning precision, ``float64`` (default, see :func:`armctl.baselines.ilqr.solve_task`
            on float32) or ``float32``; the rollout is returned in the batch's dtype.

    Returns:
        :class:`~armctl.rollout.Rollout` with ``states`` (B, T+1, 4), ``commands`` (B, T, 2)
        and the ``torques`` the arm received; score it with ``task.metrics``.
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be an armctl Task, got {type(task).__name__}")
    task.validate_batch(batch)
    window = task.horizon if horizon is None else horizon
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= task.horizon:
        raise ValueError(f"horizon must be None or an integer in 1..{task.horizon}, got {horizon!r}")
    for name, value in (("iters_per_step", iters_per_step), ("initial_iters", initial_iters)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    dtype, out_dtype = float_dtype(dtype), batch.x0.dtype
    if tol is None:
        tol = 1e-10 if dtype == jnp.dtype(jnp.float64) else 1e-6
    with precision(dtype):
        batch = cast_batch(batch, dtype)
        first = solve_task(task, blind_batch(batch), dtype=dtype, max_iters=initial_iters, tol=tol)
        result = _online(
            task,
            batch,
            first.commands[:, :window],
            horizon=window,
            predict_delay=bool(predict_delay),
            iters_per_step=iters_per_step,
            tol=float(tol),
        )
        # Hand back the batch's dtype so task.metrics(states, commands, batch.target) just works.
        return jax.tree_util.tree_map(lambda a: a.astype(out_dtype), result)
