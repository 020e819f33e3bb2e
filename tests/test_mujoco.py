"""The MJCF model of the arm against the plant: same mass matrix, same trajectories; MuJoCo rendering."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from armctl.envs.mjcf import arm_mjcf, viscous_coupling
from armctl.envs.render import import_mujoco

from armctl import plant
from armctl.plant import ArmParams

mujoco = import_mujoco()  # picks headless EGL when no display is set
PRESETS = {"monkey": ArmParams.monkey(), "human": ArmParams.human()}


def mujoco_rollout(params: ArmParams, x0: np.ndarray, torques: np.ndarray) -> np.ndarray:
    """States (T+1, 4) of the MJCF arm under joint torques (T, 2), off-diagonal viscosity applied by hand."""
    model = mujoco.MjModel.from_xml_string(arm_mjcf(params))
    data = mujoco.MjData(model)
    data.qpos[:], data.qvel[:] = x0[:2], x0[2:]
    states = [np.array(x0, np.float64)]
    for tau in torques:
        data.qfrc_applied[:] = tau + viscous_coupling(params, data.qvel)
        mujoco.mj_step(model, data)
        states.append(np.concatenate([data.qpos, data.qvel]))
    return np.stack(states)


def plant_rollout(params: ArmParams, x0: np.ndarray, torques: np.ndarray) -> np.ndarray:
    with jax.enable_x64(True):

        def body(x, tau):
            x = plant.step(params, x, tau)
            return x, x

        _, xs = jax.lax.scan(body, jnp.asarray(x0, jnp.float64), jnp.asarray(torques, jnp.float64))
        return np.concatenate([np.asarray(x0)[None], np.asarray(xs)])


@pytest.mark.parametrize("preset", PRESETS)
def test_model_structure_matches_the_parameters(preset):
    params = PRESETS[preset]
    model = mujoco.MjModel.from_xml_string(arm_mjcf(params))
    assert (model.nq, model.nv) == (2, 2)
    assert model.opt.timestep == params.dt and np.all(model.opt.gravity == 0)
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
    assert model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_EULERDAMP
    np.testing.assert_allclose(model.dof_damping, [params.b11, params.b22])
    upper, fore = model.body("upper_arm"), model.body("forearm")
    np.testing.assert_allclose([upper.mass[0], fore.mass[0]], [params.m1, params.m2])
    np.testing.assert_allclose([upper.ipos[0], fore.ipos[0]], [params.s1, params.s2])
    np.testing.assert_allclose(
        [upper.inertia[2], fore.inertia[2]], [params.i1, params.i2]
    )  # about z, at the COM
    np.testing.assert_allclose(fore.pos, [params.l1, 0, 0])


@pytest.mark.parametrize("preset", PRESETS)
def test_mass_matrix_equals_the_plants(preset):
    params = PRESETS[preset]
    model = mujoco.MjModel.from_xml_string(arm_mjcf(params))
    data = mujoco.MjData(model)
    full = np.zeros((2, 2))
    for q in np.random.default_rng(0).uniform(-np.pi, np.pi, (6, 2)):
        data.qpos[:] = q
        mujoco.mj_forward(model, data)
        mujoco.mj_fullM(model, data, full)
        with jax.enable_x64(True):
            expected = np.asarray(plant.mass_matrix(params, jnp.asarray(q)))
        np.testing.assert_allclose(full, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("preset", PRESETS)
def test_same_torques_give_the_same_joint_trajectory(preset):
    params = PRESETS[preset]
    rng = np.random.default_rng(1)
    scale = 5.0 if preset == "human" else 0.3  # about the arms' reaching torques
    torques = scale * rng.standard_normal((200, 2))
    x0 = np.array([0.3, 1.2, 2.0, -3.0])  # moving: Coriolis and viscosity terms matter from step 0
    ours, theirs = plant_rollout(params, x0, torques), mujoco_rollout(params, x0, torques)
    assert np.abs(theirs - x0).max() > 1.0  # the arm really moved
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def test_dropping_the_viscous_coupling_breaks_the_match():
    """The cross-check is sensitive: the small off-diagonal viscosity alone is visible."""
    params = PRESETS["monkey"]
    torques = 0.3 * np.random.default_rng(2).standard_normal((100, 2))
    x0 = np.array([0.3, 1.2, 2.0, -3.0])
    uncoupled = params._replace(b12=0.0, b21=0.0)
    assert np.abs(plant_rollout(uncoupled, x0, torques) - mujoco_rollout(params, x0, torques)).max() > 1e-3


def test_mujoco_render_backend_draws_the_arm():
    from armctl.envs.arm_env import ArmEnv

    from armctl.tasks import CenterOut

    try:
        env = ArmEnv(CenterOut(horizon=10), render_mode="rgb_array", render_backend="mujoco", render_size=96)
    except RuntimeError as err:  # no headless GL on this machine
        pytest.skip(str(err))
    env.reset(seed=0)
    before = env.render()
    for _ in range(10):
        env.step(np.array([1.0, -1.0], np.float32))
    after = env.render()
    env.close()
    assert before.shape == (96, 96, 3) and before.dtype == np.uint8
    assert before.std() > 5 and not np.array_equal(before, after)
    red = (after[..., 0].astype(int) - after[..., 1] > 80) & (after[..., 0] > 120)
    assert red.sum() > 5  # the target sphere
