"""Iterative LQR (Li & Todorov 2004) on the armctl plant: the gold standard on center-out.

:func:`ilqr` is a pure, trajax-style solver for one open-loop command sequence::

    minimize_U  sum_{t=0..T} cost(x_t, u_t, t)   s.t.  x_{t+1} = dynamics(x_t, u_t, t),  x_0 given

with the trajax convention that the terminal cost is ``cost(x_T, 0, T)`` (the command slot of
the last call is zero). Derivatives come from JAX (Jacobians of the dynamics, exact gradients
and Hessians of the cost); the backward pass drops the dynamics' second derivatives, so each
iteration divides by the exact Gauss-Newton matrix of the objective (thesis sec. 6.8: HF on a
command table converges to the same solution). Steps are safeguarded by Levenberg-Marquardt
regularization of ``Q_uu`` and a backtracking line search on the feedforward term (all step
sizes are tried at once, vectorized). ``jit``/``vmap`` work through it.

:func:`solve_task` applies it to every episode of a :class:`~armctl.tasks.TaskBatch` with the
task's own cost pieces and the world step :func:`armctl.world.env_step` as the dynamics, so the
objective is exactly ``task.cost`` and the batch's noise and disturbance (if any) are respected.
:func:`reference_loss` is the cached mean center-out iLQR loss the trainer divides by.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import pathlib
import warnings
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.linalg import cho_factor, cho_solve

from armctl.rollout import Rollout
from armctl.tasks import CenterOut, Task, TaskBatch
from armctl.world import env_reset, env_step, transition

#: Bump when a change to the solver changes its results, to invalidate cached reference losses.
SOLVER_VERSION = 1


class ILQRResult(NamedTuple):
    """Solution of one iLQR problem (every field gains a leading batch axis under ``vmap``).

    ``states`` (T+1, n) the trajectory from ``x0``; ``commands`` (T, m) the open-loop commands;
    ``cost`` the objective; ``iterations`` backward passes run; ``gains`` (T, m, n) time-varying
    feedback gains of the final backward pass, ``u_t = commands_t + gains_t (x_t - states_t)``;
    ``gradient_norm`` the norm of d cost / d commands at the solution; ``converged`` whether the
    tolerance was met (False: iteration cap or regularization limit hit); ``cost_history``
    (max_iters+1,) the cost after each iteration, entries past ``iterations`` repeat the final cost.
    """

    states: jnp.ndarray
    commands: jnp.ndarray
    cost: jnp.ndarray
    iterations: jnp.ndarray
    gains: jnp.ndarray
    gradient_norm: jnp.ndarray
    converged: jnp.ndarray
    cost_history: jnp.ndarray


class _Linearization(NamedTuple):
    fx: jnp.ndarray  # (T, n, n)
    fu: jnp.ndarray  # (T, n, m)
    lx: jnp.ndarray  # (T+1, n)
    lu: jnp.ndarray  # (T, m)
    lxx: jnp.ndarray  # (T+1, n, n)
    luu: jnp.ndarray  # (T, m, m)
    lux: jnp.ndarray  # (T, m, n)


class _BackwardPass(NamedTuple):
    feedforward: jnp.ndarray  # (T, m)
    gains: jnp.ndarray  # (T, m, n)
    gradient: jnp.ndarray  # (T, m), d cost / d commands (exact adjoint, independent of mu)
    expected: jnp.ndarray  # (2,), predicted change a * expected[0] + a^2 * expected[1] for step a
    ok: jnp.ndarray  # Q_uu + mu I was positive definite at every step


def rollout(dynamics: Callable, x0: jnp.ndarray, commands: jnp.ndarray) -> jnp.ndarray:
    """States (T+1, n) of the open-loop command sequence ``commands`` (T, m) from ``x0``."""

    def body(x, inputs):
        u, t = inputs
        x_next = dynamics(x, u, t)
        return x_next, x_next

    _, xs = lax.scan(body, x0, (commands, jnp.arange(commands.shape[0])))
    return jnp.concatenate([x0[None], xs])


def _padded(commands: jnp.ndarray) -> jnp.ndarray:
    # The terminal cost is cost(x_T, 0, T): pad the commands with one zero row.
    return jnp.concatenate([commands, jnp.zeros_like(commands[:1])])


def trajectory_cost(cost: Callable, states: jnp.ndarray, commands: jnp.ndarray) -> jnp.ndarray:
    """``sum_{t<T} cost(x_t, u_t, t) + cost(x_T, 0, T)``."""
    steps = jnp.arange(states.shape[0])
    return jnp.sum(jax.vmap(cost)(states, _padded(commands), steps))


def _linearize(cost, dynamics, states, commands) -> _Linearization:
    steps = jnp.arange(states.shape[0])
    padded = _padded(commands)
    fx, fu = jax.vmap(jax.jacfwd(dynamics, argnums=(0, 1)))(states[:-1], commands, steps[:-1])
    lx, lu = jax.vmap(jax.grad(cost, argnums=(0, 1)))(states, padded, steps)
    (lxx, _), (lux, luu) = jax.vmap(jax.hessian(cost, argnums=(0, 1)))(states, padded, steps)
    return _Linearization(fx, fu, lx, lu[:-1], lxx, luu[:-1], lux[:-1])


def _backward_pass(lin: _Linearization, mu) -> _BackwardPass:
    """Riccati recursion of the local LQ problem with ``Q_uu`` regularized by ``mu I``.

    The value function update uses the unregularized ``Q_uu`` with the regularized gains
    (Tassa et al. 2012), so it stays the true quadratic model of the cost-to-go under them.
    """
    eye = jnp.eye(lin.lu.shape[-1], dtype=lin.lu.dtype)

    def body(carry, d):
        vx, vxx, adjoint = carry
        fx, fu, lx, lu, lxx, luu, lux = d
        qx = lx + fx.T @ vx
        qu = lu + fu.T @ vx
        qxx = lxx + fx.T @ vxx @ fx
        quu = luu + fu.T @ vxx @ fu
        qux = lux + fu.T @ vxx @ fx
        # Cholesky of a non-positive-definite matrix yields NaN, which `ok` below detects.
        factor = cho_factor(quu + mu * eye, lower=True)
        k = -cho_solve(factor, qu)
        gain = -cho_solve(factor, qux)
        vx = qx + gain.T @ quu @ k + gain.T @ qu + qux.T @ k
        vxx = qxx + gain.T @ quu @ gain + gain.T @ qux + qux.T @ gain
        vxx = 0.5 * (vxx + vxx.T)
        # The adjoint recursion gives the exact gradient of the cost along the current trajectory.
        gradient = lu + fu.T @ adjoint
        adjoint = lx + fx.T @ adjoint
        expected = jnp.stack([k @ qu, 0.5 * k @ quu @ k])
        return (vx, vxx, adjoint), (k, gain, gradient, expected)

    carry0 = (lin.lx[-1], lin.lxx[-1], lin.lx[-1])
    xs = (lin.fx, lin.fu, lin.lx[:-1], lin.lu, lin.lxx[:-1], lin.luu, lin.lux)
    _, (k, gains, gradient, expected) = lax.scan(body, carry0, xs, reverse=True)
    ok = jnp.all(jnp.isfinite(k)) & jnp.all(jnp.isfinite(gains))
    return _BackwardPass(k, gains, gradient, jnp.sum(expected, axis=0), ok)


def _forward_pass(cost, dynamics, x0, states, commands, bp: _BackwardPass, step):
    """Closed-loop rollout ``u_t = commands_t + step k_t + K_t (x_t - states_t)``."""

    def body(x, inputs):
        x_ref, u_ref, k, gain, t = inputs
        u = u_ref + step * k + gain @ (x - x_ref)
        x_next = dynamics(x, u, t)
        return x_next, (x_next, u)

    steps = jnp.arange(commands.shape[0])
    _, (xs, us) = lax.scan(body, x0, (states[:-1], commands, bp.feedforward, bp.gains, steps))
    new_states = jnp.concatenate([x0[None], xs])
    return new_states, us, trajectory_cost(cost, new_states, us)


def _check_problem(x0, commands, max_iters, tol, line_search_steps) -> None:
    if jnp.ndim(x0) != 1:
        raise ValueError(f"x0 must be one state vector of shape (n,), got shape {jnp.shape(x0)}")
    if jnp.ndim(commands) != 2 or commands.shape[0] < 1:
        raise ValueError(f"commands must have shape (T, m) with T >= 1, got shape {jnp.shape(commands)}")
    if not isinstance(max_iters, int) or max_iters < 1:
        raise ValueError(f"max_iters must be an integer >= 1, got {max_iters!r}")
    if not isinstance(line_search_steps, int) or line_search_steps < 1:
        raise ValueError(f"line_search_steps must be an integer >= 1, got {line_search_steps!r}")
    if not (isinstance(tol, (int, float)) and tol >= 0):
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")


def ilqr(
    cost: Callable,
    dynamics: Callable,
    x0: jnp.ndarray,
    commands: jnp.ndarray,
    *,
    max_iters: int = 100,
    tol: float = 1e-6,
    grad_tol: float = 0.0,
    mu_min: float = 1e-6,
    mu_max: float = 1e10,
    mu_factor: float = 10.0,
    line_search_steps: int = 10,
    armijo: float = 1e-4,
) -> ILQRResult:
    """Optimize the open-loop ``commands`` (T, m) from ``x0`` (n,) by iLQR.

    Args:
        cost: ``cost(x, u, t) -> scalar``, called for t = 0..T with ``u = 0`` at t = T.
        dynamics: ``dynamics(x, u, t) -> x_next`` for t = 0..T-1.
        x0: start state.
        commands: initial command sequence (warm start).
        max_iters: cap on iterations (backward passes).
        tol: stop when the (at most ``mu_min``-regularized) Gauss-Newton model predicts, or a
            full step achieves, a relative decrease of the cost below ``tol``.
        grad_tol: also stop when ``||d cost / d commands|| <= grad_tol`` (absolute).
        mu_min, mu_max, mu_factor: Levenberg-Marquardt schedule. ``mu`` starts at 0 (pure
            Gauss-Newton), is raised to at least ``mu_min`` and multiplied by ``mu_factor``
            whenever no step size decreases the cost, and divided by ``mu_factor`` (down to 0)
            after each accepted step; above ``mu_max`` the solver gives up.
        line_search_steps: step sizes ``1, 1/2, ..., 2^-(line_search_steps-1)`` are tried.
        armijo: sufficient-decrease fraction of the model's predicted decrease.

    Returns:
        :class:`ILQRResult`. The cost never increases from one iteration to the next.
    """
    _check_problem(x0, commands, max_iters, tol, line_search_steps)
    dtype = commands.dtype
    step_sizes = 0.5 ** jnp.arange(line_search_steps, dtype=dtype)
    tiny = jnp.finfo(dtype).tiny
    states = rollout(dynamics, x0, commands)
    cost0 = trajectory_cost(cost, states, commands)

    def line_search(bp, states, commands, value, skip):
        """The first of ``step_sizes`` (largest first) whose rollout decreases the cost by at least
        ``armijo`` times the model's prediction: ``(found, full_step, states, commands, value)``.

        Tried one at a time, stopping at the first good one (usually the full step): trying all of
        them at once, vectorized, cost a third of the solver's time for rollouts thrown away."""

        def trial(carry):
            j, _, kept = carry
            step = step_sizes[j]
            new = _forward_pass(cost, dynamics, x0, states, commands, bp, step)
            model = step * bp.expected[0] + step**2 * bp.expected[1]
            good = jnp.isfinite(new[2]) & (new[2] < value) & (new[2] - value <= armijo * model)
            return j + 1, good, tuple(jnp.where(good, a, b) for a, b in zip(new, kept, strict=True))

        carry0 = (0, False, (states, commands, value))
        tried, found, (states, commands, value) = lax.while_loop(
            lambda c: ~c[1] & (c[0] < line_search_steps) & ~skip, trial, carry0
        )
        return found, tried == 1, states, commands, value

    def iterate(carry):
        states, commands, value, mu, i, _, _, history = carry
        bp = _backward_pass(_linearize(cost, dynamics, states, commands), mu)
        # Decrease the full step should achieve. Only trusted near pure Gauss-Newton: a large mu
        # shrinks the step, and with it the prediction, far from the optimum.
        predicted = -(bp.expected[0] + bp.expected[1])
        model_done = (mu <= mu_min) & (predicted <= tol * jnp.abs(value))
        done_now = bp.ok & (model_done | (jnp.linalg.norm(bp.gradient) <= grad_tol))
        found, full_step, trial_states, trial_commands, trial_value = line_search(
            bp, states, commands, value, skip=~bp.ok | done_now
        )
        take = found  # the line search is skipped when done_now
        new_value = jnp.where(take, trial_value, value)
        relative = (value - new_value) / jnp.maximum(jnp.abs(value), tiny)
        converged = done_now | (take & full_step & (relative <= tol))
        mu_down = jnp.where(mu / mu_factor > mu_min, mu / mu_factor, 0.0)
        mu_up = jnp.maximum(mu_min, mu * mu_factor)
        mu = jnp.where(take, mu_down, jnp.where(done_now, mu, mu_up))
        given_up = mu > mu_max
        states = jnp.where(take, trial_states, states)
        commands = jnp.where(take, trial_commands, commands)
        history = jnp.where(jnp.arange(history.shape[0]) > i, new_value, history)
        stop = converged | given_up | (i + 1 >= max_iters)
        return states, commands, new_value, mu, i + 1, stop, converged, history

    history0 = jnp.full((max_iters + 1,), cost0)
    carry0 = (states, commands, cost0, jnp.zeros((), dtype), 0, False, False, history0)
    states, commands, value, mu, iters, _, converged, history = lax.while_loop(
        lambda c: ~c[5], iterate, carry0
    )
    # One more backward pass so the gains and gradient belong to the returned trajectory.
    bp = _backward_pass(_linearize(cost, dynamics, states, commands), mu)
    return ILQRResult(
        states=states,
        commands=commands,
        cost=value,
        iterations=iters,
        gains=bp.gains,
        gradient_norm=jnp.linalg.norm(bp.gradient),
        converged=converged,
        cost_history=history,
    )


