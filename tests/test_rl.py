"""The Stable-Baselines3 adapter (armctl.envs.sb3): SB3's VecEnv conventions on the native vector env,
seeds, errors, and a tiny PPO.learn through it. Needs the rl extra (pip install 'armctl[rl]')."""

import sys
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip(
    "stable_baselines3", reason="Stable-Baselines3 is not installed (pip install 'armctl[rl]')"
)

from armctl.envs.registration import ENV_IDS, quiet_v0_notice  # noqa: E402
from armctl.envs.sb3 import SB3VecEnv, split_info  # noqa: E402
from gymnasium.vector import AutoresetMode, SyncVectorEnv  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env  # noqa: E402
from stable_baselines3.common.logger import Logger  # noqa: E402
from stable_baselines3.common.vec_env import VecCheckNan, VecMonitor  # noqa: E402

import armctl.gym_registration  # noqa: E402,F401  (registers the env ids)

HORIZON = 5
NUM_ENVS = 3


def make_native(num_envs: int = NUM_ENVS) -> gym.vector.VectorEnv:
    """A short center-out vector env through gymnasium.make_vec (the path SB3 rejected before)."""
    return gym.make_vec(
        "armctl/CenterOut-v0",
        num_envs=num_envs,
        task_options={"horizon": HORIZON},
        max_episode_steps=HORIZON,
    )


@pytest.fixture(scope="module")
def actions():
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (2 * HORIZON, NUM_ENVS, 2)).astype(np.float32)


@pytest.fixture(scope="module")
def sb3_episode(actions):
    """Two episodes through the adapter (seed 7) and through the bare vector env with the same
    seed and actions, resetting the bare env explicitly where the adapter resets inside the step."""
    adapter = SB3VecEnv(make_native())
    adapter.seed(7)
    ours = [(adapter.reset(), None, None, None)]
    for a in actions[:HORIZON]:
        ours.append(adapter.step(a))
    bare = make_native()
    theirs = [bare.reset(seed=7)]
    for a in actions[:HORIZON]:
        theirs.append(bare.step(a))
    theirs.append(bare.reset())
    return adapter, ours, theirs


def test_adapter_is_an_sb3_vec_env_with_the_single_spaces():
    adapter = SB3VecEnv(make_native())
    assert adapter.num_envs == NUM_ENVS
    assert adapter.observation_space == adapter.vector_env.single_observation_space
    assert adapter.action_space == adapter.vector_env.single_action_space
    assert adapter.env_is_wrapped(gym.Wrapper) == [False] * NUM_ENVS
    assert adapter.get_attr("num_envs", indices=[0, 2]) == [NUM_ENVS, NUM_ENVS]


def test_steps_follow_the_vector_env_until_the_episodes_end(sb3_episode):
    _, ours, theirs = sb3_episode
    np.testing.assert_array_equal(ours[0][0], theirs[0][0])
    for t in range(1, HORIZON):
        obs, rewards, dones, infos = ours[t]
        b_obs, b_rew, _, _, b_info = theirs[t]
        np.testing.assert_array_equal(obs, b_obs)
        np.testing.assert_array_equal(rewards, b_rew)
        assert not dones.any()
        assert len(infos) == NUM_ENVS
        for i, info in enumerate(infos):
            np.testing.assert_array_equal(info["state"], b_info["state"][i])
            assert info["command_cost"] == b_info["command_cost"][i]
            assert info["TimeLimit.truncated"] is False
            assert "terminal_observation" not in info


def test_episode_end_resets_inside_the_step_with_terminal_observation(sb3_episode):
    _, ours, theirs = sb3_episode
    obs, rewards, dones, infos = ours[HORIZON]
    last_obs, last_rew, terminated, truncated, _ = theirs[HORIZON]
    assert dones.all() and truncated.all() and not terminated.any()  # v0: the horizon truncates
    np.testing.assert_array_equal(rewards, last_rew)
    for i, info in enumerate(infos):
        np.testing.assert_array_equal(info["terminal_observation"], last_obs[i])
        assert info["TimeLimit.truncated"] is True
    new_obs, new_info = theirs[HORIZON + 1]
    np.testing.assert_array_equal(obs, new_obs)  # the next episodes' first observations
    np.testing.assert_array_equal(ours[0][0][:, :4], obs[:, :4])  # center-out starts at one posture
    adapter = sb3_episode[0]
    np.testing.assert_array_equal(adapter.reset_infos[0]["state"], new_info["state"][0])


