"""The Gymnasium faces: registration, env checker, single and vector envs against simulate(), errors,
rendering and the policy bridge."""

import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from armctl.controllers import ArmController
from armctl.controllers.table import CommandTable
from armctl.envs import core, versions
from armctl.envs.arm_env import ArmEnv
from armctl.envs.policy import replay_episodes, run_policy
from armctl.envs.registration import ENV_IDS, quiet_v0_notice
from armctl.envs.vector import ArmVectorEnv
from gymnasium.utils.env_checker import check_env

import armctl.gym_registration  # noqa: F401  (registers the ids; armctl/__init__ will import it)
from armctl import plant
from armctl.rollout import simulate
from armctl.tasks import DDN, CenterOut, GeneratorDraws, Postural, RandomReach
from armctl.world import scalar_episode

REPO = Path(__file__).resolve().parents[1]


def small_tasks():
    return [
        CenterOut(n_targets=4, horizon=6),
        Postural(horizon=8, delay=3),
        DDN(horizon=8, delay=2, batch_size=3),
        RandomReach(horizon=5, batch_size=2),
    ]


def run_fresh(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


# ----- registration -------------------------------------------------------------------------
def test_import_armctl_imports_neither_gymnasium_nor_jax_and_ids_register_in_fresh_interpreters():
    probe = run_fresh(
        "import sys, armctl\n"
        "assert 'gymnasium' not in sys.modules, 'import armctl imported gymnasium'\n"
        "import gymnasium\n"
        "env = gymnasium.make('armctl/DDN-v0')\n"
        "assert env.spec.max_episode_steps == 60\n"
        "env.reset(seed=0)\n"
        "env.step(env.action_space.sample())\n"
        "assert 'jax' not in sys.modules, 'the single env imported JAX'\n"
        "assert type(gymnasium.make_vec('armctl/Postural-v0', num_envs=3)).__name__ == 'ArmVectorEnv'\n"
        "assert callable(armctl.simulate)\n"
    )
    assert probe.returncode == 0, probe.stderr
    gym_first = run_fresh("import gymnasium, armctl\ngymnasium.make('armctl/CenterOut-v0')\n")
    assert gym_first.returncode == 0, gym_first.stderr
    module_prefix = run_fresh(
        "import gymnasium\nenv = gymnasium.make('armctl:armctl/DDN-v0')\nenv.reset(seed=0)\n"
    )
    assert module_prefix.returncode == 0, module_prefix.stderr


def test_registered_ids_and_horizons():
    horizons = {"CenterOut": 40, "Postural": 100, "DDN": 60, "RandomReach": 40}
    assert set(ENV_IDS) == {f"armctl/{name}-{v}" for name in horizons for v in ("v0", "v1")}
    for name, horizon in horizons.items():
        v0, v1 = gym.spec(f"armctl/{name}-v0"), gym.spec(f"armctl/{name}-v1")
        assert v0.max_episode_steps == horizon  # v0: the horizon is a time limit (truncated)
        assert v1.max_episode_steps is None  # v1 ends its episodes itself (terminated)
        assert gym.make(f"armctl/{name}-v1").unwrapped.task.horizon == horizon
        for spec in (v0, v1):
            assert spec.vector_entry_point == "armctl.envs.vector:ArmVectorEnv"


# ----- env checker, make, make_vec ----------------------------------------------------------
#: The arm's angles and velocities have no finite bounds (Gaussian noise can push them anywhere),
#: so the checker's notes on infinite Box bounds are the only warnings we cannot fix.
INFINITE_BOUNDS = ("minimum value is -infinity", "maximum value is infinity")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_env_checker_passes_without_warnings(env_id):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_v0_notice()  # what registration installs: v0 is not out of date, only different
        env = gym.make(env_id, render_mode="rgb_array")
        check_env(env.unwrapped)
        env.reset(seed=0)
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    messages = [str(w.message) for w in caught]
    assert [m for m in messages if not any(note in m for note in INFINITE_BOUNDS)] == []
    space = env.observation_space
    assert np.isinf(space.low[:4]).all() and np.isinf(space.high[:4]).all()
    assert np.isfinite(space.low[4:6]).all() and np.all(space.low[4:6] < space.high[4:6])
    assert space.shape == (env.unwrapped.version.obs_dim,)
    assert env.observation_space.contains(obs)
    assert np.isfinite(reward) and terminated is False and truncated is False


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_make_vec_uses_native_vector_env_with_next_step_autoreset(env_id):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_v0_notice()
        venv = gym.make_vec(env_id, num_envs=3)
    assert [str(w.message) for w in caught] == []
    assert isinstance(venv, ArmVectorEnv)
    assert venv.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    horizon = venv.task.horizon
    obs, _ = venv.reset(seed=1)
    assert obs.shape == (3, venv.version.obs_dim) and obs.dtype == np.float32
    assert venv.observation_space.contains(obs)
    actions = np.zeros((3, 2), np.float32)
    for t in range(horizon):
        obs, reward, terminated, truncated, _ = venv.step(actions)
        ended = terminated if venv.version.horizon_terminates else truncated
        assert reward.shape == (3,) and (terminated | truncated).any() == (t == horizon - 1)
        assert ended.all() == (t == horizon - 1) and ended.any() == ended.all()
    first_episodes = venv.episodes
    obs, reward, terminated, truncated, info = venv.step(np.ones((3, 2), np.float32))  # the autoreset step
    assert not (terminated | truncated).any() and np.all(reward == 0)
    np.testing.assert_array_equal(info["state"], np.asarray(venv.episodes.x0, np.float32))
    np.testing.assert_allclose(obs[:, :4], np.asarray(venv.episodes.x0), rtol=0, atol=0)
    pairs = zip(
        jax.tree_util.tree_leaves(first_episodes), jax.tree_util.tree_leaves(venv.episodes), strict=True
    )
    assert any(not np.array_equal(a, b) for a, b in pairs), "autoreset must draw fresh episodes"


def test_vector_env_max_episode_steps_and_bad_arguments():
    venv = ArmVectorEnv(2, task=RandomReach(horizon=5), max_episode_steps=3)
    venv.reset(seed=0)
    truncated = [venv.step(np.zeros((2, 2), np.float32))[3].all() for _ in range(3)]
    assert truncated == [False, False, True]
    with pytest.raises(ValueError, match="max_episode_steps"):
        ArmVectorEnv(2, task=RandomReach(horizon=5), max_episode_steps=6)
    with pytest.raises(ValueError, match="num_envs"):
        ArmVectorEnv(0)
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        venv.step(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="finite"):
        venv.step(np.array([[0.0, np.nan], [0.0, 0.0]], np.float32))


# ----- reproducibility ----------------------------------------------------------------------
def rollout_env(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for a in actions:
        obs, reward, *_ = env.step(a)
        out.append(np.append(obs, reward))
    return out


def test_same_seed_gives_identical_episodes_and_different_seeds_differ():
    actions = np.random.default_rng(0).uniform(-1, 1, (60, 2)).astype(np.float32)
    a, b = gym.make("armctl/DDN-v0"), gym.make("armctl/DDN-v0")
    first, again = rollout_env(a, 7, actions), rollout_env(b, 7, actions)
    for x, y in zip(first, again, strict=True):
        np.testing.assert_array_equal(x, y)
    other = rollout_env(a, 8, actions)
    assert not np.array_equal(first[-1], other[-1])
    va, vb = ArmVectorEnv(4, task="ddn"), ArmVectorEnv(4, task="ddn")
    np.testing.assert_array_equal(va.reset(seed=3)[0], vb.reset(seed=3)[0])
    jax.tree_util.tree_map(np.testing.assert_array_equal, va.episodes, vb.episodes)


def test_unseeded_resets_continue_the_seeded_stream():
    env = ArmEnv("random-reach")
    env.reset(seed=5)
    second = env.reset()[0]
    env.reset(seed=5)
    np.testing.assert_array_equal(env.reset()[0], second)


# ----- same physics as simulate() -----------------------------------------------------------
@pytest.mark.parametrize("task", small_tasks(), ids=lambda t: t.name)
def test_single_env_trajectory_equals_simulate(task):
    # The single env steps in Python floats (float64); simulate in float64 on the same episode
    # runs the same equations, so they agree to float64 rounding amplified over a few steps.
    env = ArmEnv(task, torque_limit=0.8)
    obs, _ = env.reset(seed=11)
    batch = env.episode
    actions = np.random.default_rng(1).uniform(-0.9, 0.9, (task.horizon, 2)).astype(np.float32)
    with jax.enable_x64(True):
        batch64 = jax.tree_util.tree_map(lambda a: a.astype(np.float64) if a.dtype.kind == "f" else a, batch)
        commands = jnp.asarray(actions, jnp.float64)[None] * 0.8  # what the env applies
        ref = simulate(CommandTable(task.horizon), commands, task, batch64)
        steps = jnp.arange(1, task.horizon + 1)
        ref_rewards = -(
            task.command_cost(ref.commands[0]) + task.state_cost(ref.states[0, 1:], batch64.target[0], steps)
        )
        ref_cost = task.cost(ref.states, ref.commands, batch64.target)[0]
        final_error_mm = task.metrics(ref.states, ref.commands, batch64.target)["final_error_mm"][0]
    observations, states, rewards = [obs], [], []
    for t in range(task.horizon):
        obs, reward, terminated, truncated, info = env.step(actions[t])
        observations.append(obs)
        states.append(info["state"])
        rewards.append(reward)
        assert not terminated and truncated == (t == task.horizon - 1)
    np.testing.assert_allclose(np.stack(states), ref.states[0, 1:], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rewards, ref_rewards, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(-np.sum(rewards), ref_cost, rtol=1e-9)
    # The thesis's metric comes with the last step; the hand positions are the plant's kinematics.
    np.testing.assert_allclose(info["hand_error_mm"], final_error_mm, rtol=1e-9)
    np.testing.assert_allclose(
        info["hand"], plant.forward_kinematics(task.arm, info["state"][:2]), rtol=1e-12
    )
    np.testing.assert_allclose(info["target_hand"], plant.forward_kinematics(task.arm, batch64.target[0, :2]))
    assert info["diverged"] is False
    for t, o in enumerate(observations):  # the observation is the state `delay` steps old, and the target
        expected = np.asarray(ref.states[0, max(t - task.delay, 0)], np.float32)
        np.testing.assert_allclose(o[:4], expected, rtol=1e-6, atol=1e-7)  # float32 rounding
        np.testing.assert_array_equal(o[4:], np.asarray(batch.target[0, :2], np.float32))


def test_vector_env_trajectories_equal_simulate():
    task = DDN(horizon=8, delay=2)
    venv = ArmVectorEnv(5, task=task, torque_limit=0.8)
    venv.reset(seed=2)
    batch = venv.episodes
    table = jnp.asarray(np.random.default_rng(2).uniform(-0.7, 0.7, (5, task.horizon, 2)), jnp.float32)
    ref = simulate(CommandTable(task.horizon), table, task, batch)
    states, returns = [], 0.0
    for t in range(task.horizon):
        _, reward, _, _, info = venv.step(np.asarray(table[:, t]) / 0.8)
        states.append(info["state"])
        returns = returns + reward
    np.testing.assert_allclose(np.stack(states, 1), ref.states[:, 1:], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(-returns, task.cost(ref.states, ref.commands, batch.target), rtol=1e-4)


def test_actions_are_clipped_to_the_torque_limit():
    env = ArmEnv(RandomReach(horizon=3), torque_limit=0.25)
    env.reset(seed=0)
    info = env.step(np.array([3.0, -0.5], np.float32))[4]
    np.testing.assert_allclose(info["command"], [0.25, -0.125], rtol=1e-6)


def test_default_torque_limit_follows_the_arm():
    monkey, human = ArmEnv("ddn"), ArmEnv("ddn", task_options={"arm": "human"})
    assert 0.85 < monkey.torque_limit < 0.95 and 17.0 < human.torque_limit < 18.0


# ----- reset options and errors -------------------------------------------------------------
def test_reset_options_fix_the_episode():
    env = ArmEnv("ddn")
    x0 = np.array([0.5, 1.0, 0.0, 0.0])
    obs, _ = env.reset(
        seed=0, options={"x0": x0, "target": [0.7, 1.5], "joint_disturbance": [0.1, -0.2], "onset": 3}
    )
    np.testing.assert_allclose(obs, [0.5, 1.0, 0.0, 0.0, 0.7, 1.5], rtol=1e-6)
    ep = env.episode
    np.testing.assert_allclose(ep.target[0], [0.7, 1.5, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(ep.joint_disturbance[0], [0.1, -0.2], rtol=1e-6)
    assert int(ep.onset[0]) == 3
    other = ArmEnv("ddn")
    other.reset(seed=99, options={"batch": ep})  # a whole episode, noise included
    jax.tree_util.tree_map(np.testing.assert_array_equal, other.episode, ep)
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"start": x0})
    with pytest.raises(ValueError, match="target"):
        env.reset(options={"target": [0.1, 0.2, 0.0, 0.0]})


@pytest.mark.parametrize(
    "options, message",
    [
        ({"onset": 1e12}, r"options\['onset'\] must be an integer step in \[0, 60\]"),
        ({"onset": -1}, r"options\['onset'\] must be an integer step"),
        ({"onset": 2.5}, r"options\['onset'\] must be an integer step"),
        ({"onset": True}, r"options\['onset'\] must be an integer step"),
        ({"x0": [0.1, 0.2, np.nan, 0.0]}, r"options\['x0'\] must be 4 finite numbers"),
        ({"x0": [0.1, 0.2, 500.0, 0.0]}, r"options\['x0'\] has a joint speed above the plant's range"),
        ({"target": [0.1]}, r"options\['target'\] must be 2 finite numbers"),
        ({"hand_force": "strong"}, r"options\['hand_force'\] must be 2 finite numbers"),
        ({"joint_disturbance": [np.inf, 0.0]}, r"options\['joint_disturbance'\] must be 2 finite numbers"),
        # Finite in float64, inf once cast to the env's float32: refused, not turned into inf.
        ({"hand_force": [1e300, 0.0]}, r"options\['hand_force'\] must be finite in the env's float32"),
    ],
)
def test_reset_options_out_of_range_raise_naming_the_option(options, message):
    env = ArmEnv("ddn")
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)


def test_reset_with_a_whole_episode_checks_its_values():
    env = ArmEnv(DDN(horizon=8, delay=2))
    env.reset(seed=0)
    episode = env.episode
    env.reset(options={"onset": 8})  # the horizon: the disturbance never acts
    assert int(env.episode.onset[0]) == 8
    with pytest.raises(ValueError, match=r"options\['batch'\].onset must be an integer step in \[0, 8\]"):
        env.reset(options={"batch": episode._replace(onset=np.array([10**9], np.int32))})
    with pytest.raises(ValueError, match=r"options\['batch'\].plant_noise must be finite"):
        env.reset(options={"batch": episode._replace(plant_noise=np.full_like(episode.plant_noise, np.nan))})


def test_bad_actions_and_stepping_past_the_horizon_raise():
    env = ArmEnv(RandomReach(horizon=2))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(2, np.float32))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        env.step(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan, 0.0], np.float32))
    env.step(np.zeros(2, np.float32))
    env.step(np.zeros(2, np.float32))
    with pytest.raises(RuntimeError, match="horizon of 2 steps"):
        env.step(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="torque_limit"):
        ArmEnv("ddn", torque_limit=-1.0)
    with pytest.raises(ValueError, match="render_backend"):
        ArmEnv("ddn", render_backend="opengl")
    with pytest.raises(ValueError, match="unknown task"):
        ArmEnv("reach")