# ----- the armctl tasks as iLQR problems ------------------------------------------------------
def episode(batch: TaskBatch, i: int) -> TaskBatch:
    """Episode ``i`` of a batch (every field without its batch axis)."""
    return jax.tree_util.tree_map(lambda a: a[i], batch)


def task_dynamics(task: Task, episode_batch: TaskBatch) -> Callable:
    """``dynamics(x, u, t)`` of one episode: the true-state part of the world step
    :func:`~armctl.world.env_step`, its :func:`~armctl.world.transition` (iLQR reads the true
    state, so it needs neither the delay line nor the delayed observation)."""

    def dynamics(x, u, t):
        return transition(task, episode_batch, x, u, t)[0]

    return dynamics


def task_cost(task: Task, target: jnp.ndarray, offset=0) -> Callable:
    """iLQR ``cost(x, u, t)`` of one episode whose step ``t`` is the task's step ``offset + t``.

    Summed by :func:`trajectory_cost` over a T-step plan with ``offset = 0`` it equals
    ``task.cost`` exactly: the command cost at every step and the state cost at task steps
    1..T (masked outside, so a plan running past the episode end pays nothing for states there).
    """

    def cost(x, u, t):
        s = offset + t
        in_episode = (s >= 1) & (s <= task.horizon)
        return task.command_cost(u) + jnp.where(in_episode, task.state_cost(x, target, s), 0.0)

    return cost


