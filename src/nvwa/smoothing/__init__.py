"""Smoothing: identity lock, One-Euro on the rotation manifold, foot contacts and planted feet."""

from nvwa.smoothing.foot_contact import ContactConfig, detect_contacts
from nvwa.smoothing.footskate import plant_feet
from nvwa.smoothing.identity_lock import lock_identity
from nvwa.smoothing.motion_smooth import MotionSmoothConfig, smooth_motion, smooth_motions
from nvwa.smoothing.one_euro import OneEuroConfig, one_euro, one_euro_many, one_euro_quaternions, one_euro_zero_lag
from nvwa.smoothing.smoother import SMOOTHING_PRESETS, SmootherConfig, constrain_rig, constrain_rigs, smooth_rig, smooth_rigs

__all__ = [
    "ContactConfig", "detect_contacts", "plant_feet", "lock_identity", "MotionSmoothConfig", "smooth_motion",
    "smooth_motions", "OneEuroConfig", "one_euro", "one_euro_many", "one_euro_quaternions", "one_euro_zero_lag", "SMOOTHING_PRESETS",
    "SmootherConfig", "constrain_rig", "constrain_rigs", "smooth_rig", "smooth_rigs",
]
