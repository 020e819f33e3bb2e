"""Property-based tests (hypothesis): checkpoints round-trip any tree they accept; the env step keeps
the state finite or ends the episode as diverged under any finite action; a refused reset leaves
the env as it was; the option and list parsers either parse or refuse with a clear error."""

from __future__ import annotations

import argparse
import math

import gymnasium as gym
import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import armctl  # noqa: F401  (registers the env ids)
from armctl import checkpoint
from armctl.commands import integer_list, positive_integer
from armctl.commands.compare import per_optimizer
from armctl.optim.base import Counters
from armctl.options import parse_options

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# --- checkpoints ------------------------------------------------------------------------------------

floats = st.floats(allow_nan=True, allow_infinity=True)
scalars = st.none() | st.booleans() | st.integers(-(2**62), 2**62) | floats | st.text(max_size=8)
arrays = st.builds(
    lambda dtype, shape, seed: np.random.default_rng(seed).normal(size=shape).astype(dtype),
    st.sampled_from([np.float32, np.float64, np.int32, np.uint8, np.bool_]),
    st.lists(st.integers(0, 3), max_size=3).map(tuple),
    st.integers(0, 2**32 - 1),
)
trees = st.recursive(
    scalars | arrays,
    lambda children: (
        st.lists(children, max_size=3)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=6), children, max_size=3)
        | st.builds(Counters, st.integers(0, 9), st.integers(0, 9), st.integers(0, 9))
    ),
    max_leaves=12,
)


def same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        )
    if isinstance(a, float):
        return isinstance(b, float) and (a == b or (math.isnan(a) and math.isnan(b)))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@SETTINGS
@given(tree=trees)
def test_checkpoints_round_trip_every_tree_they_accept(tree, tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, {"tree": tree, "key": jax.random.key(3)})
    back = checkpoint.load(path)
    assert same(back["tree"], tree)
    assert np.array_equal(jax.random.key_data(back["key"]), jax.random.key_data(jax.random.key(3)))


# --- the env ----------------------------------------------------------------------------------------

ENV_IDS = ["armctl/DDN-v0", "armctl/DDN-v1", "armctl/CenterOut-v1"]
actions = st.lists(
    st.tuples(st.floats(-5, 5, allow_nan=False), st.floats(-5, 5, allow_nan=False)), min_size=1, max_size=80
)


@pytest.fixture(scope="module")
def envs():
    made = {env_id: gym.make(env_id, torque_limit=3.0) for env_id in ENV_IDS}  # strong enough to diverge
    yield made
    for env in made.values():
        env.close()


@SETTINGS
@given(env_id=st.sampled_from(ENV_IDS), seed=st.integers(0, 2**31 - 1), steps=actions)
def test_any_finite_action_keeps_the_state_finite_or_ends_the_episode(envs, env_id, seed, steps):
    env = envs[env_id]
    obs, _ = env.reset(seed=seed)
    for action in steps:
        obs, reward, terminated, truncated, info = env.step(np.array(action, np.float32))
        assert np.all(np.isfinite(obs)) and math.isfinite(reward)
        if info["diverged"]:
            assert terminated
        else:
            assert np.all(np.isfinite(info["state"]))
        if terminated or truncated:
            break


bad_options = st.one_of(
    st.fixed_dictionaries({"x0": st.lists(st.floats(), min_size=0, max_size=6)}),
    st.fixed_dictionaries({"onset": st.integers(-1000, 1000) | st.floats() | st.text(max_size=3)}),
    st.fixed_dictionaries({"target": st.lists(st.floats(-10, 10) | st.just(float("nan")), max_size=3)}),
    st.fixed_dictionaries({"hand_force": st.lists(st.floats(), max_size=3)}),
    st.dictionaries(st.text(max_size=5), st.integers(), min_size=1, max_size=2),
)


