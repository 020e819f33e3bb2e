"""The built-in kinds of run, one config class each: the arm controllers (:class:`armctl.train.ArmConfig`),
the pathological problems (:class:`armctl.sequence.train_pathological.PathologicalConfig`) and the
character-level language models (:class:`armctl.sequence.train_lm.LMConfig`), and PPO on the
functional envs (:class:`armctl.ppo.PPOConfig`).

Each implements the experiment interface of :class:`armctl.config.RunConfig` (its optimizer with
the experiment's defaults, :meth:`~armctl.config.RunConfig.rebuild`,
:meth:`~armctl.config.RunConfig.evaluate_run`), through which :func:`armctl.runs.load_run` and
:func:`armctl.runs.evaluate` serve every kind. Importing this module defines them.
"""

from armctl.ppo import PPOConfig
from armctl.sequence.train_lm import LMConfig
from armctl.sequence.train_pathological import PathologicalConfig
from armctl.train import ArmConfig

__all__ = ["ArmConfig", "LMConfig", "PPOConfig", "PathologicalConfig"]