# ----- rendering ----------------------------------------------------------------------------
def test_numpy_render_draws_arm_target_and_path():
    task = CenterOut(horizon=10)
    env = ArmEnv(task, render_mode="rgb_array", render_size=128)
    env.reset(seed=0, options={"target": task.cases()["target"][16, :2]})  # beyond the hand, off the arm
    still = env.render()
    for _ in range(10):
        env.step(np.array([1.0, -1.0], np.float32))
    moved = env.render()
    for img in (still, moved):
        assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    is_color = lambda img, rgb: np.all(img == rgb, axis=-1)
    from armctl.envs.render import ARM, PATH, TARGET

    assert is_color(still, TARGET).sum() > 20 and is_color(still, ARM).sum() > 50
    assert is_color(still, PATH).sum() == 0 and is_color(moved, PATH).sum() > 5
    assert not np.array_equal(still, moved)


def test_render_after_close_raises_a_clear_error():
    env = ArmEnv(CenterOut(horizon=10), render_mode="rgb_array", render_size=32)
    env.reset(seed=0)
    env.close()
    with pytest.raises(RuntimeError, match=r"render\(\) after close\(\)"):
        env.render()


# ----- divergence ---------------------------------------------------------------------------
def finite(*values) -> bool:
    return all(np.isfinite(np.asarray(v, np.float64)).all() for v in values)


