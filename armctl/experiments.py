"""The built-in kinds of run, one config class each: the arm controllers
(:class:`armctl.arm_experiment.ArmConfig`), the pathological problems
(:class:`armctl.sequence.pathological_experiment.PathologicalConfig`), the character-level
language models (:class:`armctl.sequence.lm_experiment.LMConfig`) and PPO on the functional envs
(:class:`armctl.ppo.PPOConfig`).

Each implements the experiment interface of :class:`armctl.config.RunConfig` (its optimizer with
the experiment's defaults, :meth:`~armctl.config.RunConfig.rebuild`,
:meth:`~armctl.config.RunConfig.evaluate_run`), through which :func:`armctl.runs.load_run` and
:func:`armctl.runs.evaluate` serve every kind. Importing this module defines them.
"""

from armctl.arm_experiment import ArmConfig
from armctl.ppo import PPOConfig
from armctl.sequence.lm_experiment import LMConfig
from armctl.sequence.pathological_experiment import PathologicalConfig

__all__ = ["ArmConfig", "LMConfig", "PPOConfig", "PathologicalConfig"]
