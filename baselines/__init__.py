"""Baselines on the armctl plant: per-reach iLQR and online (receding-horizon) iLQR.

The generic solver is ``armctl.baselines.ilqr.ilqr``; it is not re-exported here because a package
attribute named ``ilqr`` would hide the ``armctl.baselines.ilqr`` module.
"""

from armctl.baselines.ilqr import ILQRResult, open_loop, reference_loss, solve_task
from armctl.baselines.online import online_ilqr

__all__ = ["ILQRResult", "online_ilqr", "open_loop", "reference_loss", "solve_task"]
