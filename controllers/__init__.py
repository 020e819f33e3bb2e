"""Recurrent controllers and sequence models for armctl."""

from armctl.controllers.arm import ArmController
from armctl.controllers.lm import LSTM, MLSTM, MRNN, make_model
from armctl.controllers.rnn import RNN

__all__ = ["LSTM", "MLSTM", "MRNN", "RNN", "ArmController", "make_model"]
