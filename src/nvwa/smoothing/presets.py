"""Smoothing presets and the rig smoother that uses them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nvwa.rig.fit import RigMotion
from nvwa.smoothing.one_euro import OneEuroConfig, one_euro, one_euro_quaternions


@dataclass(frozen=True)
class SmoothingConfig:
    root: OneEuroConfig  # on the root trajectory (metres)
    rotations: OneEuroConfig  # on joint quaternions (unit-free)


SMOOTHING_PRESETS: dict[str, SmoothingConfig | None] = {
    "none": None,
    "fast": SmoothingConfig(OneEuroConfig(min_cutoff=2.0, beta=0.5), OneEuroConfig(min_cutoff=3.0, beta=0.5)),
    "balanced": SmoothingConfig(OneEuroConfig(min_cutoff=1.0, beta=0.3), OneEuroConfig(min_cutoff=1.5, beta=0.4)),
    "quality": SmoothingConfig(OneEuroConfig(min_cutoff=0.5, beta=0.2), OneEuroConfig(min_cutoff=0.8, beta=0.3)),
}


def smooth_rig(motion: RigMotion, timestamps_s: np.ndarray, preset: str, confidence: np.ndarray | None = None) -> RigMotion:
    """One-Euro on the root trajectory and on every joint rotation of ``motion``, bone lengths kept."""
    if preset not in SMOOTHING_PRESETS:
        raise ValueError(f"smoothing preset {preset!r}: choose one of {', '.join(SMOOTHING_PRESETS)}")
    config = SMOOTHING_PRESETS[preset]
    if config is None or len(timestamps_s) < 2:
        return motion
    root = one_euro(motion.root_position, timestamps_s, config.root, confidence)
    rot = one_euro_quaternions(motion.local_rotations, timestamps_s, config.rotations, confidence)
    return RigMotion(motion.bone_lengths, rot, root)
