"""Gymnasium faces of the armctl arm.

``registration`` (env ids, imported by :mod:`armctl.gym_registration`), ``core`` (the env step
both envs share, written once, and what makes an env version), ``arm_env`` (single env, Python
floats, no JAX), ``vector`` (native vector env, jitted), ``render`` (NumPy and MuJoCo rendering),
``mjcf`` (MJCF model of the same arm), ``policy`` (run an armctl controller in the env).
"""
