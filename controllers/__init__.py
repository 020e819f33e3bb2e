"""Recurrent controllers and sequence models for armctl."""

from controllers.arm import ArmController

__all__ = ["ArmController"]