def test_single_env_ends_a_diverging_episode_with_finite_numbers():
    # Full torque on the human arm: the joints spin up past 1 / dt rad/s, then to inf.
    env = gym.make("armctl/DDN-v0", task_options={"arm": "human"})
    env.reset(seed=0)
    for _ in range(60):
        obs, reward, terminated, truncated, info = env.step(np.ones(2, np.float32))
        numbers = [info[key] for key in ("state", "command", "hand", "hand_error_mm", "state_cost")]
        assert finite(obs, reward, *numbers)
        if terminated:
            break
    assert terminated and not truncated and info["diverged"] is True and info["step"] < 60
    assert np.abs(info["state"][2:]).max() > env.unwrapped.task.arm.max_joint_speed
    with pytest.raises(RuntimeError, match="left the plant's range"):
        env.step(np.zeros(2, np.float32))
    env.reset(seed=1)  # a fresh episode steps again
    assert env.step(np.zeros(2, np.float32))[4]["diverged"] is False


def test_v1_diverging_costs_more_than_any_episode_that_lives():
    env = gym.make("armctl/DDN-v1", task_options={"arm": "human"})
    task = env.unwrapped.task
    env.reset(seed=0)
    rewards = []
    while True:
        obs, reward, terminated, truncated, info = env.step(np.ones(2, np.float32))
        rewards.append(reward)
        if terminated or truncated:
            break
    assert info["diverged"] and len(rewards) < task.horizon and finite(obs, *rewards)
    # Each step's cost is at most 2 reach / L + 2 c_a; the diverging step pays that for every
    # step not lived, so ending early is no way out of the per-step cost.
    worst_step = 2 / versions.V1_LENGTH_FRACTION + 2 * versions.V1_ACTION_COST
    assert sum(rewards) < -(task.horizon - len(rewards)) * worst_step
    env.reset(seed=0)
    nothing = sum(env.step(np.zeros(2, np.float32))[1] for _ in range(task.horizon))
    assert sum(rewards) < nothing