def _solver_options(max_iters, tol, line_search_steps) -> dict:
    return {"max_iters": max_iters, "tol": tol, "line_search_steps": line_search_steps}


# The dtype conversion and the zero warm start happen inside the jitted call: done outside, as
# separate dispatches, they took as long as the solve itself for one reach (bench/ilqr.py).
@functools.partial(jax.jit, static_argnames=("task", "dtype", "max_iters", "tol", "line_search_steps"))
def _solve_batch(task, batch, commands, *, dtype, max_iters, tol, line_search_steps):
    batch = cast_batch(batch, dtype)
    shape = (batch.size, task.horizon, 2)
    commands = jnp.zeros(shape, dtype) if commands is None else jnp.asarray(commands, dtype)

    def solve_one(ep, u0):
        return ilqr(
            task_cost(task, ep.target),
            task_dynamics(task, ep),
            ep.x0,
            u0,
            **_solver_options(max_iters, tol, line_search_steps),
        )

    return jax.vmap(solve_one)(batch, commands)


def float_dtype(dtype) -> jnp.dtype:
    """Validate a solver dtype: float32 or float64."""
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def cast_batch(batch: TaskBatch, dtype) -> TaskBatch:
    """The batch with every floating field converted to ``dtype`` (integer onsets untouched)."""
    return jax.tree_util.tree_map(
        lambda a: jnp.asarray(a, dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, batch
    )


def precision(dtype):
    """Context enabling 64-bit JAX for a float64 solve (never flips the global default)."""
    return jax.enable_x64(True) if dtype == jnp.dtype(jnp.float64) else contextlib.nullcontext()


def solve_task(
    task: Task,
    batch: TaskBatch,
    *,
    commands: jnp.ndarray | None = None,
    dtype=jnp.float64,
    max_iters: int = 100,
    tol: float | None = None,
    line_search_steps: int = 10,
) -> ILQRResult:
    """iLQR on every episode of ``batch`` (vmapped); fields of the result are batch-major.

    The objective of episode ``i`` is ``task.cost`` of its trajectory and the dynamics are
    ``task_dynamics(task, episode(batch, i))``, so noise and disturbances in the batch are
    known to the solver (an open-loop oracle; for a planner that does not know them see
    :func:`armctl.baselines.online.online_ilqr`).

    Args:
        commands: initial commands (B, T, 2); zeros by default.
        dtype: ``float64`` (default; computed with 64-bit JAX enabled locally, the result arrays
            stay float64) or ``float32``. Float32 is fine on center-out but stalls short of the
            optimum (``converged`` False) on DDN-like reaches, whose tiny command cost
            (alpha = 1e-6) makes the Gauss-Newton system too ill-conditioned for 7 digits.
        tol: relative tolerance; defaults to 1e-6 in float32 and 1e-10 in float64.
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be an armctl Task, got {type(task).__name__}")
    task.validate_batch(batch)
    dtype = float_dtype(dtype)
    if tol is None:
        tol = 1e-10 if dtype == jnp.dtype(jnp.float64) else 1e-6
    shape = (batch.size, task.horizon, 2)
    if commands is not None and tuple(commands.shape) != shape:
        raise ValueError(f"commands must have shape {shape} (batch, horizon, 2), got {tuple(commands.shape)}")
    with precision(dtype):
        return _solve_batch(
            task, batch, commands, dtype=dtype, **_solver_options(max_iters, float(tol), line_search_steps)
        )


def open_loop(task: Task, batch: TaskBatch, commands: jnp.ndarray) -> Rollout:
    """Play a command table (B, T, 2) through the world step, noise and disturbance included.

    ``open_loop(task, batch, zeros)`` is the do-nothing controller.
    """
    task.validate_batch(batch)

    def body(state, u):
        state, _, parts = env_step(task, batch, state, u)
        return state, (state.x, parts.torque)

    state, _ = env_reset(task, batch)
    _, (xs, torques) = lax.scan(body, state, jnp.swapaxes(commands, 0, 1))
    states = jnp.concatenate([jnp.asarray(batch.x0)[:, None], jnp.swapaxes(xs, 0, 1)], axis=1)
    return Rollout(states=states, commands=commands, torques=jnp.swapaxes(torques, 0, 1))


# ----- the cached reference loss ---------------------------------------------------------------
def cache_dir() -> pathlib.Path:
    """``$ARMCTL_CACHE_DIR/ilqr`` if that variable is set, else ``~/.cache/armctl/ilqr``."""
    root = os.environ.get("ARMCTL_CACHE_DIR")
    base = pathlib.Path(root) if root else pathlib.Path.home() / ".cache" / "armctl"
    return base / "ilqr"


def reference_loss(task: CenterOut, *, refresh: bool = False) -> float:
    """Mean iLQR cost (float64) over the task's center-out reaches: the RNN's yardstick.

    Cached as JSON in :func:`cache_dir` under a hash of the task configuration (every field,
    arm parameters included) and :data:`SOLVER_VERSION`; ``refresh=True`` recomputes, and so
    does an unreadable cache file (with a warning naming it), which is then rewritten.
    """
    if not isinstance(task, CenterOut):
        raise TypeError(f"reference_loss needs a CenterOut task, got {type(task).__name__}")
    if task.command_noise_std or task.plant_noise_std:
        raise ValueError(
            "reference_loss needs a noise-free center-out task (the iLQR reference is deterministic); "
            f"got command_noise_std={task.command_noise_std}, plant_noise_std={task.plant_noise_std}"
        )
    config = f"{task!r} solver={SOLVER_VERSION}"
    path = cache_dir() / f"center-out-{hashlib.sha256(config.encode()).hexdigest()[:20]}.json"
    if path.exists() and not refresh:
        try:
            cached = json.loads(path.read_text())
            if cached.get("config") == config:
                return float(cached["mean_loss"])
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
            warnings.warn(
                f"ignoring the unreadable iLQR cache file {path} ({err}); recomputing it", stacklevel=2
            )
    result = solve_task(task, task.sample(jax.random.PRNGKey(0)), dtype=jnp.float64)
    loss = float(np.mean(np.asarray(result.cost)))
    if not math.isfinite(loss):
        raise ValueError(f"iLQR reference loss for {task!r} is not finite ({loss})")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write-then-rename so concurrent readers never see a half-written file.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"config": config, "mean_loss": loss}, indent=1))
    tmp.replace(path)
    return loss
