"""Recurrent networks: the arm controllers (registered by name for ``armctl train --controller``:
``thesis``, ``gru``, ``lstm``) and the sequence models of the pathological problems and the
character-level language models."""

from armctl.controllers.arm import ArmController
from armctl.controllers.gated import GatedController, gru, lstm
from armctl.controllers.lm import LSTM, MLSTM, MRNN, make_model
from armctl.controllers.rnn import RNN

from armctl.registry import CONTROLLERS, register_controller

__all__ = ["LSTM", "MLSTM", "MRNN", "RNN", "ArmController", "GatedController", "gru", "lstm", "make_model"]

for _name, _factory in (("thesis", ArmController), ("gru", gru), ("lstm", lstm)):
    if _name not in CONTROLLERS:
        register_controller(_name, _factory)
