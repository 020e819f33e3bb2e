"""Data-parallel training gives the single-device numbers (issue: scale out).

Runs in subprocesses, because the device count (forced host devices) and the process group
(``jax.distributed``) are fixed when JAX first initializes.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax
    from armctl import optim
    from armctl.sequence import pathological_experiment as tp
    from armctl.arm_experiment import ArmConfig, train
    from armctl.optim import parallel

    assert len(jax.devices()) == 4, jax.devices()
    out = {}
    for optimizer in ("ahf", "hf"):
        for devices in (1, 4):
            # The arm runs with HF only (AHF's partitioning is the same code; the addition runs
            # below check AHF). HF without structural damping: with it, CG's stop rule can flip on
            # a near-tie between reduction orders (18 against 19 calls), which moves the losses by
            # ~1e-7 (measured).
            if optimizer == "hf":
                cfg = ArmConfig(task="random-reach", optimizer="hf", steps=3, hidden=(8, 8), seed=2,
                                task_options={"batch_size": 8, "horizon": 10}, devices=devices,
                                optimizer_options={"structural_mu": 0.0}, out=f"{sys.argv[1]}/hf-{devices}")
                report = train(cfg, log=lambda *_: None)
                hist = json.load(open(f"{sys.argv[1]}/hf-{devices}/history.json"))
                out[f"hf-{devices}"] = {"loss": hist["loss"], "lambda": hist["lambda"],
                                        "calls": hist["function_calls"], "final": report["loss"]}
            # A sequence task: the RNN on the addition problem, gradient on 64 sequences, curvature on
            # 16; in float64 like the arm runs, so that reduction order is all that differs.
            cfg = tp.PathologicalConfig(problem="addition", T=10, optimizer=optimizer, batch_size=64,
                                        optimizer_options={"curvature_fraction": 0.25}, hidden=16)
            model = tp.model_for("addition", 10, 16)
            with jax.enable_x64(True):
                _, _, hist = optim.minimize(
                    tp.make_problem("addition", 10, model), cfg.make_optimizer(),
                    model.init_params(jax.random.key(0)), tp.data_source(cfg), jax.random.key(1), steps=4,
                    mesh=parallel.mesh_for(devices),
                )
            out[f"addition-{optimizer}-{devices}"] = {
                "loss": hist["loss"], "lambda": hist["lambda"], "calls": hist["function_calls"],
                "final": hist["new_loss"][-1],
            }
    # Language-model evaluation, sharded in chunks padded to a multiple of the devices.
    from armctl.sequence.lm_experiment import bits_per_character
    from armctl.sequence.char_models import make_model
    lm = make_model("mlstm", 7, hidden=6)
    lm_params, ids = lm.init_params(jax.random.key(0)), jax.random.randint(jax.random.key(1), (301,), 0, 7)
    out["bpc"] = [bits_per_character(lm, lm_params, ids, 5, 10, chunk=8, mesh=mesh)
                  for mesh in (None, parallel.batch_mesh(4), parallel.batch_mesh(3))]
    try:
        parallel.shard_batch({"x": jax.numpy.zeros((6, 2))}, parallel.batch_mesh(4))
    except ValueError as err:
        out["error"] = str(err)
    print(json.dumps(out))
    """
)


def _close(a: float, b: float, rel: float) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a))


def _assert_same_hf_history(one: dict, other: dict, rel: float = 1e-9) -> None:
    # The same losses and damping at every iteration, up to reduction order. (Its CG stop rule
    # may flip on a near-tie, so the count of products can differ by a few.)
    for a, b in zip(
        one["loss"] + one["lambda"] + [one["final"]],
        other["loss"] + other["lambda"] + [other["final"]],
        strict=True,
    ):
        assert _close(a, b, rel), (a, b)
    assert all(abs(a - b) <= 0.1 * a for a, b in zip(one["calls"], other["calls"], strict=True))


