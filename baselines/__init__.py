"""Baselines on the armctl plant: per-reach iLQR and online (receding-horizon) iLQR.

The generic solver is ``baselines.ilqr.ilqr``; it is not re-exported here because a package
attribute named ``ilqr`` would hide the ``baselines.ilqr`` module.
"""

from baselines.ilqr import ILQRResult, open_loop, reference_loss, solve_task
from baselines.online import online_ilqr

__all__ = ["ILQRResult", "online_ilqr", "open_loop", "reference_loss", "solve_task"]