def test_vector_env_ends_and_restarts_a_diverging_arm_alone():
    task = DDN(arm="human")
    venv = ArmVectorEnv(3, task=task)
    venv.reset(seed=0)
    actions = np.zeros((3, 2), np.float32)
    actions[0] = 1.0  # only arm 0 spins up
    steps_done = 0
    while steps_done < task.horizon:
        obs, reward, terminated, truncated, info = venv.step(actions)
        steps_done += 1
        assert finite(obs, reward, info["state"], info["hand_error_mm"])
        if terminated[0]:
            break
    assert info["diverged"].tolist() == [True, False, False] and terminated.tolist() == [True, False, False]
    assert not truncated.any() and steps_done < task.horizon
    # The next step restarts arm 0 on a fresh episode and steps the others on.
    obs, reward, terminated, truncated, info = venv.step(actions)
    np.testing.assert_array_equal(obs[0, :4], np.asarray(venv.episodes.x0[0], np.float32))
    assert reward[0] == 0 and not info["diverged"].any()
    for _ in range(task.horizon - steps_done - 1):
        obs, reward, terminated, truncated, info = venv.step(np.zeros((3, 2), np.float32))
    assert truncated.tolist() == [False, True, True]  # arm 0 runs on its own clock now


def test_vector_env_partial_reset_restarts_the_masked_arms_only():
    venv = ArmVectorEnv(3, task=RandomReach(horizon=6))
    venv.reset(seed=0)
    for _ in range(2):
        obs, *_ = venv.step(np.full((3, 2), 0.3, np.float32))
    before = venv.episodes
    mask = np.array([False, True, False])
    restarted, info = venv.reset(options={"reset_mask": mask})
    np.testing.assert_array_equal(restarted[1, :4], np.asarray(venv.episodes.x0[1], np.float32))
    np.testing.assert_array_equal(restarted[~mask], obs[~mask])
    assert not np.array_equal(venv.episodes.x0[1], before.x0[1])
    np.testing.assert_array_equal(venv.episodes.x0[~mask], before.x0[~mask])
    np.testing.assert_array_equal(info["_state"], mask)
    for _ in range(4):
        *_, truncated, _ = venv.step(np.zeros((3, 2), np.float32))
    assert truncated.tolist() == [True, False, True]
    with pytest.raises(ValueError, match="reset_mask"):
        venv.reset(options={"reset_mask": np.zeros(3, bool)})