@pytest.mark.slow  # 45 s; the two-process test below keeps a data-parallel run in the default suite
def test_four_device_runs_match_single_device_runs(tmp_path):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    _assert_same_hf_history(out["hf-1"], out["hf-4"])
    # The RNN's CG runs are longer and less well conditioned: rounding differences of 1e-16 in
    # the first iteration grow to ~1e-6 in the losses by the third (measured 3e-6).
    _assert_same_hf_history(out["addition-hf-1"], out["addition-hf-4"], rel=1e-4)
    # AHF decides every direction by comparing objective values, so reduction-order differences
    # can change which directions it keeps: identical first iteration, close afterwards.
    one, four = out["addition-ahf-1"], out["addition-ahf-4"]
    assert _close(one["loss"][0], four["loss"][0], 1e-12)
    assert abs(one["final"] - four["final"]) <= 2e-2 * one["final"]
    assert four["final"] < four["loss"][0]  # and it trains
    assert "batch size 6 is not divisible by the 4 devices" in out["error"]
    assert out["bpc"][1] == pytest.approx(out["bpc"][0], rel=1e-6)
    assert out["bpc"][2] == pytest.approx(out["bpc"][0], rel=1e-6)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_run_matches_single_process_run(tmp_path):
    """Two local processes joined by ``jax.distributed`` on loopback, one CPU device each."""
    args = ["random-reach", "--optimizer", "hf", "--optimizer-option", "structural_mu=0", "--steps", "3"]
    args += ["--hidden", "8", "8", "--seed", "2"]
    args += ["--task-option", "batch_size=8", "--task-option", "horizon=10"]
    command = [sys.executable, "-m", "armctl.cli", "train", *args]
    base = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"} | {"JAX_PLATFORMS": "cpu"}
    port = _free_port()
    procs = [
        subprocess.Popen(
            [*command, "--devices", "2", "--out", str(tmp_path / f"process-{i}")],
            env=base
            | {
                "ARMCTL_COORDINATOR": f"127.0.0.1:{port}",
                "ARMCTL_NUM_PROCESSES": "2",
                "ARMCTL_PROCESS_ID": str(i),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    single = subprocess.run(
        [*command, "--out", str(tmp_path / "single")], env=base, capture_output=True, text=True, timeout=300
    )
    assert single.returncode == 0, single.stderr[-3000:]
    for p in procs:
        try:
            _, err = p.communicate(timeout=300)
        finally:
            p.kill()
        assert p.returncode == 0, err[-3000:]

    def history(name):
        hist = json.loads((tmp_path / name / "history.json").read_text())
        report = json.loads((tmp_path / name / "report.json").read_text())
        return {
            "loss": hist["loss"],
            "lambda": hist["lambda"],
            "calls": hist["function_calls"],
            "final": report["loss"],
        }

    for i in range(2):
        _assert_same_hf_history(history("single"), history(f"process-{i}"))


GN_SCRIPT = textwrap.dedent(
    """
    import json
    import jax, jax.numpy as jnp
    from armctl.optim import gauss_newton_product, parallel
    from armctl.optim.base import value_and_grad_jit
    from armctl.optim.gn import ShardedLinear
    from armctl.sequence import pathological
    from armctl.sequence.pathological_experiment import make_problem, model_for

    jax.config.update("jax_enable_x64", True)
    model = model_for("addition", 12, 16)
    problem = make_problem("addition", 12, model)
    params = model.init_params(jax.random.key(0))
    batch = pathological.sample("addition", jax.random.key(1), 12, 8)
    v = jax.tree_util.tree_map(lambda a: jax.random.normal(jax.random.key(2), a.shape, a.dtype), params)
    mesh = parallel.batch_mesh(2)
    out = {}
    leaves = jax.tree_util.tree_leaves
    error = lambda a, b: max(float(jnp.max(jnp.abs(x - y)) / jnp.max(jnp.abs(x)))
                             for x, y in zip(leaves(a), leaves(b)))
    for mu in (0.0, 0.3):
        one = gauss_newton_product(problem, params, batch, damping=0.1, structural=mu)
        two = gauss_newton_product(problem, parallel.replicate(params, mesh),
                                   parallel.shard_batch(batch, mesh), damping=0.1, structural=mu)
        assert isinstance(two.linear, ShardedLinear)
        for name, a, b in ((f"gv-{mu}", one(v), two(v)),
                           (f"gv-damped-{mu}", one.with_damping(2.0)(v), two.with_damping(2.0)(v))):
            out[name] = error(a, b)
    one = value_and_grad_jit(problem, params, batch)
    two = value_and_grad_jit(problem, parallel.replicate(params, mesh), parallel.shard_batch(batch, mesh))
    out["value-and-gradient"] = error(one, two)
    # A curvature share of a sharded batch is sharded too (each device multiplies its half), and
    # its product is the single-device share's.
    from armctl.optim.base import curvature_batch
    from armctl.optim.sharding import batch_mesh_of
    share = curvature_batch(parallel.shard_batch(batch, mesh), 0.5)
    assert batch_mesh_of(share) is mesh, jax.tree_util.tree_map(lambda x: x.sharding, share)
    one = gauss_newton_product(problem, params, curvature_batch(batch, 0.5), damping=0.1)
    two = gauss_newton_product(problem, parallel.replicate(params, mesh), share, damping=0.1)
    assert isinstance(two.linear, ShardedLinear)
    out["gv-share"] = error(one(v), two(v))
    print(json.dumps(out))
    """
)


def test_sharded_gauss_newton_product_and_gradient_equal_single_device_ones():
    """A batch sharded over two devices is linearized and multiplied (differentiated) shard by shard,
    with one average of the shards' products (gradients): the product is the single-device one,
    with and without structural damping, and so are the value and gradient, up to float64
    reduction order."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    command = [sys.executable, "-c", GN_SCRIPT]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    errors = json.loads(proc.stdout.strip().splitlines()[-1])
    products = {"gv-0.0", "gv-damped-0.0", "gv-0.3", "gv-damped-0.3", "gv-share"}
    assert set(errors) == products | {"value-and-gradient"}
    # Only the order of float64 sums differs: at most ~1e3 terms (8 sequences x 12 steps x 16
    # units) at eps 1.1e-16 each bound it near 1e-13; measured 2-5e-16.
    assert all(e < 1e-12 for e in errors.values()), errors


def test_single_threaded_ops_flag_is_added_once_and_never_over_the_users_choice():
    from armctl.xla_cpu import SINGLE_THREADED_OPS, prefer_single_threaded_ops

    environ = {}
    assert prefer_single_threaded_ops(environ) and environ["XLA_FLAGS"] == SINGLE_THREADED_OPS
    assert not prefer_single_threaded_ops(environ) and environ["XLA_FLAGS"] == SINGLE_THREADED_OPS
    environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    assert prefer_single_threaded_ops(environ)
    assert environ["XLA_FLAGS"] == f"--xla_force_host_platform_device_count=2 {SINGLE_THREADED_OPS}"
    environ = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=true"}
    assert not prefer_single_threaded_ops(environ)
    assert environ["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=true"


def test_one_device_per_core_flag_counts_the_cores_this_process_may_use_and_yields_to_the_users():
    from armctl.xla_cpu import local_cores, one_device_per_core

    environ = {}
    assert one_device_per_core(environ)
    assert environ["XLA_FLAGS"] == f"--xla_force_host_platform_device_count={local_cores()}"
    environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=3"}
    assert not one_device_per_core(environ)
    assert environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=3"


def test_the_armctl_command_asks_for_a_device_per_core_before_jax_starts(monkeypatch):
    from armctl import cli
    from armctl.xla_cpu import local_cores

    monkeypatch.setenv("XLA_FLAGS", "")
    with pytest.raises(SystemExit):  # --help: the flags are set before the arguments are parsed
        cli.main(["train", "--help"])
    assert f"--xla_force_host_platform_device_count={local_cores()}" in os.environ["XLA_FLAGS"]
    monkeypatch.setenv("ARMCTL_COORDINATOR", "host:1")  # a multi-process launch: one device each
    monkeypatch.setenv("XLA_FLAGS", "")
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    assert "device_count" not in os.environ["XLA_FLAGS"]


DEFAULT_DEVICES_SCRIPT = r"""
import json
from armctl.arm_experiment import ArmConfig
from armctl.optim.parallel import default_devices
from armctl.sequence.pathological_experiment import PathologicalConfig

print(json.dumps({
    "sizes": [default_devices(*sizes) for sizes in ((), (16,), (6,), (10, 4), (7,))],
    "center_out": ArmConfig(task="center-out").devices,
    "reach_6": ArmConfig(task="random-reach", task_options={"batch_size": 6}).devices,
    "asked": ArmConfig(task="center-out", devices=1).devices,
    "addition": PathologicalConfig(problem="addition", T=30).devices,
    "five_bit": PathologicalConfig(problem="memorization_5bit", T=30).devices,
}))
"""


def test_a_run_without_devices_takes_as_many_as_its_batches_divide():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-c", DEFAULT_DEVICES_SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["sizes"] == [4, 4, 3, 2, 1]
    assert (out["center_out"], out["reach_6"], out["asked"]) == (4, 3, 1)
    assert (out["addition"], out["five_bit"]) == (4, 4)


def test_a_run_records_the_devices_it_resolved(tmp_path):
    from armctl.arm_experiment import ArmConfig

    written = ArmConfig(task="center-out", out=str(tmp_path)).to_json()
    assert written["devices"] == 1  # the number, not "none given": a resume keeps it
    assert ArmConfig.from_json(written).devices == 1
