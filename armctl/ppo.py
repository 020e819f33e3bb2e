"""PPO compiled end to end on the functional envs (:mod:`armctl.envs.functional`), with MLP and GRU
policies: ``armctl rl ppo ENV_ID --steps N --policy mlp|gru --seed S --out DIR``.

One PPO update is one jitted call: ``num_envs`` envs stepped ``rollout_steps`` times under
``lax.scan`` (the env resets itself when an episode ends), generalized advantage estimation, then
``epochs`` passes of ``minibatches`` clipped-surrogate updates with Adam (Schulman et al. 2017; the
layout of PureJaxRL). The GRU policy carries its hidden state through the rollout, zeroes it where an
episode starts, and is trained on whole rollout sequences (minibatches of envs): it can remember what
delayed feedback showed, which DDN's unseen disturbance needs.

A run is a run directory like every armctl run (:mod:`armctl.runs`): config, a data-only checkpoint
(parameters, Adam's state, the envs' states, the key), history and report, locked while written, and
``--resume`` continues it to the same numbers an uninterrupted run reaches. Every ``eval_every`` env
steps, and at the end, the deterministic policy (the Gaussian's mean) runs on ``eval_episodes``
fixed episodes: ``final_hand_error_mm`` (the thesis's hand error at the horizon), ``thesis_cost``
(the thesis's cost of the episode, command and state) and ``return`` (the version's reward).
``--steps`` counts environment steps in all (every env's). Policies act in [-1, 1] (the action is
the clipped mean plus noise; the log-probability is the unclipped Gaussian's).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from armctl import checkpoint, plots, runs
from armctl.checks import check_integer, check_number
from armctl.config import RunConfig, option
from armctl.envs import functional
from armctl.optim.driver import History
from armctl.optim.registry import defaults


@dataclasses.dataclass(frozen=True, kw_only=True)
class PPOConfig(RunConfig):
    """A PPO run (plus :class:`~armctl.config.RunConfig`'s core: ``steps`` counts env steps; the
    optimizer is Adam, its options the ``"rl"`` defaults beside it in :mod:`armctl.optim.registry`:
    learning rate 3e-4, gradients clipped to norm 0.5)."""

    EXPERIMENT = "rl"
    COMMAND = "armctl rl ppo"

    env_id: str = option("armctl/CenterOut-v1", "the env id (armctl/<Task>-v0 or -v1)", positional=True)
    optimizer: str = option("adam", "the optimizer of the policy (Adam)", choices=("adam",))
    policy: str = option("mlp", "mlp (feed-forward) or gru (recurrent: memory)", choices=("mlp", "gru"))
    hidden: int = option(64, "units per hidden layer (mlp: two layers; gru: one GRU layer)")
    num_envs: int = option(64, "envs stepped in parallel")
    rollout_steps: int = option(64, "steps per env between two updates")
    epochs: int = option(4, "passes over each rollout")
    minibatches: int = option(4, "minibatches per pass (of envs, so that the GRU sees whole sequences)")
    gamma: float = option(0.99, "discount")
    gae_lambda: float = option(0.95, "GAE's lambda")
    clip: float = option(0.2, "PPO's ratio clip")
    entropy_coef: float = option(0.0, "entropy bonus")
    value_coef: float = option(0.5, "value-loss weight")
    initial_log_std: float = option(-0.5, "the Gaussian policy's initial log standard deviation")
    normalize_rewards: bool = option(
        False,
        "divide rewards by a running standard deviation of the discounted return (SB3's "
        "VecNormalize, PureJaxRL's NormalizeVecReward), so that the value loss does not swamp the "
        "policy's gradient in a shared GRU",
    )
    delays: tuple[int, ...] | None = option(
        None,
        "train one policy per feedback delay (steps), all in one jitted call (vmapped over the "
        "env's parameters), e.g. 0 2 4 6 8 10 12 14; default: the task's delay",
        metavar="D",
    )
    eval_every: int = option(100_000, "env steps between two evaluations")
    eval_episodes: int = option(20, "fixed evaluation episodes")
    checkpoint_every: int = option(20, "write the checkpoint every this many updates and at the end")

    def __post_init__(self):
        if self.steps is None and self.function_calls is None and self.minutes is None:
            object.__setattr__(self, "steps", 1_000_000)
        super().__post_init__()
        if self.devices != 1:
            raise ValueError(f"PPO steps its envs on one device; got devices={self.devices!r} (expected 1)")
        env, _ = functional.make(self.env_id)  # an unknown id: ValueError listing them
        for name in (
            "hidden",
            "num_envs",
            "rollout_steps",
            "epochs",
            "minibatches",
            "eval_every",
            "eval_episodes",
        ):
            check_integer(name, getattr(self, name), 1)
        if self.num_envs % self.minibatches:
            raise ValueError(
                f"num_envs ({self.num_envs}) must be a multiple of minibatches ({self.minibatches})"
            )
        for name, low, high in (("gamma", 0, 1), ("gae_lambda", 0, 1), ("clip", 0, 1)):
            check_number(name, getattr(self, name), low, high, high_closed=True)
        for name in ("entropy_coef", "value_coef"):
            check_number(name, getattr(self, name), 0, low_closed=True)
        check_number("initial_log_std", self.initial_log_std)
        if self.delays is not None:
            object.__setattr__(self, "delays", tuple(self.delays))
            horizon = env.task.horizon
            if not self.delays or len(set(self.delays)) != len(self.delays):
                raise ValueError(f"delays must be distinct step counts, got {self.delays!r}")
            for d in self.delays:
                check_integer("delays", d, 0, horizon - 1)

    def sharded_sizes(self) -> tuple[int, ...]:
        """None of PPO's arrays is split over devices: one device (only 1 divides 1)."""
        return (1,)

    def default_out(self) -> Path:
        name = self.env_id.replace("armctl/", "").replace("/", "-")
        return Path("runs") / "rl" / f"ppo-{name}-{self.policy}-s{self.seed}"

    @property
    def steps_per_update(self) -> int:
        """Env steps of one update, over every setting's envs."""
        return self.num_envs * self.rollout_steps * self.settings

    @property
    def settings(self) -> int:
        """Policies trained side by side (one per delay)."""
        return 1 if self.delays is None else len(self.delays)

    def env_and_params(self):
        """The functional env and the params of every setting, stacked on a leading axis."""
        env, params = functional.make(self.env_id)
        if self.delays is not None:
            # The delay line must hold the longest delay trained (and the task's own).
            env, params = functional.make(self.env_id, max_delay=max(*self.delays, env.task.delay))
        stacked = _broadcast(params, self.settings)
        if self.delays is not None:
            stacked = stacked._replace(delay=jnp.asarray(self.delays, jnp.int32))
        return env, stacked

    def rebuild(self, extra: dict):
        return make_agent(self)

    @classmethod
    def evaluate_run(cls, run_dir, *, log: Callable[[str], None] = print) -> dict:
        loaded = runs.load_run(run_dir, cls)
        config = loaded.config
        env, env_params = config.env_and_params()
        with config.scope():
            scores = _compiled(config, env)[1](_as_jax(loaded.params), env_params, config.seed)
        return write_report(config, loaded.history, scores, log=log)


