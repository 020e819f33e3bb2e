"""Headless rendering of the arm, its target and the hand path as uint8 RGB images.

Two backends draw the same picture, top view of the horizontal plane, shoulder at the centre:

* ``numpy``: a direct rasterizer (distance-to-segment tests on small pixel boxes); no
  dependencies, a few milliseconds a frame.
* ``mujoco``: offscreen rendering of the MJCF model of the arm (:func:`armctl.envs.mjcf.arm_mjcf`)
  through EGL; the hand path is drawn as scene capsules.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from armctl import plant
from armctl.plant import ArmParams

BACKGROUND = np.array([250, 250, 250], np.uint8)
ARM = np.array([90, 90, 110], np.uint8)
JOINT = np.array([30, 30, 40], np.uint8)
TARGET = np.array([220, 40, 40], np.uint8)
PATH = np.array([40, 110, 220], np.uint8)


def arm_points(
    params: ArmParams, path: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shoulder, elbow, hand of the last state (3, 2), hand path (k, 2), target hand (2,) in m."""
    path, target = np.asarray(path, np.float64), np.asarray(target, np.float64)
    elbow, hand = plant.joint_positions(params, path[-1, :2])
    links = np.stack([np.zeros(2), elbow, hand])
    hands = plant.forward_kinematics(params, path[:, :2])
    goal = plant.forward_kinematics(params, target[:2])
    return links, hands, goal


class NumpyRenderer:
    """Rasterizes the arm into a ``size x size`` image covering +-1.05 reach around the shoulder."""

    def __init__(self, params: ArmParams, size: int = 256):
        if not (isinstance(size, int) and size >= 16):
            raise ValueError(f"render_size must be an integer >= 16 pixels, got {size!r}")
        self.params, self.size = params, size
        self.scale = size / (2.1 * params.reach)  # pixels per metre

    def _pixels(self, p: np.ndarray) -> np.ndarray:
        """World (m) to pixel (column, row) coordinates; y points up in the image."""
        return np.stack([self.size / 2 + self.scale * p[..., 0], self.size / 2 - self.scale * p[..., 1]], -1)

    def _segment(
        self, img: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float, color: np.ndarray
    ) -> None:
        lo = np.maximum(np.floor(np.minimum(a, b) - radius), 0).astype(int)
        hi = np.minimum(np.ceil(np.maximum(a, b) + radius) + 1, self.size).astype(int)
        if (hi <= lo).any():
            return
        cols, rows = np.meshgrid(np.arange(lo[0], hi[0]) + 0.5, np.arange(lo[1], hi[1]) + 0.5)
        p = np.stack([cols, rows], -1) - a
        d = b - a
        s = np.clip((p @ d) / max(float(d @ d), 1e-12), 0.0, 1.0)
        inside = np.linalg.norm(p - s[..., None] * d, axis=-1) <= radius
        img[lo[1] : hi[1], lo[0] : hi[0]][inside] = color

    def __call__(self, path: np.ndarray, target: np.ndarray) -> np.ndarray:
        links, hands, goal = (self._pixels(p) for p in arm_points(self.params, path, target))
        img = np.empty((self.size, self.size, 3), np.uint8)
        img[:] = BACKGROUND
        unit = self.size / 256
        self._segment(img, goal, goal, 6 * unit, TARGET)
        for a, b in zip(hands[:-1], hands[1:], strict=True):
            self._segment(img, a, b, 1.2 * unit, PATH)
        for a, b in zip(links[:-1], links[1:], strict=True):
            self._segment(img, a, b, 4 * unit, ARM)
        for p in links:
            self._segment(img, p, p, 5 * unit, JOINT)
        return img

    def close(self) -> None:
        pass


def import_mujoco():
    """Import mujoco choosing EGL when no display is set (the choice is made at import)."""
    if "mujoco" not in sys.modules and not os.environ.get("DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "egl")
    import mujoco

    return mujoco


class MujocoRenderer:
    """Offscreen MuJoCo rendering of the MJCF arm (EGL); the hand path is drawn as capsules."""

    def __init__(self, params: ArmParams, size: int = 256):
        from armctl.envs.mjcf import arm_mjcf

        self.mujoco = mj = import_mujoco()
        self.params = params
        self.model = mj.MjModel.from_xml_string(arm_mjcf(params))
        self.data = mj.MjData(self.model)
        try:
            self.renderer = mj.Renderer(self.model, size, size)
        except Exception as err:  # the GL backend was fixed when mujoco was imported
            raise RuntimeError(
                "MuJoCo offscreen rendering failed; set MUJOCO_GL=egl (or osmesa) before importing mujoco, "
                f"or use render_backend='numpy' ({err})"
            ) from err
        self.camera = mj.MjvCamera()
        self.camera.type = mj.mjtCamera.mjCAMERA_FREE
        self.camera.lookat[:] = 0.0
        self.camera.distance = 2.6 * params.reach
        self.camera.elevation = -90.0
        self.camera.azimuth = 90.0

    def __call__(self, path: np.ndarray, target: np.ndarray) -> np.ndarray:
        mj = self.mujoco
        self.data.qpos[:] = path[-1, :2]
        self.data.mocap_pos[0, :2] = arm_points(self.params, path, target)[2]
        mj.mj_forward(self.model, self.data)
        self.renderer.update_scene(self.data, self.camera)
        scene = self.renderer.scene
        hands = arm_points(self.params, path, target)[1]
        width = 0.004 * self.params.reach
        for a, b in zip(hands[:-1], hands[1:], strict=True):
            if scene.ngeom >= scene.maxgeom:
                break
            geom = scene.geoms[scene.ngeom]
            mj.mjv_initGeom(
                geom,
                mj.mjtGeom.mjGEOM_CAPSULE,
                np.zeros(3),
                np.zeros(3),
                np.eye(3).ravel(),
                np.append(PATH / 255.0, 1.0).astype(np.float32),
            )
            mj.mjv_connector(geom, mj.mjtGeom.mjGEOM_CAPSULE, width, np.append(a, 0.01), np.append(b, 0.01))
            scene.ngeom += 1
        return self.renderer.render().copy()

    def close(self) -> None:
        self.renderer.close()


def make_renderer(params: ArmParams, backend: str, size: int):
    """A renderer ``(path (k, 4), target (4,)) -> uint8 (size, size, 3)`` with ``close()``."""
    return {"numpy": NumpyRenderer, "mujoco": MujocoRenderer}[backend](params, size)
