"""MJCF (MuJoCo XML) model of the same two-joint arm, generated from :class:`ArmParams`.

Used for MuJoCo rendering and to cross-check :func:`armctl.plant.step` against an
independent rigid-body simulator. The model matches the plant's equations:

* two hinge joints about z in the horizontal plane, no gravity, contacts disabled;
* segment masses at the centres of mass ``s1``, ``s2`` along each segment, with the
  inertias ``i1``, ``i2`` about the centre of mass as the z inertia (x, y inertias are
  only there to make a valid body: ``0.1 I`` about the segment axis and ``I`` across it,
  which satisfies the triangle inequality and never enters planar motion); geoms carry
  no mass (``inertiafromgeom="false"``);
* joint damping = the diagonal of B; the off-diagonal viscosity ``b12 dq2``, ``b21 dq1``
  is not expressible in MJCF and must be applied through ``qfrc_applied`` (see
  :func:`viscous_coupling`);
* the ``Euler`` integrator with ``eulerdamp`` disabled, so damping is explicit and the
  step is the same semi-implicit Euler step as the plant's, with ``timestep = dt``.

A mocap body ``target`` (a red sphere) marks the target for rendering; it adds no
degrees of freedom.
"""

from __future__ import annotations

import numpy as np

from armctl.plant import ArmParams


def _num(x) -> str:
    return repr(float(x))


def arm_mjcf(params: ArmParams) -> str:
    """The MJCF XML string of the arm described by ``params``."""
    p = params.validate()
    radius = 0.04 * p.reach
    return f"""<mujoco model="armctl-arm">
  <compiler angle="radian" inertiafromgeom="false"/>
  <option timestep="{_num(p.dt)}" integrator="Euler" gravity="0 0 0">
    <flag contact="disable" eulerdamp="disable"/>
  </option>
  <visual>
    <headlight ambient="0.5 0.5 0.5" diffuse="0.5 0.5 0.5"/>
  </visual>
  <worldbody>
    <geom name="floor" type="plane" size="{_num(2 * p.reach)} {_num(2 * p.reach)} 0.01"
          pos="0 0 {_num(-radius)}" rgba="0.97 0.97 0.97 1"/>
    <body name="upper_arm">
      <joint name="shoulder" type="hinge" axis="0 0 1" damping="{_num(p.b11)}"/>
      <inertial pos="{_num(p.s1)} 0 0" mass="{_num(p.m1)}"
                diaginertia="{_num(0.1 * p.i1)} {_num(p.i1)} {_num(p.i1)}"/>
      <geom name="upper_arm" type="capsule" fromto="0 0 0 {_num(p.l1)} 0 0" size="{_num(radius)}"
            rgba="0.35 0.35 0.45 1"/>
      <body name="forearm" pos="{_num(p.l1)} 0 0">
        <joint name="elbow" type="hinge" axis="0 0 1" damping="{_num(p.b22)}"/>
        <inertial pos="{_num(p.s2)} 0 0" mass="{_num(p.m2)}"
                  diaginertia="{_num(0.1 * p.i2)} {_num(p.i2)} {_num(p.i2)}"/>
        <geom name="forearm" type="capsule" fromto="0 0 0 {_num(p.l2)} 0 0" size="{_num(0.8 * radius)}"
              rgba="0.45 0.45 0.55 1"/>
        <site name="hand" pos="{_num(p.l2)} 0 0" size="{_num(radius)}"/>
      </body>
    </body>
    <body name="target" mocap="true">
      <geom name="target" type="sphere" size="{_num(1.2 * radius)}" rgba="0.86 0.16 0.16 1"/>
    </body>
  </worldbody>
</mujoco>
"""


def viscous_coupling(params: ArmParams, dq: np.ndarray) -> np.ndarray:
    """The off-diagonal viscous torques ``-(b12 dq2, b21 dq1)`` MJCF joint damping cannot express;
    add them to ``qfrc_applied`` before each ``mj_step``."""
    return -np.array([params.b12 * dq[1], params.b21 * dq[0]])