# ----- the policies -----------------------------------------------------------------------------


def _dense(key, n_in: int, n_out: int, scale: float = 1.0) -> dict:
    """Orthogonal initialization (PPO's usual), zero bias."""
    return {"w": jax.nn.initializers.orthogonal(scale)(key, (n_in, n_out)), "b": jnp.zeros(n_out)}


def _apply_dense(p: dict, x):
    return x @ p["w"] + p["b"]


@dataclasses.dataclass(frozen=True)
class Agent:
    """An actor-critic: a Gaussian policy on [-1, 1] actions and a value, from an MLP (two tanh
    layers each) or a shared GRU layer. Hashable (a static argument of ``jit``)."""

    kind: str
    obs_dim: int
    action_dim: int
    hidden: int
    initial_log_std: float

    def init(self, key) -> dict:
        k = jax.random.split(key, 6)
        h = self.hidden
        if self.kind == "mlp":
            body = {
                "pi": [_dense(k[0], self.obs_dim, h, math.sqrt(2)), _dense(k[1], h, h, math.sqrt(2))],
                "v": [_dense(k[2], self.obs_dim, h, math.sqrt(2)), _dense(k[3], h, h, math.sqrt(2))],
            }
        else:
            body = {
                "gru_x": _dense(k[0], self.obs_dim, 3 * h),
                "gru_h": _dense(k[1], h, 3 * h),
            }
        return {
            **body,
            "mean": _dense(k[4], h, self.action_dim, 0.01),
            "value": _dense(k[5], h, 1, 1.0),
            # A Python float would make this leaf weak-typed and the update's output strong-typed:
            # the second update would then trace and compile the whole step again.
            "log_std": jnp.full(self.action_dim, self.initial_log_std, float),
        }

    def initial_carry(self, n: int):
        return jnp.zeros((n, self.hidden)) if self.kind == "gru" else jnp.zeros((n, 0))

    def step(self, params: dict, carry, obs, starts):
        """``(carry, mean, value)`` for one step of ``n`` envs; ``starts`` (n,) bool: a fresh
        episode begins here (the GRU forgets the last)."""
        if self.kind == "mlp":
            x = obs
            for layer in params["pi"]:
                x = jnp.tanh(_apply_dense(layer, x))
            v = obs
            for layer in params["v"]:
                v = jnp.tanh(_apply_dense(layer, v))
            return carry, _apply_dense(params["mean"], x), _apply_dense(params["value"], v)[:, 0]
        h = jnp.where(starts[:, None], 0.0, carry)
        gx, gh = _apply_dense(params["gru_x"], obs), _apply_dense(params["gru_h"], h)
        n = self.hidden
        z = jax.nn.sigmoid(gx[:, :n] + gh[:, :n])
        r = jax.nn.sigmoid(gx[:, n : 2 * n] + gh[:, n : 2 * n])
        h = (1 - z) * jnp.tanh(gx[:, 2 * n :] + r * gh[:, 2 * n :]) + z * h
        return h, _apply_dense(params["mean"], h), _apply_dense(params["value"], h)[:, 0]