# ----- versions: a small spec is all that differs ------------------------------------------------
def time_left(task, state, delayed, target_hand, xp):
    return ((task.horizon - state.t) / task.horizon,)


RL_LIKE = versions.EnvVersion(
    "test",
    reward=lambda task, outcome, xp: -outcome.hand_error_mm / 1000.0,
    observation_extras=time_left,
    extras_bounds=((0.0, 1.0),),
    horizon_terminates=True,
    torque_limit=lambda task: 0.15,
)


def test_an_env_version_sets_reward_observation_extras_episode_end_and_torque_limit():
    task = RandomReach(horizon=5)
    env = ArmEnv(task, version=RL_LIKE)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*(" + "|".join(INFINITE_BOUNDS + ("not having a spec",)) + ")")
        check_env(env)
    assert env.torque_limit == 0.15 and env.observation_space.shape == (7,)
    obs, info = env.reset(seed=0)
    assert obs[6] == 1.0
    for t in range(task.horizon):
        obs, reward, terminated, truncated, info = env.step(np.full(2, 0.5, np.float32))
        np.testing.assert_allclose(obs[6], (task.horizon - t - 1) / task.horizon, rtol=1e-6)
        np.testing.assert_allclose(reward, -info["hand_error_mm"] / 1000.0)
        np.testing.assert_allclose(info["command"], [0.075, 0.075])
    assert terminated and not truncated
    venv = ArmVectorEnv(2, task=task, version=RL_LIKE)
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (2, 7) and venv.observation_space.contains(obs)
    for _ in range(task.horizon):
        obs, reward, terminated, truncated, info = venv.step(np.full((2, 2), 0.5, np.float32))
    np.testing.assert_allclose(reward, -info["hand_error_mm"] / 1000.0, rtol=1e-6)
    assert terminated.all() and not truncated.any() and np.all(obs[:, 6] == 0)
    with pytest.raises(ValueError, match="unknown env version 'v9'"):
        ArmEnv("ddn", version="v9")