def test_same_seed_same_episodes_and_the_next_episodes_are_new(actions):
    def observations(seed):
        adapter = SB3VecEnv(make_native())
        adapter.seed(seed)
        first = adapter.reset()
        steps = [adapter.step(a)[0] for a in actions]
        return first, np.stack(steps)

    a_first, a_steps = observations(3)
    b_first, b_steps = observations(3)
    np.testing.assert_array_equal(a_first, b_first)
    np.testing.assert_array_equal(a_steps, b_steps)
    targets = {tuple(np.round(o[:, 4:], 6).ravel()) for o in (a_first, a_steps[HORIZON - 1])}
    assert len(targets) == 2  # the second episodes draw new targets from the stream


def test_split_info_gives_one_dict_per_env_and_leaves_out_masked_entries():
    info = {
        "a": np.array([1.0, 2.0]),
        "_a": np.array([True, False]),
        "b": {"c": np.array([3, 4]), "_c": np.array([True, True])},
        "_b": np.array([True, True]),
    }
    assert split_info(info, 2) == [{"a": 1.0, "b": {"c": 3}}, {"b": {"c": 4}}]


def test_envs_that_end_alone_are_restarted_alone():
    lengths = (1, 3)  # env 0 ends after every step, env 1 after three
    envs = SyncVectorEnv([lambda n=n: gym.make("armctl/CenterOut-v0", max_episode_steps=n) for n in lengths])
    bare = SyncVectorEnv([lambda n=n: gym.make("armctl/CenterOut-v0", max_episode_steps=n) for n in lengths])
    adapter = SB3VecEnv(envs)
    adapter.seed(0)
    first = adapter.reset()
    bare.reset(seed=0)
    action = np.full((2, 2), 0.5, np.float32)
    obs, _, dones, infos = adapter.step(action)
    bare_obs, _, _, truncated, _ = bare.step(action)
    assert dones.tolist() == [True, False] and truncated.tolist() == [True, False]
    np.testing.assert_array_equal(infos[0]["terminal_observation"], bare_obs[0])
    assert "terminal_observation" not in infos[1]
    np.testing.assert_array_equal(obs[0, :4], first[0, :4])  # env 0 restarted at the central posture
    np.testing.assert_array_equal(obs[1], bare_obs[1])  # env 1 went on
    assert not any(key.startswith("_") for info in infos for key in info)
    for _ in range(2):
        obs, _, dones, infos = adapter.step(action)
    assert dones.tolist() == [True, True]
    assert infos[1]["step"] == 3


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sb3_env_checker_passes_without_warnings(env_id):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_v0_notice()
        check_env(gym.make(env_id), warn=True)
    assert [str(w.message) for w in caught] == []


def test_v1_episodes_end_terminated_at_the_horizon_through_the_adapter():
    adapter = SB3VecEnv(gym.make_vec("armctl/CenterOut-v1", num_envs=2, task_options={"horizon": HORIZON}))
    adapter.seed(0)
    obs = adapter.reset()
    assert obs.shape == (2, 9) and np.all(obs[:, 8] == 1.0)  # the time left
    for t in range(HORIZON):
        obs, rewards, dones, infos = adapter.step(np.zeros((2, 2), np.float32))
        assert dones.all() == (t == HORIZON - 1)
    for info in infos:  # terminated, so SB3 must not bootstrap past the task's end
        assert info["TimeLimit.truncated"] is False and info["terminal_observation"][8] == 0.0
        assert {"hand_error_mm", "hand", "target_hand"} <= set(info)