def make_agent(config: PPOConfig) -> Agent:
    env, _ = functional.make(config.env_id)
    return Agent(config.policy, env.obs_dim, env.action_dim, config.hidden, config.initial_log_std)


def _log_prob(mean, log_std, action):
    return jnp.sum(
        -0.5 * ((action - mean) / jnp.exp(log_std)) ** 2 - log_std - 0.5 * math.log(2 * math.pi), axis=-1
    )


# ----- training ----------------------------------------------------------------------------------


class Runner(NamedTuple):
    """What the training loop carries from one update to the next (checkpointed whole)."""

    opt_state: Any
    env_state: Any
    obs: Any
    starts: Any
    carry: Any
    key: Any
    updates: Any
    reward_stats: Any


class RewardStats(NamedTuple):
    """Running statistics of each env's discounted return, for ``normalize_rewards``."""

    returns: Any  # (num_envs,): the discounted return so far of each env's episode
    count: Any
    mean: Any
    var: Any


def _reward_stats(n: int) -> RewardStats:
    # SB3's starting point: a tiny count and unit variance, so the first rewards are barely scaled.
    return RewardStats(jnp.zeros(n), jnp.float32(1e-4), jnp.float32(0.0), jnp.float32(1.0))


def _merge(stats: RewardStats, returns) -> RewardStats:
    """``stats`` updated with a batch of returns (Chan et al.'s parallel variance)."""
    n = returns.size
    delta, total = returns.mean() - stats.mean, stats.count + n
    m2 = stats.var * stats.count + returns.var() * n + delta**2 * stats.count * n / total
    return RewardStats(returns, total, stats.mean + delta * n / total, m2 / total)


class Transition(NamedTuple):
    obs: Any
    starts: Any
    action: Any
    log_prob: Any
    value: Any
    reward: Any  # as trained on (scaled when normalize_rewards)
    done: Any
    env_reward: Any  # as the env paid it


def _optimizer(config: PPOConfig) -> optax.GradientTransformation:
    options = {**defaults("adam", "rl"), **config.optimizer_options}
    return optax.chain(
        optax.clip_by_global_norm(options.get("clip_norm") or 1e9), optax.adam(options["learning_rate"])
    )