def v1_definition(task, batch, actions, torque_limit):
    """v1's observation extras (T+1, 3) and rewards (T,) of episode 0 of ``batch`` under ``actions``,
    written out from the definition with the plant's kinematics in float64."""
    with jax.enable_x64(True):
        batch64 = jax.tree_util.tree_map(lambda a: a.astype(np.float64) if a.dtype.kind == "f" else a, batch)
        a = np.clip(np.asarray(actions, np.float64), -1, 1)
        ref = simulate(CommandTable(task.horizon), jnp.asarray(a)[None] * torque_limit, task, batch64)
        states = np.asarray(ref.states[0])
    length = versions.V1_LENGTH_FRACTION * task.arm.reach
    target_hand = plant.forward_kinematics(task.arm, np.asarray(batch64.target[0, :2]))
    seen = states[np.maximum(np.arange(task.horizon + 1) - task.delay, 0)]
    offset = (target_hand - plant.forward_kinematics(task.arm, seen[:, :2])) / length
    time_left = (task.horizon - np.arange(task.horizon + 1)) / task.horizon
    distance = np.linalg.norm(plant.forward_kinematics(task.arm, states[1:, :2]) - target_hand, axis=-1)
    rewards = -(distance / length + versions.V1_ACTION_COST * np.sum(a * a, axis=-1))
    speed = np.linalg.norm(plant.hand_velocity(task.arm, states[-1]))
    rewards[-1] -= versions.V1_SPEED_COST * speed * task.horizon * task.arm.dt / length
    return np.column_stack([offset, time_left]), rewards


