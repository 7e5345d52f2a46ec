"""Phase 1, identity lock: one set of bone lengths per person for the whole sequence.

Offline, the estimate comes from every confident frame at once (a trimmed mean), so a person whose
per-frame estimate is still settling in the first frames neither shrinks nor grows: frame 0 already
has the final lengths.
"""

from __future__ import annotations

import numpy as np

from nvwa.rig.fit import lock_bone_lengths
from nvwa.rig.skeleton import SMPL24_PARENTS


def lock_identity(joints: np.ndarray, confidence: np.ndarray, *, tolerance: float = 0.1) -> tuple[np.ndarray, dict]:
    """joints (T, 24, 3) m, confidence (T, 24) -> (bone lengths (24,) m, summary).

    The summary counts the frames whose raw bone lengths were more than ``tolerance`` (relative) off the
    locked ones - the frames the lock changes - and the largest correction in metres.
    """
    finite = np.isfinite(joints).all(axis=(1, 2))
    conf = np.where(finite[:, None], np.nan_to_num(confidence), 0.0)
    lengths = lock_bone_lengths(np.nan_to_num(joints), conf)
    parents = np.array(SMPL24_PARENTS[1:])
    raw = np.linalg.norm(joints[:, 1:] - joints[:, parents], axis=-1)  # (T, 23)
    err = np.abs(raw - lengths[1:])
    rel = err / np.maximum(lengths[1:], 1e-6)
    changed = np.nan_to_num(rel, nan=0.0).max(axis=1) > tolerance
    return lengths, {
        "frames_changed": int(changed.sum()),
        "max_correction_m": float(np.nanmax(err)) if np.isfinite(err).any() else 0.0,
        "bone_lengths_m": [round(float(v), 4) for v in lengths],
    }


def repair_keypoints(joints: np.ndarray, confidence: np.ndarray, lengths: np.ndarray, t: np.ndarray,
                     *, min_confidence: float = 0.3, max_stretch: float = 0.3, min_error_m: float = 0.12) -> tuple[np.ndarray, np.ndarray, dict]:
    """Replace the joints a frame cannot vouch for by interpolation in time from the frames that can.

    A joint is unreliable where its confidence is under ``min_confidence`` or its bone to the parent is
    more than ``max_stretch`` (relative) and ``min_error_m`` off the locked length - a thrown keypoint
    or a stale value, not the centimetres of noise every short bone has.
    Left in, one would bend every bone below it through the rig; interpolated, it moves on with its
    neighbours. joints (T, 24, 3), confidence (T, 24), lengths (24,), t (T,) ->
    (joints, confidence with repaired joints at most ``min_confidence``, summary).
    """
    joints = np.array(joints, dtype=np.float64, copy=True)
    conf = np.array(confidence, dtype=np.float64, copy=True)
    parents = np.array(SMPL24_PARENTS[1:])
    bone = np.linalg.norm(joints[:, 1:] - joints[:, parents], axis=-1)
    error = np.abs(bone - lengths[1:])
    bad = np.zeros(conf.shape, dtype=bool)
    bad[:, 1:] = ~((error <= max_stretch * lengths[1:]) | (error <= min_error_m))  # NaN counts as bad
    bad |= ~(conf >= min_confidence) | ~np.isfinite(joints).all(axis=-1)
    repaired = 0
    for j in range(24):
        good = ~bad[:, j]
        if good.all() or good.sum() < 2:
            continue
        for d in range(3):
            joints[~good, j, d] = np.interp(t[~good], t[good], joints[good, j, d])
        conf[~good, j] = np.minimum(conf[~good, j], min_confidence)
        repaired += int((~good).sum())
    return joints, conf, {"joints_repaired": repaired}
