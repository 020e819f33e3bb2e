"""The extension points: registering tasks, controllers and optimizers from outside armctl, through
plug-ins (entry points) for the command line and Gymnasium, the controllers a run names (recorded in
config.json, rebuilt by eval and --resume), and the gated controllers' gradients."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import sys
import textwrap
from typing import ClassVar

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from armctl.controllers.gated import GatedController

import armctl
from armctl import registry, runs
from armctl.arm_experiment import ArmConfig
from armctl.cli import main
from armctl.optim import registry as optimizers
from armctl.tasks import CenterOut

TINY = ["--task-option", "batch_size=4", "--task-option", "horizon=10", "--steps", "2"]


def test_the_registries_hold_the_built_ins_and_refuse_mistakes_by_name():
    assert {"center-out", "postural", "ddn", "random-reach"} <= set(registry.task_names())
    assert {"thesis", "gru", "lstm"} <= set(registry.controller_names())
    assert (
        registry.task_record("DDN").env_id_name == "DDN"
        and registry.task_record("random_reach").name == "random-reach"
    )
    with pytest.raises(ValueError, match="unknown task 'reach'; expected one of"):
        registry.task_record("reach")
    with pytest.raises(ValueError, match="unknown controller 'transformer'; expected one of"):
        registry.controller_factory("transformer")
    with pytest.raises(ValueError, match="a task named 'center-out' is registered already"):
        armctl.register_task(CenterOut)
    with pytest.raises(ValueError, match="a task is a dataclass subclass of armctl.tasks.Task"):
        armctl.register_task(dict)
    with pytest.raises(ValueError, match=r"unknown task record fields \['view_port'\]"):
        armctl.register_task(CenterOut, replace=True, view_port=1)
    with pytest.raises(ValueError, match=r"preset 'quick': \['n_target'\] are not fields of CenterOut"):
        armctl.register_task(CenterOut, replace=True, presets={"quick": {"n_target": 3}})
    with pytest.raises(ValueError, match="unknown preset 'fast'"):
        armctl.register_task(CenterOut, replace=True, presets={"fast": {}})
    with pytest.raises(ValueError, match="a controller named 'gru' is registered already"):
        armctl.register_controller("gru", GatedController)
    with pytest.raises(ValueError, match="an optimizer named 'hf' is registered already"):
        armctl.register_optimizer("hf", optimizers.OPTIMIZERS["hf"].factory)
    with pytest.raises(ValueError, match="name must be letters"):
        armctl.register_optimizer("my optimizer", optimizers.OPTIMIZERS["hf"].factory)
    assert registry.task_record("center-out").cls is CenterOut  # the refused registrations changed nothing


PLUGIN = '''
import dataclasses
from typing import ClassVar

import armctl
from armctl.tasks import CenterOut


@dataclasses.dataclass(frozen=True)
class PluginReach(CenterOut):
    name: ClassVar[str] = "plugin-reach"
    n_targets: int = 4


@dataclasses.dataclass(frozen=True)
class Zero:
    """A controller that never pushes: its one parameter is unused by the torques."""

    scale: float = 1.0

    def init_params(self, key):
        import jax.numpy as jnp

        return {"b": jnp.zeros(2)}

    def initial_state(self, params, batch_size):
        return ()

    def step(self, params, carry, observation, target):
        return carry, self.scale * params["b"] + 0.0 * observation[:, :2], ()


def register():
    armctl.register_task(
        PluginReach, presets={"quick": {"n_targets": 4}}, steps={"quick": 2}, env_peak_acceleration=20.0
    )
    armctl.register_controller("plugin-zero", Zero)
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A package on sys.path with an ``armctl.plugins`` entry point, as an installed one would have."""
    (tmp_path / "my_plugin.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = importlib.metadata.EntryPoint("mine", "my_plugin:register", registry.PLUGIN_GROUP)
    real = importlib.metadata.entry_points

    def entry_points(**selection):
        if selection.get("group") == registry.PLUGIN_GROUP:
            return importlib.metadata.EntryPoints([entry])
        return real(**selection)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    monkeypatch.setattr(registry, "_loaded_plugins", set())
    yield
    # Unregister, so later tests in this process see the built-in names only.
    sys.modules.pop("my_plugin", None)
    registry._TASKS.pop("plugin-reach", None)
    registry._CONTROLLERS.pop("plugin-zero", None)
    for version in ("v0", "v1"):
        gym.registry.pop(f"armctl/PluginReach-{version}", None)


def test_a_plugin_gives_the_command_line_and_gymnasium_its_names(plugin, tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = [
        "train",
        "plugin-reach",
        "--controller",
        "plugin-zero",
        "--optimizer",
        "lbfgs",
        "--out",
        str(run_dir),
    ]
    assert main(argv) == 0, capsys.readouterr().err
    config = json.loads((run_dir / "config.json").read_text())
    assert config["task"] == "plugin-reach" and config["controller"] == "plugin-zero" and config["steps"] == 2
    assert main(["eval", str(run_dir)]) == 0
    env = gym.make("armctl/PluginReach-v1")
    assert env.reset(seed=0)[0].shape == (9,) and np.isclose(
        env.unwrapped.torque_limit, 20.0 / 16.5 * 0.15, rtol=0.02
    )


def test_a_failing_plugin_is_an_error_naming_it(tmp_path, monkeypatch):
    entry = importlib.metadata.EntryPoint("broken", "no_such_module_anywhere:register", registry.PLUGIN_GROUP)
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        lambda **s: importlib.metadata.EntryPoints(
            [entry] if s.get("group") == registry.PLUGIN_GROUP else []
        ),
    )
    monkeypatch.setattr(registry, "_loaded_plugins", set())
    with pytest.raises(
        RuntimeError, match=r"the armctl plug-in 'broken' \(no_such_module_anywhere:register\) failed"
    ):
        registry.load_plugins()


@pytest.mark.parametrize("controller, hidden", [("gru", ["6"]), ("lstm", ["5", "4"])])
def test_a_run_records_its_controller_and_eval_and_resume_rebuild_it(controller, hidden, tmp_path, capsys):
    run_dir = tmp_path / controller
    argv = [
        "train",
        "center-out",
        "--controller",
        controller,
        "--hidden",
        *hidden,
        *TINY,
        "--out",
        str(run_dir),
    ]
    assert main(argv) == 0, capsys.readouterr().err
    config = json.loads((run_dir / "config.json").read_text())
    assert config["controller"] == controller and config["hidden"] == [int(h) for h in hidden]
    loaded = runs.load_run(run_dir)
    assert loaded.model.controller.hidden == tuple(int(h) for h in hidden)
    assert main(["eval", str(run_dir)]) == 0
    assert main(["train", "--resume", str(run_dir), "--steps", "3"]) == 0
    assert len(runs.load_run(run_dir).history) == 3
    assert (
        main(
            ["train", "--resume", str(run_dir), "--controller", "thesis" if controller != "thesis" else "gru"]
        )
        == 2
    )


def test_controller_settings_are_checked_by_name(capsys):
    with pytest.raises(ValueError, match=r"unknown controller option\(s\) \['depth'\] for 'gru'; valid: "):
        ArmConfig(controller="gru", controller_options={"depth": 2})
    with pytest.raises(ValueError, match="give the layer sizes once"):
        ArmConfig(controller="gru", hidden=(4,), controller_options={"hidden": [4]})
    with pytest.raises(ValueError, match="hidden must be two positive layer sizes"):
        ArmConfig(controller="thesis", hidden=(4,))
    with pytest.raises(SystemExit) as exit_:
        main(["train", "center-out", "--controller", "transformer"])
    assert exit_.value.code == 2 and "invalid choice: 'transformer'" in capsys.readouterr().err


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_gated_controllers_gradients_match_finite_differences(cell):
    from armctl import simulate

    with jax.enable_x64(True):
        task = armctl.make_task("ddn", batch_size=3, horizon=8)
        controller = GatedController(cell=cell, hidden=(5, 4))
        params = jax.tree_util.tree_map(
            lambda a: a.astype(jnp.float64), controller.init_params(jax.random.key(0))
        )
        batch = jax.tree_util.tree_map(
            lambda a: a.astype(jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a,
            task.sample(jax.random.key(1)),
        )

        def loss(p):
            r = simulate(controller, p, task, batch)
            return task.loss(r.states, r.commands, batch.target)

        flat, unravel = jax.flatten_util.ravel_pytree(params)
        grad = jax.flatten_util.ravel_pytree(jax.grad(loss)(params))[0]
        direction = jax.random.normal(jax.random.key(2), flat.shape, jnp.float64)
        eps = 1e-6
        fd = (loss(unravel(flat + eps * direction)) - loss(unravel(flat - eps * direction))) / (2 * eps)
        # Central differences in float64: error O(eps^2) plus rounding O(1e-16 |loss| / eps).
        assert abs(float(fd) - float(grad @ direction)) <= 1e-7 * (1 + abs(float(fd)))
        # Taps: one (batch, units) array per layer, the candidates' pre-activations.
        taps = simulate(controller, params, task, batch, return_taps=True).taps
        assert [t.shape for t in taps] == [(3, 8, 5), (3, 8, 4)]


@dataclasses.dataclass(frozen=True)
class _Unregistered(CenterOut):
    name: ClassVar[str] = "never-registered"


def test_an_unregistered_task_class_is_not_a_name():
    with pytest.raises(ValueError, match="unknown task 'never-registered'"):
        ArmConfig(task="never-registered")
