"""A cheap appearance cue for re-identifying a person after a short gap: colour histograms of the torso
and of the legs, cut out along the person's own keypoints."""

from __future__ import annotations

import cv2
import numpy as np

from nvwa.body.observation import BodyObservation

# BlazePose-33 indices: shoulders, hips, knees.
_SHOULDERS, _HIPS, _KNEES = (11, 12), (23, 24), (25, 26)
_BINS = (12, 6)  # hue x saturation


def _region_hist(hsv: np.ndarray, pts: np.ndarray, shrink: float) -> np.ndarray | None:
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hw, hh = max((x1 - x0) / 2 * shrink, 2.0), max((y1 - y0) / 2 * shrink, 2.0)
    h, w = hsv.shape[:2]
    xa, xb = int(max(cx - hw, 0)), int(min(cx + hw, w))
    ya, yb = int(max(cy - hh, 0)), int(min(cy + hh, h))
    if xb - xa < 2 or yb - ya < 2:
        return None
    patch = hsv[ya:yb, xa:xb]
    hist = cv2.calcHist([patch], [0, 1], None, list(_BINS), [0, 180, 0, 256]).ravel()
    total = hist.sum()
    return hist / total if total > 0 else None


def appearance_descriptor(image: np.ndarray, obs: BodyObservation) -> np.ndarray | None:
    """(2 * 72,) normalised hue-saturation histograms of torso and thighs, or None when the person is too
    small or off-frame. ``image`` is the RGB frame the observation's 2D keypoints refer to."""
    if obs.keypoint_set != "blazepose33":
        return None
    kp = obs.keypoints_2d
    torso = kp[list(_SHOULDERS + _HIPS)]
    legs = kp[list(_HIPS + _KNEES)]
    pad = 4
    x0, y0 = np.floor(np.minimum(torso.min(0), legs.min(0))).astype(int) - pad
    x1, y1 = np.ceil(np.maximum(torso.max(0), legs.max(0))).astype(int) + pad
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    hsv = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2HSV)  # convert only the person's window
    offset = np.array([x0, y0])
    a = _region_hist(hsv, torso - offset, 0.7)
    b = _region_hist(hsv, legs - offset, 0.7)
    if a is None or b is None:
        return None
    return np.concatenate([a, b]).astype(np.float32)


def appearance_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """1 - Bhattacharyya distance averaged over the two regions; 1 means the same colours."""
    half = len(a) // 2
    d = [cv2.compareHist(a[s], b[s], cv2.HISTCMP_BHATTACHARYYA) for s in (slice(0, half), slice(half, None))]
    return float(1.0 - np.mean(d))
