"""Smoothing stage: One-Euro on the rig's root trajectory and joint rotations."""

from nvwa.smoothing.one_euro import OneEuroConfig, one_euro, one_euro_quaternions
from nvwa.smoothing.presets import SMOOTHING_PRESETS, SmoothingConfig, smooth_rig

__all__ = ["OneEuroConfig", "one_euro", "one_euro_quaternions", "SMOOTHING_PRESETS", "SmoothingConfig", "smooth_rig"]
