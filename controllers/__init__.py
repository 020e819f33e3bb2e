"""Recurrent controllers and sequence models for armctl."""

from controllers.arm import ArmController
from controllers.lm import LSTM, MLSTM, MRNN, make_model

__all__ = ["LSTM", "MLSTM", "MRNN", "ArmController", "make_model"]