@pytest.mark.parametrize("task", small_tasks(), ids=lambda t: t.name)
def test_v1_reward_and_observation_follow_their_definition_in_both_envs(task):
    actions = np.random.default_rng(4).uniform(-1.2, 1.2, (task.horizon, 2)).astype(np.float32)
    env = ArmEnv(task, version="v1")
    obs, info = env.reset(seed=3)
    extras, expected = v1_definition(task, env.episode, actions, env.torque_limit)
    observations, rewards = [obs], []
    for t in range(task.horizon):
        obs, reward, terminated, truncated, info = env.step(actions[t])
        observations.append(obs)
        rewards.append(reward)
        assert terminated == (t == task.horizon - 1) and not truncated
    assert info["command_cost"] > 0 and "state_cost" in info  # the thesis's cost parts stay in info
    # The single env computes in float64 (Python floats); its observation is float32.
    np.testing.assert_allclose(rewards, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.stack(observations)[:, 6:], extras, rtol=1e-6, atol=1e-6)
    # The vector env computes in float32: rewards of order 1 agree to a few float32 ulps of the
    # states (relative 1e-7) carried through the kinematics and the 1 / L scaling.
    venv = ArmVectorEnv(2, task=task, version="v1")
    obs, _ = venv.reset(seed=5)
    extras, expected = v1_definition(task, venv.episodes, actions, venv.torque_limit)
    observations, rewards = [obs[0]], []
    for t in range(task.horizon):
        obs, reward, terminated, truncated, _ = venv.step(np.stack([actions[t], actions[t]]))
        observations.append(obs[0])
        rewards.append(reward[0])
    assert terminated.all() and not truncated.any()
    np.testing.assert_allclose(rewards, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.stack(observations)[:, 6:], extras, rtol=1e-4, atol=1e-4)


def test_v1_doing_nothing_costs_one_per_step_and_the_torque_limits_fit_the_tasks():
    env = gym.make("armctl/CenterOut-v1")
    task = env.unwrapped.task
    nothing = []
    for case in range(4):
        env.reset(seed=case)
        nothing.append(sum(env.step(np.zeros(2, np.float32))[1] for _ in range(task.horizon)))
    # The arm stays at the centre, one center-out radius (0.15 reach = L) from every target.
    np.testing.assert_allclose(nothing, -task.horizon, rtol=1e-3)
    names = ("CenterOut", "Postural", "RandomReach", "DDN")
    limits = {name: gym.make(f"armctl/{name}-v1").unwrapped.torque_limit for name in names}
    assert limits["CenterOut"] < 0.2 < limits["Postural"] < limits["RandomReach"] < limits["DDN"] < 1.5