def _update_fn(config: PPOConfig, env):
    """One PPO update of every setting, jitted: collect, advantages, epochs x minibatches of Adam
    steps, vmapped over the settings (their params, policies and envs on a leading axis)."""
    agent, tx = make_agent(config), _optimizer(config)
    n, steps = config.num_envs, config.rollout_steps
    vstep = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def collect(params, env_params, runner: Runner):
        def one(c, _):
            env_state, obs, starts, carry, key, stats = c
            key, k_act, k_env = jax.random.split(key, 3)
            carry, mean, value = agent.step(params, carry, obs, starts)
            action = mean + jnp.exp(params["log_std"]) * jax.random.normal(k_act, mean.shape)
            log_prob = _log_prob(mean, params["log_std"], action)
            obs_next, env_state, reward, done, _ = vstep(
                jax.random.split(k_env, n), env_state, jnp.clip(action, -1.0, 1.0), env_params
            )
            scaled = reward
            if config.normalize_rewards:
                stats = _merge(stats, stats.returns * config.gamma + reward)
                stats = stats._replace(returns=stats.returns * (1 - done))
                scaled = reward / jnp.sqrt(stats.var + 1e-8)
            return (env_state, obs_next, done, carry, key, stats), Transition(
                obs, starts, action, log_prob, value, scaled, done, reward
            )

        start = (runner.env_state, runner.obs, runner.starts, runner.carry, runner.key, runner.reward_stats)
        (env_state, obs, starts, carry, key, stats), traj = jax.lax.scan(one, start, None, length=steps)
        _, _, last_value = agent.step(params, carry, obs, starts)
        return traj, (env_state, obs, starts, carry, key, stats), last_value

    def advantages(traj: Transition, last_value):
        def back(c, t):
            gae, next_value = c
            delta = t.reward + config.gamma * next_value * (1 - t.done) - t.value
            gae = delta + config.gamma * config.gae_lambda * (1 - t.done) * gae
            return (gae, t.value), gae

        _, adv = jax.lax.scan(back, (jnp.zeros_like(last_value), last_value), traj, reverse=True)
        return adv, adv + traj.value

    def loss_fn(params, carry0, traj: Transition, adv, returns):
        def replay(carry, t):
            carry, mean, value = agent.step(params, carry, t.obs, t.starts)
            return carry, (mean, value)

        _, (mean, value) = jax.lax.scan(replay, carry0, traj)
        log_prob = _log_prob(mean, params["log_std"], traj.action)
        ratio = jnp.exp(log_prob - traj.log_prob)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        policy = -jnp.mean(jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - config.clip, 1 + config.clip) * adv))
        value_loss = 0.5 * jnp.mean((value - returns) ** 2)
        entropy = jnp.sum(params["log_std"] + 0.5 * math.log(2 * math.pi * math.e))
        return policy + config.value_coef * value_loss - config.entropy_coef * entropy, (policy, value_loss)

    def update(params, env_params, runner: Runner):
        carry0 = runner.carry
        traj, (env_state, obs, starts, carry, key, stats), last_value = collect(params, env_params, runner)
        adv, returns = advantages(traj, last_value)
        size = n // config.minibatches

        def epoch(c, k):
            params, opt_state = c
            order = jax.random.permutation(k, n)

            def minibatch(c, idx):
                params, opt_state = c
                pick = lambda a: jnp.take(a, idx, axis=1)  # time-major: envs on axis 1
                (loss, parts), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                    params, carry0[idx], jax.tree_util.tree_map(pick, traj), pick(adv), pick(returns)
                )
                updates, opt_state = tx.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), (loss, *parts)

            return jax.lax.scan(minibatch, (params, opt_state), order.reshape(config.minibatches, size))

        key, k_epochs = jax.random.split(key)
        (params, opt_state), (loss, policy, value) = jax.lax.scan(
            epoch, (params, runner.opt_state), jax.random.split(k_epochs, config.epochs)
        )
        metrics = {"loss": loss.mean(), "policy_loss": policy.mean(), "value_loss": value.mean()}
        metrics["train_return"] = traj.env_reward.sum() / jnp.maximum(traj.done.sum(), 1)
        runner = Runner(opt_state, env_state, obs, starts, carry, key, runner.updates + 1, stats)
        return params, runner, metrics

    return jax.jit(jax.vmap(update))


def _broadcast(tree, settings: int):
    """``tree`` repeated on a new leading axis of ``settings``: every setting starts the same."""
    return jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (settings, *jnp.shape(a))), tree)


def _as_jax(tree):
    return jax.tree_util.tree_map(jnp.asarray, tree)


def evaluation_keys(seed: int, episodes: int) -> jax.Array:
    """The keys of a run's evaluation episodes (``env.reset(key, params)`` draws each): fixed by
    the seed, apart from the training's keys."""
    return jax.random.split(jax.random.fold_in(jax.random.key(seed), 7), episodes)


