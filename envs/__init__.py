"""Gymnasium faces of the armctl arm.

``registration`` (env ids, imported by :mod:`armctl.gym_registration`), ``core`` (the env step
every env shares, written once), ``versions`` (what makes v0 and v1), ``checks`` (actions and
reset options), ``arm_env`` (single env, Python floats, no JAX), ``vector`` (native vector env,
jitted), ``functional`` (the same step as pure JAX functions, gymnax's contract: ``jit``/``vmap``
over episodes and plant settings), ``render`` (NumPy and MuJoCo rendering), ``mjcf`` (MJCF model
of the same arm), ``policy`` (run an armctl controller in the env).
"""
