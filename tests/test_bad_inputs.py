"""Bad inputs, by class: each is one clear error naming the bad value and what is valid.

The cases are not listed by hand: they are read off the registries -- every leaf of the
``armctl`` parser, every optimizer in ``optim.OPTIMIZERS``, every task field in ``registry.TASKS``, every
registered env id, every ``ArmParams`` field -- so a new command, option, optimizer, task field or
env id inherits the checks. What one command or object refuses beyond these lives beside its own
tests (test_train, test_envs, test_optim_train, test_plant, test_lm, test_pathological).
"""

import argparse
import dataclasses
import inspect
import math
import re

import gymnasium as gym
import numpy as np
import pytest
from armctl.envs.registration import ENV_IDS

from armctl import optim
from armctl.cli import build_parser, main
from armctl.plant import ArmParams
from armctl.registry import TASKS
from armctl.tasks import make_task


# ----- the command line ---------------------------------------------------------------------------
def leaf_parsers(parser, prefix=()):
    """``(argv prefix, parser)`` of every command that takes no further subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from leaf_parsers(sub, (*prefix, name))
            return
    yield prefix, parser


def minimal_argv(prefix, parser, out) -> list[str]:
    """The command with its positionals and required options filled in with valid-looking values
    (an optional positional only where it has choices: a free optional path is another mode's)."""
    argv = list(prefix)
    for action in parser._actions:
        if action.option_strings and not action.required:
            continue
        if not action.option_strings and action.nargs == "?" and not action.choices:
            continue
        value = str(next(iter(action.choices))) if action.choices else str(out)
        argv += [value] if not action.option_strings else [action.option_strings[0], value]
    return argv


LEAVES = list(leaf_parsers(build_parser()))
#: (command, option) for every option whose value is parsed as a number.
NUMERIC_OPTIONS = [
    (prefix, parser, action)
    for prefix, parser in LEAVES
    for action in parser._actions
    if action.option_strings and (action.type in (int, float) or hasattr(action.type, "minimum"))
]
#: (command, option) for the numeric options derived from a run config (validated by the config).
CONFIG_OPTIONS = [
    (prefix, parser, action)
    for prefix, parser, action in NUMERIC_OPTIONS
    if action.type in (int, float) and action.dest != "seed" and "--out" in parser._option_string_actions
]


def option_id(case):
    prefix, _, action = case
    return " ".join(prefix) + " " + action.option_strings[0]


def values(action, text: str) -> list[str]:
    return [text] * (action.nargs if isinstance(action.nargs, int) else 1)


@pytest.mark.parametrize("case", NUMERIC_OPTIONS, ids=option_id)
def test_every_numeric_option_refuses_text_naming_the_option(case, tmp_path, capsys):
    prefix, parser, action = case
    argv = minimal_argv(prefix, parser, tmp_path / "out") + [action.option_strings[0], *values(action, "abc")]
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and action.option_strings[0] in err and "'abc'" in err, err


@pytest.mark.parametrize("case", [c for c in NUMERIC_OPTIONS if hasattr(c[2].type, "minimum")], ids=option_id)
def test_every_bounded_option_refuses_a_value_below_its_minimum(case, tmp_path, capsys):
    prefix, parser, action = case
    low = action.type.minimum if isinstance(action.type.minimum, float) else action.type.minimum - 1
    argv = minimal_argv(prefix, parser, tmp_path / "out") + [action.option_strings[0], str(low)]
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and action.option_strings[0] in err and str(low) in err, err


@pytest.mark.parametrize("case", CONFIG_OPTIONS, ids=option_id)
def test_every_run_setting_out_of_range_exits_2_naming_it_before_any_work(case, tmp_path, capsys):
    prefix, parser, action = case
    out = tmp_path / "out"
    bad = "-1" if action.type is int else "nan"
    argv = minimal_argv(prefix, parser, out) + [
        "--out",
        str(out),
        action.option_strings[0],
        *values(action, bad),
    ]
    assert main(argv) == 2, argv
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and action.dest in err and bad in err, err
    assert not out.exists()


# ----- optimizers --------------------------------------------------------------------------------------
def optimizer_options():
    """``(name, option, default)`` for every option of every registered optimizer."""
    for name, record in optim.OPTIMIZERS.items():
        for option, parameter in inspect.signature(record.factory).parameters.items():
            yield name, option, parameter.default


def required_options(name: str) -> dict:
    parameters = inspect.signature(optim.OPTIMIZERS[name].factory).parameters
    return {p: 0.1 for p, spec in parameters.items() if spec.default is inspect.Parameter.empty}


def bad_values(default) -> list:
    """Values no option with this default accepts."""
    if isinstance(default, bool):
        return ["maybe", 1]
    if isinstance(default, (int, float)):
        return ["abc", math.nan, math.inf, True]
    if isinstance(default, str):
        return ["no-such-choice"]
    return ["abc"]  # optional numbers (default None) and required ones


@pytest.mark.parametrize(
    "name,option,default", list(optimizer_options()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_optimizer_option_refuses_bad_values_naming_it(name, option, default):
    for bad in bad_values(default):
        options = {**required_options(name), option: bad}
        with pytest.raises(ValueError, match=rf"{option} must .*got {bad!r}"):
            optim.make(name, **options)


@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_every_optimizer_refuses_unknown_options_listing_the_valid_ones(name):
    message = rf"unknown option foo for optimizer '{name}'; valid options: "
    with pytest.raises(ValueError, match=message):
        optim.make(name, **required_options(name), foo=1)
    with pytest.raises(ValueError, match="unknown option foo for optimizer"):  # the factory itself
        optim.OPTIMIZERS[name].factory(**required_options(name), foo=1)


# ----- tasks ----------------------------------------------------------------------------------------------
def task_fields():
    """``(task, field, default)`` for every numeric field of every task."""
    for name, record in TASKS.items():
        for field in dataclasses.fields(record.cls):
            default = field.default
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                yield name, field.name, default
            elif isinstance(default, tuple) and default and all(isinstance(v, float) for v in default):
                yield name, field.name, default


@pytest.mark.parametrize(
    "task,field,default", list(task_fields()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_numeric_task_field_refuses_nan_and_text_naming_it(task, field, default):
    bad_values = [(math.nan, *default[1:]), "abc"] if isinstance(default, tuple) else [math.nan, "abc"]
    for bad in bad_values:
        with pytest.raises(ValueError, match=field):
            make_task(task, **{field: bad})


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_refuses_unknown_fields_and_names(task):
    with pytest.raises(ValueError, match="foo"):
        make_task(task, foo=1)
    with pytest.raises(ValueError, match=r"unknown task 'reach-everything'; expected one of"):
        make_task("reach-everything")


# ----- physics ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ArmParams._fields)
@pytest.mark.parametrize("arm", ["monkey", "human"])
def test_every_arm_parameter_refuses_non_finite_values_naming_it(arm, field):
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError, match=rf"ArmParams.{field} must be finite"):
            getattr(ArmParams, arm)()._replace(**{field: bad}).validate()


# ----- Gymnasium envs --------------------------------------------------------------------------------------
BAD_ACTIONS = [
    (np.array([np.nan, 0.0], np.float32), "finite"),
    (np.array([0.0, np.inf], np.float32), "finite"),
    (np.zeros(3, np.float32), r"shape \(2,\)"),
    ("left", r"shape \(2,\)"),
    (None, r"shape \(2,\)"),
]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_env_id_refuses_bad_actions_and_reset_options_naming_them(env_id):
    env = gym.make(env_id, disable_env_checker=True).unwrapped
    env.reset(seed=0)
    for action, message in BAD_ACTIONS:
        with pytest.raises(ValueError, match=rf"action must .*{message}"):
            env.step(action)
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) \['speed'\]; valid: "):
        env.reset(seed=0, options={"speed": 1})
    with pytest.raises(ValueError, match="torque_limit must be a positive finite torque"):
        gym.make(env_id, torque_limit=-1.0)
    with pytest.raises(ValueError, match="foo"):
        gym.make(env_id, task_options={"foo": 1})


# ----- the Python API: keys and non-finite inputs -------------------------------------------------
@pytest.mark.parametrize("key", [3, np.uint32([0, 1]), "seed", None], ids=["int", "numpy", "str", "none"])
def test_samplers_refuse_what_is_not_a_prng_key(key):
    import jax

    from armctl.sequence import pathological

    with pytest.raises(ValueError, match="key must be one JAX PRNG key"):
        make_task("center-out").sample(key)
    with pytest.raises(ValueError, match="key must be one JAX PRNG key"):
        pathological.sample("addition", key, 10, 2)
    with pytest.raises(ValueError, match="key must be one JAX PRNG key"):
        make_task("ddn").sample(jax.random.split(jax.random.key(0), 2))  # two keys, not one


@pytest.mark.parametrize("field", ["x0", "command_noise", "params"])
def test_simulate_refuses_non_finite_inputs_naming_them(field):
    import jax
    import jax.numpy as jnp
    from armctl.controllers import ArmController

    from armctl import simulate

    task, controller = make_task("ddn", batch_size=2), ArmController(hidden=(4, 4))
    params = controller.init_params(jax.random.key(0))
    batch = task.sample(jax.random.key(1))
    if field == "params":
        leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
        path, first = leaves[0]
        params = jax.tree_util.tree_unflatten(
            treedef, [jnp.full_like(first, jnp.inf)] + [v for _, v in leaves[1:]]
        )
        where = f"params{jax.tree_util.keystr(path)}"
    else:
        batch = batch._replace(**{field: getattr(batch, field).at[0].set(jnp.nan)})
        where = f"batch.{field}"
    with pytest.raises(ValueError, match=rf"{re.escape(where)} holds values that are not finite"):
        simulate(controller, params, task, batch)
    # Under jit there are no values to look at: the check is for eager calls.
    assert jax.jit(lambda p, b: simulate(controller, p, task, b).states)(params, batch).shape[0] == 2


def test_task_loss_refuses_a_non_finite_target():
    import jax.numpy as jnp

    task = make_task("center-out")
    states, commands = jnp.zeros((16, task.horizon + 1, 4)), jnp.zeros((16, task.horizon, 2))
    with pytest.raises(ValueError, match="target holds values that are not finite"):
        task.loss(states, commands, jnp.full((16, 4), jnp.nan))
