"""The functional env (gymnax's contract): the same step as the Gymnasium ids on the same episodes,
automatic reset, and many plants in one vmapped call."""

from __future__ import annotations

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from armctl.envs import functional

import armctl  # noqa: F401  (registers the ids)

IDS = ["armctl/DDN-v1", "armctl/CenterOut-v1", "armctl/Postural-v0", "armctl/RandomReach-v0"]


def one_episode(batch):
    """The Gymnasium env's size-1 episode as one episode of float32 / int32 arrays."""
    return jax.tree_util.tree_map(
        lambda a: jnp.asarray(a[0], jnp.int32 if np.asarray(a).dtype.kind in "iu" else jnp.float32), batch
    )


@pytest.mark.parametrize("env_id", IDS)
def test_the_functional_env_steps_as_the_gymnasium_env_on_the_same_episode(env_id):
    gym_env = gym.make(env_id)
    env, params = functional.make(env_id)
    step = jax.jit(env.step)
    rng = np.random.default_rng(3)
    for seed in (0, 1):
        obs_gym, _ = gym_env.reset(seed=seed)
        obs, state = jax.jit(env.reset_to)(one_episode(gym_env.unwrapped.episode), params)
        np.testing.assert_allclose(obs, obs_gym, rtol=1e-5, atol=1e-6)
        for t in range(gym_env.unwrapped.task.horizon):
            action = rng.uniform(-1, 1, 2).astype(np.float32)
            obs_gym, r_gym, term, trunc, info_gym = gym_env.step(action)
            obs, state, reward, done, info = step(jax.random.key(t), state, jnp.asarray(action), params)
            # float32 (functional, like the vector env) against float64 (the single env)
            assert abs(float(reward) - r_gym) <= 1e-4 * (1 + abs(r_gym)), (t, float(reward), r_gym)
            assert bool(done) == (term or trunc)
            if term or trunc:
                assert abs(float(info["hand_error_mm"]) - info_gym["hand_error_mm"]) < 1e-2
                break
            np.testing.assert_allclose(obs, obs_gym, rtol=1e-4, atol=1e-5)


def test_the_functional_env_agrees_with_the_vector_env():
    env_id = "armctl/DDN-v1"
    vector = gym.make_vec(env_id, num_envs=3)
    env, params = functional.make(env_id)
    obs_vec, _ = vector.reset(seed=5)
    episodes = vector.unwrapped.episodes
    start = jax.vmap(env.reset_to, in_axes=(0, None))
    obs, state = start(jax.tree_util.tree_map(jnp.asarray, episodes), params)
    np.testing.assert_allclose(obs, obs_vec, rtol=1e-6, atol=1e-6)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    actions = np.random.default_rng(0).uniform(-1, 1, (20, 3, 2)).astype(np.float32)
    for t, action in enumerate(actions):
        obs_vec, r_vec, *_ = vector.step(action)
        obs, state, reward, *_ = step(
            jax.random.split(jax.random.key(t), 3), state, jnp.asarray(action), params
        )
        np.testing.assert_allclose(reward, r_vec, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(obs, obs_vec, rtol=1e-5, atol=1e-5)


def test_an_ended_episode_resets_itself():
    env, params = functional.make("armctl/CenterOut-v1")
    obs, state = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step)
    ends = 0
    for t in range(2 * env.task.horizon + 1):
        obs, state, reward, done, info = step(jax.random.key(t), state, jnp.zeros(2), params)
        if done:
            ends += 1
            assert int(info["step"]) == env.task.horizon and int(state.world.t) == 0
    assert ends == 2 and np.all(np.isfinite(obs))


def test_many_plants_in_one_vmapped_call():
    env, params = functional.make("armctl/DDN-v1", max_delay=14)
    delays = jnp.arange(0, 15, 2, dtype=jnp.int32)
    batch = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (len(delays), *jnp.shape(a))), params)
    batch = batch._replace(delay=delays)
    keys = jax.random.split(jax.random.key(0), len(delays))
    obs, state = jax.vmap(env.reset)(keys, batch)
    step = jax.jit(jax.vmap(env.step))
    first_moves = []
    for _ in range(12):
        obs, state, reward, done, info = step(keys, state, jnp.ones((len(delays), 2)), batch)
        first_moves.append(np.asarray(obs[:, 2]))  # the observed shoulder velocity
    # Each plant sees its own delay: the pushed arm's velocity shows after `delay` steps, not before.
    seen = np.argmax(np.abs(np.stack(first_moves)) > 1e-6, axis=0)  # the first step it shows
    assert list(seen[:6]) == [int(d) for d in delays[:6]]  # delays 0-10; 12 and 14 show later


def test_bad_ids_and_delays_are_refused():
    with pytest.raises(ValueError, match="unknown env id 'armctl/Reach-v1'"):
        functional.make("armctl/Reach-v1")
    with pytest.raises(ValueError, match="max_delay must be an integer in"):
        functional.make("armctl/DDN-v1", max_delay=3)  # below DDN's own delay of 7