def test_bad_vector_envs_are_refused_with_clear_errors():
    with pytest.raises(TypeError, match="gymnasium.vector.VectorEnv"):
        SB3VecEnv(gym.make("armctl/CenterOut-v0"))
    same_step = SyncVectorEnv(
        [lambda: gym.make("armctl/CenterOut-v0")], autoreset_mode=AutoresetMode.SAME_STEP
    )
    with pytest.raises(ValueError, match="NEXT_STEP"):
        SB3VecEnv(same_step)
    adapter = SB3VecEnv(make_native())
    adapter.set_options([{"a": 1}, {}, {}])
    with pytest.raises(ValueError, match="one options dict"):
        adapter.reset()


def test_ppo_learns_through_the_adapter_without_nans():
    n_steps, rollouts = 2 * HORIZON, 4
    venv = VecCheckNan(VecMonitor(SB3VecEnv(make_native())), raise_exception=True)
    model = PPO("MlpPolicy", venv, n_steps=n_steps, batch_size=15, n_epochs=2, seed=0, device="cpu")
    model.set_logger(Logger(None, []))  # SB3's default logger leaves an empty /tmp/SB3-* per learn()
    model.learn(rollouts * n_steps * NUM_ENVS)
    assert model.num_timesteps == rollouts * n_steps * NUM_ENVS
    # VecMonitor saw every arm finish every episode: the adapter reported the ends SB3's way.
    assert len(model.ep_info_buffer) == rollouts * n_steps * NUM_ENVS // HORIZON
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert action.shape == (NUM_ENVS, 2)


def test_bench_rl_scores_a_recurrent_policy_from_its_initial_state_each_episode():
    """bench/rl.py's RecurrentPPO (sb3-contrib) trains through the -v1 id and is scored with its LSTM
    state carried within an episode and reset at the next."""
    pytest.importorskip("sb3_contrib")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import rl as bench_rl

    env = bench_rl.make_env("ddn")
    batch = bench_rl.evaluation_episodes(env.unwrapped.task, 2)
    ((steps, seconds, (scores, policy)),) = bench_rl.train_sb3(
        "recurrent-ppo", "ddn", 128, 0, 1, lambda policy: (bench_rl.run_policy(policy, env, batch), policy)
    )
    assert steps >= 128 and seconds > 0 and np.isfinite(scores["return"])
    a, b = policy(), policy()
    obs, _ = env.reset(options={"batch": bench_rl.one_episode(batch, 0)})
    first = [a(obs) for _ in range(3)]
    np.testing.assert_array_equal(b(obs), first[0])  # a fresh episode starts from the initial state
    assert not np.array_equal(first[0], first[1])  # the state moves within an episode


def test_bench_rl_scores_the_episodes_ppo_evaluates_on():
    """bench/rl.py's ppo_episodes (used by rl_table.py, ppo_delays.py, ahf_delays.py) are the
    episodes PPO's evaluation draws (its keys through the functional env's reset), and the scoring
    of the other controllers reports them as the functional env does: the zero policy's final hand
    error, through the Gymnasium id and Task.metrics, is the functional env's own."""
    import jax
    import jax.numpy as jnp
    from armctl.envs import functional

    from armctl.ppo import evaluation_keys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import rl as bench_rl

    seed, n = 3, 3
    task, batch = bench_rl.ppo_episodes("armctl/DDN-v1", seed, n)
    zero = bench_rl.run_policy(bench_rl.zero_policy, bench_rl.make_env("ddn"), batch)

    env, params = functional.make("armctl/DDN-v1")
    keys = evaluation_keys(seed, n)
    _, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, None, None)))
    cost = np.zeros(n)
    for _ in range(task.horizon):
        _, state, _, done, info = step(keys, state, jnp.zeros(2), params)
        cost += np.asarray(info["command_cost"] + info["state_cost"])  # PPO's thesis cost
    assert bool(np.all(done))  # the horizon ended every episode on this step
    errors = np.asarray(info["hand_error_mm"])
    assert zero["diverged"] == 0 and np.all(errors > 10.0)  # undisturbed DDN reaches are far off
    # float32 functional env against the float64 Gymnasium env over 60 steps of a stable arm
    np.testing.assert_allclose(zero["final_error_mm"], errors.mean(), rtol=1e-4)
    np.testing.assert_allclose(zero["cost"], cost.mean(), rtol=1e-4)
