"""Model-free RL (PPO, SAC with Stable-Baselines3's defaults) against the AHF-trained RNN and iLQR.

    python bench/rl.py --out results/rl.json [--tasks center-out,random-reach,ddn] [--algos ppo,sac]
        [--ppo-steps 200000] [--sac-steps 30000] [--ahf-run center-out=runs/center-out-ahf-s0 ...]
        [--episodes 64] [--seed 0] [--quick]

Needs the ``rl`` extra (``pip install -e '.[rl]' torch==2.13.0``). Every controller is scored on
the same evaluation episodes (a fixed :class:`~armctl.tasks.TaskBatch` per task: all cases of
center-out, ``--episodes`` draws of the random tasks) with the thesis's cost and final hand
error, beside the -v1 return and the peak command. Rows:

- ``zero``: the do-nothing policy (the return RL has to beat);
- ``ppo`` / ``sac``: ``PPO("MlpPolicy", env)`` / ``SAC("MlpPolicy", env)`` on one -v1 env, trained for
  the given env steps, evaluated with the deterministic policy; wall time is the ``learn`` call;
- ``recurrent-ppo``: sb3-contrib's ``RecurrentPPO("MlpLstmPolicy", env)`` (a policy with memory,
  ``--ppo-steps``), its LSTM state carried through each evaluation episode;
- ``ahf``: the RNN of a run directory made with ``armctl train`` (``--ahf-run TASK=DIR``), run
  through :func:`armctl.rollout.simulate` (unclipped torques, as trained); steps are the arm
  steps its training simulated, ``calls x batch x T``, counting every function call as one pass;
- ``ilqr``: per-episode iLQR (:func:`armctl.baselines.solve_task`, the optimum of the thesis cost)
  where the episodes hold no hidden disturbance, online iLQR (:func:`armctl.baselines.online_ilqr`,
  re-planning from the delayed observation without knowing the disturbance) on DDN and postural.

RL trains and is evaluated on the ``armctl/<Task>-v1`` ids (:data:`armctl.envs.versions.V1`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from armctl.envs import versions

import armctl.gym_registration  # noqa: F401  (registers the env ids)
from armctl.rollout import simulate
from armctl.tasks import Task, TaskBatch

ENV_NAMES = {"center-out": "CenterOut", "random-reach": "RandomReach", "ddn": "DDN", "postural": "Postural"}
EVAL_SEED = 20240
ALGOS = ("ppo", "sac", "recurrent-ppo")


def make_env(task: str) -> gym.Env:
    """The -v1 env of ``task`` (:data:`armctl.envs.versions.V1`)."""
    return gym.make(f"armctl/{ENV_NAMES[task]}-v1")


def evaluation_episodes(task: Task, n: int) -> TaskBatch:
    """The fixed evaluation episodes: every case of a fixed-case task, else ``n`` draws."""
    key = jax.random.PRNGKey(EVAL_SEED)
    return task.sample(key) if task.fixed_cases else task.sample(key, n)


def ppo_episodes(env_id: str, seed: int, n: int) -> tuple[Task, TaskBatch]:
    """The episodes `armctl rl ppo` evaluates a run of ``seed`` on (``n`` of them, drawn by the
    functional env's reset from :func:`armctl.ppo.evaluation_keys`), as a TaskBatch, and the env's
    task: other controllers scored on them play the same episodes, every noise draw included."""
    from armctl.envs import functional

    from armctl.ppo import evaluation_keys

    env, params = functional.make(env_id)
    _, states = jax.vmap(env.reset, in_axes=(0, None))(evaluation_keys(seed, n), params)
    return env.task, jax.tree_util.tree_map(np.asarray, states.episode)


def one_episode(batch: TaskBatch, i: int) -> TaskBatch:
    return jax.tree_util.tree_map(lambda a: a[i : i + 1], batch)


def scores(task: Task, states, commands, target, returns=None) -> dict:
    """Means of the thesis metrics (cost, final hand error) and the peak command |u| (N m)."""
    with jax.enable_x64(True):  # the env's states are float64: score them so
        m = task.metrics(jnp.asarray(states), jnp.asarray(commands), jnp.asarray(target))
        m = {k: np.asarray(v) for k, v in m.items()}  # averaged outside the context, in float64
    out = {
        "cost": float(np.mean(m["cost"])),
        "final_error_mm": float(np.mean(m["final_error_mm"])),
        "final_speed": float(np.mean(m["final_speed"])),
        "peak_command": float(np.max(np.abs(np.asarray(commands)))),
    }
    if returns is not None:
        out["return"] = float(np.mean(returns))
    return out


def run_policy(policy, env: gym.Env, batch: TaskBatch) -> dict:
    """Play every episode of ``batch`` in ``env`` with ``act = policy()`` (a fresh ``act(obs) ->
    action`` per episode, so that a recurrent policy starts from its initial state): the thesis
    scores of the episodes that reach the horizon, the v1 return of all, and how many diverged
    (the policy threw the arm out of the plant's range; the thesis metrics are undefined there)."""
    states, commands, returns, lived = [], [], [], []
    for i in range(batch.size):
        act = policy()
        obs, info = env.reset(options={"batch": one_episode(batch, i)})
        xs, us, ret, done = [info["state"]], [], 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(act(obs))
            xs.append(info["state"])
            us.append(info["command"])
            ret += reward
            done = terminated or truncated
        returns.append(ret)
        if not info["diverged"]:
            states.append(np.stack(xs))
            commands.append(np.stack(us))
            lived.append(i)
    task = env.unwrapped.task
    if not lived:
        none = dict.fromkeys(("cost", "final_error_mm", "final_speed", "peak_command"))
        return {**none, "return": float(np.mean(returns)), "diverged": batch.size}
    out = scores(task, np.stack(states), np.stack(commands), np.asarray(batch.target)[lived], returns)
    return {**out, "diverged": batch.size - len(lived)}


def zero_policy():
    """``policy()`` of doing nothing: the return RL has to beat."""
    return lambda obs: np.zeros(2, np.float32)


def recurrent_policy(model):
    """``policy()`` of a recurrent SB3 model (sb3-contrib's RecurrentPPO): each episode's ``act``
    carries the LSTM state from step to step, starting from zeros."""

    def policy():
        state, start = None, np.ones(1, bool)

        def act(obs):
            nonlocal state, start
            action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
            start = np.zeros(1, bool)
            return action

        return act

    return policy


def train_sb3(algo: str, task: str, steps: int, seed: int, evaluations: int, evaluate):
    """Train the algorithm with its default hyperparameters on one -v1 env for ``steps`` env
    steps, in ``evaluations`` equal parts; after each part yield ``(env steps, seconds of
    learning so far, evaluate(policy))``, the policy being the deterministic one. ``ppo`` and
    ``sac`` are SB3's with ``MlpPolicy``, ``recurrent-ppo`` sb3-contrib's with ``MlpLstmPolicy``."""
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.logger import Logger

    if algo == "recurrent-ppo":
        from sb3_contrib import RecurrentPPO

        model = RecurrentPPO("MlpLstmPolicy", make_env(task), seed=seed, device="cpu")
        policy = recurrent_policy(model)
    else:
        model = {"ppo": PPO, "sac": SAC}[algo]("MlpPolicy", make_env(task), seed=seed, device="cpu")
        policy = lambda: lambda obs: model.predict(obs, deterministic=True)[0]  # noqa: E731
    model.set_logger(Logger(None, []))  # the default one leaves an empty /tmp/SB3-* per learn()
    seconds = 0.0
    for part in range(1, evaluations + 1):
        start = time.perf_counter()
        model.learn(steps * part // evaluations - model.num_timesteps, reset_num_timesteps=False)
        seconds += time.perf_counter() - start
        yield model.num_timesteps, seconds, evaluate(policy)


def ilqr_row(task: Task, batch: TaskBatch) -> dict:
    from armctl.baselines import online_ilqr, solve_task

    start = time.perf_counter()
    hidden = task.name in ("ddn", "postural")  # disturbances the controller does not observe
    r = online_ilqr(task, batch) if hidden else solve_task(task, batch)
    row = scores(task, r.states, r.commands, batch.target)
    row.update(method="online iLQR" if hidden else "iLQR", seconds=time.perf_counter() - start)
    return row


def ahf_row(task: Task, batch: TaskBatch, run_dir: Path) -> dict:
    from armctl import runs
    from armctl.arm_experiment import ArmConfig

    config, setup, params, history, _ = runs.load_run(run_dir, ArmConfig)
    trained = setup.task
    if dataclasses.replace(trained, batch_size=task.batch_size) != task:  # trained for other episodes
        raise ValueError(f"{run_dir} trained {trained!r}, which does not match the evaluated {task!r}")
    from armctl.baselines.ilqr import cast_batch

    with config.scope():  # the run's precision; the episodes' values are cast, not redrawn
        batch = cast_batch(batch, jax.tree_util.tree_leaves(params)[0].dtype)
        r = simulate(setup.controller, params, task, batch)
        row = scores(task, r.states, r.commands, batch.target)
    calls = int(history["function_calls"][-1])
    row.update(
        method="AHF RNN",
        run_dir=str(run_dir),
        env_steps=calls * trained.batch_size * trained.horizon,
        seconds=float(history["wall_time"][-1]),
    )
    return row


def ahf_runs_of(parser: argparse.ArgumentParser, specs: list[str]) -> dict[str, Path]:
    """The ``--ahf-run TASK=DIR`` options as ``{task: run dir}``; a bad one is a usage error."""
    runs = {}
    for spec in specs:
        task, sep, run_dir = spec.partition("=")
        if not sep or task not in ENV_NAMES or not Path(run_dir, "report.json").exists():
            parser.error(
                f"--ahf-run must be TASK=DIR with a task of {sorted(ENV_NAMES)} and a run dir, got {spec!r}"
            )
        runs[task] = Path(run_dir)
    return runs


def write_json(path: Path, result: dict) -> None:
    """Write ``result`` to ``path`` atomically (a run killed mid-write leaves the previous file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, path)


def print_table(rows: list[dict]) -> None:
    head = f"{'task':<13}{'method':<13}{'env steps':>11}{'seconds':>9}{'final mm':>10}{'thesis cost':>13}"
    head += f"{'v1 return':>11}{'peak |u|':>10}{'diverged':>10}"
    print(head)
    fmt = lambda value, spec: "" if value is None else format(value, spec)  # noqa: E731
    for r in rows:
        line = f"{r['task']:<13}{r['method']:<13}{fmt(r.get('env_steps'), ','):>11}"
        line += f"{fmt(r.get('seconds'), '.0f'):>9}{fmt(r['final_error_mm'], '.2f'):>10}"
        line += f"{fmt(r['cost'], '.3g'):>13}{fmt(r.get('return'), '.3f'):>11}"
        print(line + f"{fmt(r['peak_command'], '.3f'):>10}{fmt(r.get('diverged'), 'd'):>10}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--tasks", default="center-out,random-reach,ddn")
    parser.add_argument("--algos", default="ppo,sac")
    parser.add_argument("--ppo-steps", type=int, default=200_000)
    parser.add_argument("--sac-steps", type=int, default=30_000)
    parser.add_argument("--episodes", type=int, default=64, help="evaluation episodes of the random tasks")
    parser.add_argument("--seed", type=int, default=0, help="seed of the RL runs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument(
        "--evaluations", type=int, default=5, help="evaluate (and write the JSON) this many times per run"
    )
    parser.add_argument(
        "--ahf-run", action="append", default=[], metavar="TASK=DIR", help="an armctl train run to score"
    )
    parser.add_argument(
        "--ilqr", action=argparse.BooleanOptionalAction, default=True, help="score iLQR on the episodes"
    )
    parser.add_argument("--quick", action="store_true", help="tiny budgets: proves the script runs")
    args = parser.parse_args(argv)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    for t in tasks:
        if t not in ENV_NAMES:
            parser.error(f"unknown task {t!r}; expected some of {sorted(ENV_NAMES)}")
    for a in algos:
        if a not in ALGOS:
            parser.error(f"unknown algorithm {a!r}; expected some of {list(ALGOS)}")
    ahf_runs = ahf_runs_of(parser, args.ahf_run)
    budgets = {
        "ppo": 2048 if args.quick else args.ppo_steps,
        "recurrent-ppo": 256 if args.quick else args.ppo_steps,
        "sac": 200 if args.quick else args.sac_steps,
    }
    episodes = 4 if args.quick else args.episodes

    import torch

    rows = []
    torch.set_num_threads(args.threads)
    result = {
        "rows": rows,  # filled in as the runs finish
        "v1": {
            "torque_limits": {name: make_env(name).unwrapped.torque_limit for name in tasks},
            "length_fraction": versions.V1_LENGTH_FRACTION,
            "action_cost": versions.V1_ACTION_COST,
            "speed_cost": versions.V1_SPEED_COST,
        },
        "evaluation": {"seed": EVAL_SEED, "episodes": episodes},
        "budgets": budgets,
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_1min_at_end": os.getloadavg()[0],
            "torch_threads": args.threads,
        },
    }
    for name in tasks:
        env = make_env(name)
        task = env.unwrapped.task
        batch = evaluation_episodes(task, episodes)
        if args.quick:
            batch = jax.tree_util.tree_map(lambda a: a[:4], batch)
        zero = run_policy(zero_policy, env, batch)
        rows.append({"task": name, "method": "zero", **zero})
        for algo in algos:
            curve = []
            evaluate = lambda policy, env=env, batch=batch: run_policy(policy, env, batch)  # noqa: E731
            for steps, seconds, row in train_sb3(
                algo, name, budgets[algo], args.seed, args.evaluations, evaluate
            ):
                curve.append({"env_steps": steps, "seconds": seconds, **row})
                print(
                    f"{name} {algo} seed {args.seed}: {steps:,} steps, {seconds:.0f} s, "
                    f"final {row['final_error_mm']} mm, v1 return {row['return']:.2f}, "
                    f"{row['diverged']} diverged",
                    flush=True,
                )
                write_json(
                    args.out,
                    {**result, "rows": rows, "partial": {"task": name, "method": algo, "curve": curve}},
                )
            rows.append({"task": name, "method": algo, "seed": args.seed, **curve[-1], "curve": curve})
            print_table(rows[-1:])
        if name in ahf_runs:
            rows.append({"task": name, **ahf_row(task, batch, ahf_runs[name])})
        if args.ilqr:
            rows.append({"task": name, **ilqr_row(task, batch)})
    print_table(rows)
    result["machine"]["load_average_1min_at_end"] = os.getloadavg()[0]
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
