"""Gymnasium faces of the armctl arm.

``registration`` (env ids, imported by :mod:`armctl.gym_registration`), ``arm_env`` (single
env), ``vector`` (native vector env), ``core`` (the jitted step both share), ``render``
(numpy and MuJoCo rendering), ``mjcf`` (MJCF model of the same arm), ``policy`` (run an
armctl controller in the env).
"""