def _eval_fn(agent: Agent, config: PPOConfig, env):
    """The deterministic policy (the mean, clipped) on ``eval_episodes`` episodes fixed by the
    seed, every setting's policy in its own env, jitted: ``(params, env_params, seed) -> [scores
    per setting]``."""
    horizon, n = env.task.horizon, config.eval_episodes

    def run(params, env_params, keys):
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, env_params)

        def one(c, t):
            state, obs, carry, alive, totals = c
            carry, mean, _ = agent.step(params, carry, obs, jnp.full(n, t == 0))
            obs, state, reward, done, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                keys, state, jnp.clip(mean, -1.0, 1.0), env_params
            )
            cost = info["command_cost"] + info["state_cost"]
            error = jnp.where(alive & done, info["hand_error_mm"], totals[2])
            totals = (totals[0] + alive * reward, totals[1] + alive * cost, error)
            return (state, obs, carry, alive & ~done, totals), None

        zeros = jnp.zeros(n)
        start = (state, obs, agent.initial_carry(n), jnp.ones(n, bool), (zeros, zeros, zeros))
        (_, _, _, _, (ret, cost, error)), _ = jax.lax.scan(one, start, jnp.arange(horizon))
        return ret, cost, error

    run_all = jax.jit(jax.vmap(run, in_axes=(0, 0, None)))

    def scores(params, env_params, seed: int) -> list[dict]:
        keys = evaluation_keys(seed, n)
        ret, cost, error = (np.asarray(a, np.float64) for a in run_all(params, env_params, keys))
        return [
            {
                "return": float(ret[i].mean()),
                "thesis_cost": float(cost[i].mean()),
                "final_hand_error_mm": float(error[i].mean()),
                "final_hand_error_mm_median": float(np.median(error[i])),
            }
            for i in range(ret.shape[0])
        ]

    return scores


#: Fields that do not change what an update or an evaluation computes (budgets, the seed: its
#: keys are arguments, where the output goes).
_NOT_COMPILED = ("out", "steps", "function_calls", "minutes", "seed", "eval_every", "checkpoint_every")
#: The jitted update and evaluation of the last few configs, by what they compile from: a resumed
#: run, a sweep over seeds or budgets, or the tests' repeated runs in one process compile once.
_COMPILED: dict[str, tuple[Callable, Callable]] = {}


def _compiled(config: PPOConfig, env) -> tuple[Callable, Callable]:
    """``(update, evaluate)`` of ``config``, reused when an earlier config compiled the same."""
    neutral = {k: v for k, v in config.to_json().items() if k not in _NOT_COMPILED}
    key = repr(sorted(neutral.items()))
    if key not in _COMPILED:
        if len(_COMPILED) >= 4:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = (_update_fn(config, env), _eval_fn(make_agent(config), config, env))
    return _COMPILED[key]


def _per_setting(config: PPOConfig, values: list):
    """One value per setting, or the one value of a single-setting run."""
    return values[0] if config.delays is None else list(values)