# ----- the traced step ----------------------------------------------------------------------
@pytest.mark.parametrize("version", ["v0", "v1", RL_LIKE], ids=lambda v: getattr(v, "name", v))
def test_the_traced_step_returns_exactly_what_the_untraced_step_does(version):
    version, rng, ends = versions.env_version(version), np.random.default_rng(7), set()
    for task in small_tasks():
        for torque_limit in (0.5, 40.0):  # 40 N m throws the arm out of the plant's range
            episode = scalar_episode(task.draw_episodes(GeneratorDraws(rng), 1))
            state, _, start = core.start(version, task, episode)
            traced = core.compile_scalar_step(version, task, torque_limit, episode, state, start.target_hand)
            for _ in range(task.horizon):
                action = tuple(rng.uniform(-3, 3, 2).astype(np.float32).tolist())  # clipped beyond [-1, 1]
                got = traced(episode, state, action, start.target_hand)
                expected = core.step(version, task, torque_limit, episode, state, action, start.target_hand)
                outcome = expected[3]
                expected += core.episode_end(version, task, outcome.t, task.horizon, outcome.diverged)
                assert repr(got) == repr(expected)  # repr writes every float exactly, and tells 1 from True
                state, terminated, truncated = expected[0], expected[4], expected[5]
                if terminated or truncated:
                    ends.add("diverged" if outcome.diverged else "horizon")
                    break
    assert ends == {"diverged", "horizon"}


def test_bad_actions_raise_naming_the_value_and_leave_the_episode_as_it_was():
    env = ArmEnv("ddn", version="v1")
    env.reset(seed=2)
    twin = pickle.loads(pickle.dumps(env))  # the copy traces its step again
    bad_actions = {
        "nan": np.array([np.nan, 0.5], np.float32),
        "inf": [0.1, np.inf],
        r"shape \(3,\)": np.zeros(3, np.float32),
        r"shape \(1, 2\)": [[0.1, 0.2]],
        "'left'": "left",
    }
    for action in np.random.default_rng(3).uniform(-1, 1, (5, 2)).astype(np.float32):
        for message, bad in bad_actions.items():
            with pytest.raises(ValueError, match=message):
                env.step(bad)
        obs, reward, terminated, truncated, info = env.step(action)
        twin_obs, twin_reward, *ends, twin_info = twin.step(action)
        np.testing.assert_array_equal(obs, twin_obs)
        assert reward == twin_reward and [terminated, truncated] == ends and info.keys() == twin_info.keys()
        for key, value in info.items():
            np.testing.assert_array_equal(value, twin_info[key], err_msg=key)


def test_a_version_deciding_by_the_numbers_in_python_steps_untraced_with_a_warning():
    branchy = versions.EnvVersion(
        "branchy",
        reward=lambda task, outcome, xp: -1.0 if outcome.diverged else 0.0,
        torque_limit=lambda task: 40.0,
    )
    env = ArmEnv(RandomReach(horizon=40), version=branchy)
    with pytest.warns(UserWarning, match="'branchy' cannot be traced"):
        env.reset(seed=0)
    rewards, terminated = [], False
    while not terminated:
        _, reward, terminated, _, info = env.step(np.ones(2, np.float32))
        rewards.append(reward)
    assert info["diverged"] and rewards == [0.0] * (len(rewards) - 1) + [-1.0]


# ----- policy bridge ------------------------------------------------------------------------
def test_run_policy_reaches_the_metrics_of_simulate():
    controller = ArmController(hidden=(8, 8), bounded=True, torque_scale=0.5, output_gain=1.0)
    params = controller.init_params(jax.random.key(0))
    task = DDN(horizon=12, delay=3)
    metrics = run_policy(controller, params, ArmEnv(task), n_episodes=3, seed=4)
    batch = replay_episodes(ArmEnv(task), 3, seed=4)
    ref = simulate(controller, params, task, batch)
    expected = task.metrics(ref.states, ref.commands, batch.target)
    assert metrics["saturated_fraction"] == 0.0 and metrics["n_episodes"] == 3
    for name, value in expected.items():
        np.testing.assert_allclose(metrics["per_episode"][name], value, rtol=1e-4, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(metrics[f"mean_{name}"], np.mean(value), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(metrics["mean_return"], -metrics["mean_cost"], rtol=1e-5)
    assert metrics["mean_final_error_mm"] > 1.0  # an untrained controller misses: the metric is not vacuous
