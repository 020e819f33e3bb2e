"""The arm controllers, registered by name for ``armctl train --controller``: ``thesis`` (the
thesis's 2 x 100 network, :class:`ArmController`), ``gru`` and ``lstm`` (:mod:`.gated`); and their
initializers (:mod:`.init`). The sequence models of the pathological problems and the language
models are in :mod:`armctl.sequence`."""

from armctl.controllers.arm import ArmController
from armctl.controllers.gated import GatedController, gru, lstm

from armctl.registry import CONTROLLERS, register_controller

__all__ = ["ArmController", "GatedController", "gru", "lstm"]

for _name, _factory in (("thesis", ArmController), ("gru", gru), ("lstm", lstm)):
    if _name not in CONTROLLERS:
        register_controller(_name, _factory)
