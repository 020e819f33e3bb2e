"""Recurrent controllers and sequence models for armctl."""

from controllers.arm import ArmController
from controllers.lm import LSTM, MLSTM, MRNN, make_model
from controllers.rnn import RNN

__all__ = ["LSTM", "MLSTM", "MRNN", "RNN", "ArmController", "make_model"]
