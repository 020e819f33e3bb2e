"""PPO on the functional envs: it learns, a run resumes to the uninterrupted numbers, the GRU forgets
where an episode starts, and bad settings are refused by name."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from armctl import runs
from armctl.cli import main
from armctl.ppo import Agent, PPOConfig, _compiled, _merge, _reward_stats, train

SMALL = dict(num_envs=8, rollout_steps=16, minibatches=2, epochs=2, hidden=16, eval_episodes=4)


#: A small GRU run on DDN that two tests share (``train`` reuses its compiled update).
RESUMED = dict(env_id="armctl/DDN-v1", policy="gru", eval_every=256, seed=3, normalize_rewards=True, **SMALL)


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    out = tmp_path_factory.mktemp("ppo") / "co"
    config = PPOConfig(
        env_id="armctl/CenterOut-v1", steps=150_000, eval_every=50_000, num_envs=32, seed=0, out=str(out)
    )
    return out, train(config, log=quiet)


def test_ppo_learns_center_out(learned):
    out, report = learned
    history = json.loads((out / "history.json").read_text())
    errors = [e for e in history["eval_final_hand_error_mm"] if e is not None]
    # Doing nothing leaves the hand one center-out radius (57 mm) from every target.
    assert (
        errors[0] < 57 and report["final_hand_error_mm"] < 20 and report["final_hand_error_mm"] == errors[-1]
    )
    assert report["env_steps"] >= 150_000 and report["thesis_cost"] > 0 and np.isfinite(report["return"])
    assert (out / "progress.png").read_bytes()[:4] == b"\x89PNG"
    assert (
        runs.evaluate(out, log=quiet)["final_hand_error_mm"] == report["final_hand_error_mm"]
    )  # armctl eval


def test_a_resumed_run_reaches_the_uninterrupted_numbers(tmp_path):
    base = RESUMED
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(PPOConfig(steps=4 * 128, out=str(straight), **base), log=quiet)
    train(PPOConfig(steps=2 * 128, out=str(split), **base), log=quiet)
    assert main(["rl", "ppo", "--resume", str(split), "--steps", str(4 * 128)]) == 0
    a, b = runs.load_run(straight), runs.load_run(split)
    assert a.history["loss"] == b.history["loss"] and a.history["eval_return"] == b.history["eval_return"]
    for x, y in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params), strict=True):
        np.testing.assert_array_equal(x, y)
    # Every update, the resumed ones too, takes the first one's types: the step compiled once.
    config = PPOConfig(**base)
    update, _ = _compiled(config, config.env_and_params()[0])
    assert update._cache_size() == 1


def test_the_reward_statistics_are_those_of_all_returns_seen():
    returns = np.random.default_rng(0).normal(3.0, 2.0, size=(5, 16)).astype(np.float32)
    stats = _reward_stats(16)
    for batch in returns:
        stats = _merge(stats, jnp.asarray(batch))
    # The prior (count 1e-4, variance 1) weighs 1e-4 / 80 of the result.
    np.testing.assert_allclose([stats.mean, stats.var], [returns.mean(), returns.var()], rtol=1e-4)


def test_the_gru_forgets_where_an_episode_starts():
    agent = Agent("gru", obs_dim=3, action_dim=2, hidden=5, initial_log_std=-0.5)
    params = agent.init(jax.random.key(0))
    obs = jnp.ones((2, 3))
    carry, *_ = agent.step(params, agent.initial_carry(2), obs, jnp.array([True, True]))
    again, mean, value = agent.step(params, carry, obs, jnp.array([True, False]))
    fresh, *_ = agent.step(params, agent.initial_carry(2), obs, jnp.array([True, True]))
    np.testing.assert_array_equal(again[0], fresh[0])  # a start: the previous episode is gone
    assert not np.allclose(again[1], fresh[1])  # no start: it remembers
    assert mean.shape == (2, 2) and value.shape == (2,)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(env_id="armctl/Juggle-v1"), "unknown env id 'armctl/Juggle-v1'"),
        (dict(num_envs=10, minibatches=4), r"num_envs \(10\) must be a multiple of minibatches \(4\)"),
        (dict(gamma=1.5), "gamma must be a finite number in"),
        (dict(devices=2), r"PPO steps its envs on one device; got devices=2 \(expected 1\)"),
        (dict(policy="transformer"), None),
    ],
)
def test_bad_settings_are_refused_by_name(kwargs, message, capsys):
    if message is None:
        with pytest.raises(SystemExit):
            main(["rl", "ppo", "armctl/DDN-v1", "--policy", kwargs["policy"]])
        assert "invalid choice: 'transformer'" in capsys.readouterr().err
        return
    with pytest.raises(ValueError, match=message):
        PPOConfig(**kwargs)


def test_one_call_trains_a_policy_per_delay_as_separate_runs_would(tmp_path):
    """``delays``: the setting with the task's own delay follows the single-setting run (same init,
    same env randomness); the other setting differs, and each is reported under its delay."""
    base = dict(steps=2 * 128, **RESUMED)  # "single" is the resume test's split run: compiled once
    single = train(PPOConfig(out=str(tmp_path / "single"), **base), log=quiet)
    task_delay = runs.load_run(tmp_path / "single").config.env_and_params()[0].task.delay
    both = train(PPOConfig(delays=(task_delay, 0), out=str(tmp_path / "both"), **base), log=quiet)
    same, other = both["per_delay"]
    assert (same["delay"], other["delay"]) == (task_delay, 0)
    a = json.loads((tmp_path / "single" / "history.json").read_text())
    b = json.loads((tmp_path / "both" / "history.json").read_text())
    assert all(len(loss) == 2 for loss in b["loss"])
    # The first update agrees to float32 rounding (the batched matmuls may round differently);
    # Adam's normalized steps then amplify the rounding, so later numbers agree only loosely.
    np.testing.assert_allclose(b["loss"][0][0], a["loss"][0], rtol=1e-4)
    np.testing.assert_allclose(b["train_return"][0][0], a["train_return"][0], rtol=1e-4)
    assert b["train_return"][0][1] != pytest.approx(a["train_return"][0], rel=1e-4)  # delay 0 sees more
    assert same["return"] == pytest.approx(single["return"], rel=2e-2)


@pytest.mark.parametrize(
    "delays, message", [((2, 2), "delays must be distinct"), ((0, 999), "delays must be")]
)
def test_bad_delays_are_refused_by_name(delays, message):
    with pytest.raises(ValueError, match=message):
        PPOConfig(env_id="armctl/DDN-v1", delays=delays)