@SETTINGS
@given(env_id=st.sampled_from(ENV_IDS), seed=st.integers(0, 1000), options=bad_options)
def test_a_refused_reset_leaves_the_env_as_it_was(envs, env_id, seed, options):
    env = envs[env_id].unwrapped
    env.reset(seed=seed)
    env.step(np.zeros(2, np.float32))
    before = (env.np_random.bit_generator.state, env._state, env._batch, env._ended)
    try:
        env.reset(seed=seed + 1, options=options)
    except (ValueError, TypeError) as err:
        assert str(err)  # a message, and nothing changed
        after = (env.np_random.bit_generator.state, env._state, env._batch, env._ended)
        assert (
            after[0] == before[0]
            and after[1] == before[1]
            and after[2] is before[2]
            and after[3] == before[3]
        )
        env.step(np.zeros(2, np.float32))  # the episode goes on
    else:  # the options happened to be valid
        assert np.all(np.isfinite(env.step(np.zeros(2, np.float32))[0]))


# --- parsers ----------------------------------------------------------------------------------------


@SETTINGS
@given(text=st.text(alphabet="ahf=0123456789,-. lbgs", max_size=24))
def test_list_and_per_optimizer_parsers_parse_or_refuse_clearly(text):
    for parse in (integer_list(0), per_optimizer(positive_integer)):
        try:
            value = parse(text)
        except (argparse.ArgumentTypeError, ValueError) as err:
            assert str(err)
            continue
        if isinstance(value, dict):
            assert len(value) == len({k.strip() for k in value})
        elif isinstance(value, list):
            assert len(value) == len(set(value)) and all(v >= 0 for v in value)


@SETTINGS
@given(pairs=st.lists(st.text(alphabet='ab=1.x{}[]"', max_size=8), max_size=4))
def test_option_pairs_parse_or_refuse_naming_the_pair(pairs):
    try:
        options = parse_options(pairs, "optimizer")
    except ValueError as err:
        assert "optimizer option" in str(err)
    else:
        assert len(options) == len(pairs)


def test_an_absurd_disturbance_ends_the_episode_with_finite_numbers(envs):
    # Found by the property above: a hand force of 2.8e38 N is finite, but the state it makes
    # is beyond float32's range; the step ends the episode as diverged and still returns finite numbers.
    env = envs["armctl/CenterOut-v1"]
    env.reset(seed=0, options={"hand_force": [0.0, 2.7627934729372728e38]})
    obs, reward, terminated, _, info = env.step(np.zeros(2, np.float32))
    assert np.all(np.isfinite(obs)) and math.isfinite(reward) and terminated and info["diverged"]
    vector = gym.make_vec("armctl/CenterOut-v1", num_envs=2)
    vector.reset(seed=0)
    vector.unwrapped._batch = vector.unwrapped._batch._replace(
        hand_force=np.array([[0.0, 3e38], [0.0, 0.0]], np.float32)
    )
    obs, reward, terminated, _, _ = vector.step(np.zeros((2, 2), np.float32))
    assert np.all(np.isfinite(obs)) and np.all(np.isfinite(reward)) and terminated[0] and not terminated[1]


def test_throwing_the_arm_away_costs_at_least_the_edge_of_the_plants_range(envs):
    # v0's reward is the thesis's cost, nearly all of it at the last step: the step that diverges
    # pays the terminal cost of a state at the edge of the range, or ending early would escape it.
    for env_id in ("armctl/DDN-v0", "armctl/DDN-v1"):
        env = envs[env_id]
        env.reset(seed=1, options={"hand_force": [0.0, 1e6], "onset": 0})
        _, reward, terminated, _, info = env.step(np.zeros(2, np.float32))
        assert terminated and info["diverged"] and math.isfinite(reward)
        if env_id.endswith("v0"):
            assert reward <= -(env.unwrapped.task.arm.max_joint_speed**2)
        else:  # v1: the most a step can cost, for every step not lived
            assert reward < -50