def train(config: PPOConfig, *, resume: bool = False, force: bool = False, log: Callable = print) -> dict:
    """Train until ``steps`` env steps (or ``minutes``); returns the report (also report.json).
    Every setting (one per delay of ``delays``) trains its own policy from the same initialization
    on the same env randomness, all in one jitted call per update."""
    with runs.opened(config, resume=resume, force=force) as saved, config.scope():
        run_dir = config.run_dir()
        run_dir.mkdir(parents=True, exist_ok=True)
        checkpoint.atomic_write_json(run_dir / "config.json", config.to_json())
        (run_dir / "report.json").unlink(missing_ok=True)
        env, env_params = config.env_and_params()
        agent, tx = make_agent(config), _optimizer(config)
        update, evaluate = _compiled(config, env)
        settings = config.settings
        if saved is None:
            k_init, k_env, k_run = jax.random.split(jax.random.key(config.seed), 3)
            params = _broadcast(agent.init(k_init), settings)
            reset = jax.vmap(jax.vmap(env.reset, in_axes=(0, None)), in_axes=(None, 0))
            obs, env_state = reset(jax.random.split(k_env, config.num_envs), env_params)
            runner = Runner(
                jax.vmap(tx.init)(params),
                env_state,
                obs,
                jnp.ones((settings, config.num_envs), bool),
                _broadcast(agent.initial_carry(config.num_envs), settings),
                jnp.broadcast_to(k_run, (settings,)),
                jnp.zeros(settings, jnp.int32),
                _broadcast(_reward_stats(config.num_envs), settings),
            )
            history = History()
        else:
            params, runner, history = _as_jax(saved.params), _as_jax(saved.state), saved.history
            log(f"resuming {run_dir} after {len(history) * config.steps_per_update:,} env steps")
        budget = (config.steps or math.inf) / config.steps_per_update
        deadline = 60.0 * config.minutes if config.minutes else math.inf
        wall = history["wall_time"][-1] if len(history) else 0.0
        last_saved = len(history)
        scores = None
        try:
            while len(history) < budget and wall < deadline:
                t0 = time.perf_counter()
                params, runner, metrics = update(params, env_params, runner)
                done_steps = (len(history) + 1) * config.steps_per_update
                row = {k: _per_setting(config, np.asarray(v).tolist()) for k, v in metrics.items()}
                if done_steps % config.eval_every < config.steps_per_update or len(history) + 1 >= budget:
                    scores = evaluate(params, env_params, config.seed)
                    row.update(
                        {f"eval_{k}": _per_setting(config, [sc[k] for sc in scores]) for k in scores[0]}
                    )
                wall += time.perf_counter() - t0
                history.append(
                    {
                        "step": len(history),
                        "accepted": True,
                        "env_steps": done_steps,
                        "step_time": time.perf_counter() - t0,
                        "wall_time": wall,
                        **row,
                    }
                )
                if "eval_return" in row:
                    errors = ", ".join(f"{s['final_hand_error_mm']:.2f}" for s in scores)
                    log(f"{run_dir.name}: {done_steps:,} env steps, {wall:.0f} s: hand error {errors} mm")
                if len(history) - last_saved >= config.checkpoint_every:
                    runs.save(run_dir, config, params, runner, history, {})
                    last_saved = len(history)
        except KeyboardInterrupt:
            runs.save(run_dir, config, params, runner, history, {})
            raise runs.Interrupted(
                f"interrupted: {len(history)} updates are checkpointed in {run_dir / runs.CHECKPOINT}; "
                f"resume with: {config.COMMAND} --resume {run_dir}"
            ) from None
        runs.save(run_dir, config, params, runner, history, {})
        if scores is None:
            scores = evaluate(params, env_params, config.seed)
        return write_report(config, history, scores, log=log)


def write_report(config: PPOConfig, history: History, scores: list[dict], *, log: Callable = print) -> dict:
    """report.json and progress.png; ``scores``: the last evaluation, one per setting. A run with
    ``delays`` reports each setting under ``per_delay``; a single setting's numbers are top level."""
    run_dir = config.run_dir()
    figures = []
    if len(history):
        labels = ["evaluation"] if config.delays is None else [f"delay {d}" for d in config.delays]
        curves = {}
        for i, label in enumerate(labels):
            points = [
                (s, e if config.delays is None else e[i])
                for s, e in zip(
                    history["env_steps"], history.get("eval_final_hand_error_mm", []), strict=False
                )
                if e is not None
            ]
            curves[label] = ([s for s, _ in points], [e for _, e in points])
        figures.append(
            plots.training_curves(
                run_dir / "progress.png",
                {"final hand error (mm)": curves},
                xlabel="environment steps",
                title=f"PPO ({config.policy}) on {config.env_id}, seed {config.seed}",
            ).name
        )
    results = (
        scores[0]
        if config.delays is None
        else {"per_delay": [{"delay": d, **sc} for d, sc in zip(config.delays, scores, strict=True)]}
    )
    report = {
        "config": config.to_json(),
        "env_steps": history["env_steps"][-1] if len(history) else 0,
        "updates": len(history),
        "wall_s": history["wall_time"][-1] if len(history) else 0.0,
        **results,
        "eval_episodes": config.eval_episodes,
        "figures": figures,
    }
    runs.write_report(run_dir, report)
    errors = ", ".join(f"{sc['final_hand_error_mm']:.2f}" for sc in scores)
    log(
        f"PPO ({config.policy}) on {config.env_id}: {report['env_steps']:,} env steps in "
        f"{report['wall_s']:.0f} s, final hand error {errors} mm (mean of {config.eval_episodes} episodes"
        f"{'' if config.delays is None else ', per delay ' + str(list(config.delays))}); report in {run_dir}"
    )
    return report
