"""A person's clothing colours and skin tone, sampled from their own pixels.

While observing, every few frames where the person is seen clearly, small patches are read at points
along their torso (upper clothing), thighs and shins (lower clothing) and face (skin); the median over
the frames is their colour, robust to a passer-by or a shadow on a few of them. The result is sRGB
(0-255) as the video shows it; exporters turn it linear.
"""

from __future__ import annotations

import numpy as np

from nvwa.body.keypoints import B, M

PARTS = ("upper", "lower", "skin")
MIN_VISIBILITY = 0.7
EVERY = 5  # frames between samples of one person
_NAMES = ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
          "right_ankle", "nose")
_INDEX = {"blazepose33": [B[n] for n in _NAMES], "mhr70": [M[n] for n in _NAMES]}


def linear_from_srgb(srgb: np.ndarray) -> np.ndarray:
    """sRGB 0-1 -> linear light 0-1 (the sRGB transfer curve undone)."""
    srgb = np.asarray(srgb, dtype=np.float64)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def srgb_from_linear(linear: np.ndarray) -> np.ndarray:
    """Linear light 0-1 -> sRGB 0-1 (clipped to 0-1 first)."""
    linear = np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def _points(k: np.ndarray) -> dict[str, list[np.ndarray]]:
    """Sample points per part from the 9 keypoints (px)."""
    ls, rs, lh, rh, lk, rk, la, ra, nose = k
    shoulders, hips = (ls + rs) / 2, (lh + rh) / 2
    upper = [shoulders + f * (hips - shoulders) + g * (rs - ls) for f in (0.3, 0.55, 0.8) for g in (-0.15, 0.0, 0.15)]
    lower = [a + f * (b - a) for a, b in ((lh, lk), (rh, rk), (lk, la), (rk, ra)) for f in (0.35, 0.65)]
    return {"upper": upper, "lower": lower, "skin": [nose]}


def sample_colours(image: np.ndarray, keypoints_2d: np.ndarray, visibility: np.ndarray, keypoint_set: str) -> np.ndarray | None:
    """(3, 3) float sRGB 0-255 (upper, lower, skin; NaN where not seen) from one frame (H, W, 3) RGB and the
    person's keypoints in that frame's pixels, or None when the body is not clearly seen."""
    idx = _INDEX.get(keypoint_set)
    if idx is None or np.asarray(visibility)[idx[:6]].min() < MIN_VISIBILITY:
        return None
    k = np.asarray(keypoints_2d, dtype=np.float64)[idx]
    h, w = image.shape[:2]
    r = max(1, int(0.02 * np.linalg.norm(k[0] - k[4])))  # a patch ~2% of the body's height
    out = np.full((3, 3), np.nan)
    legs_seen = np.asarray(visibility)[idx[4:8]].min() >= MIN_VISIBILITY
    face_seen = np.asarray(visibility)[idx[8]] >= MIN_VISIBILITY
    for row, (part, pts) in enumerate(_points(k).items()):
        if (part == "lower" and not legs_seen) or (part == "skin" and not face_seen):
            continue
        patches = []
        for x, y in pts:
            xi, yi = int(round(x)), int(round(y))
            if r <= xi < w - r and r <= yi < h - r:
                patches.append(image[yi - r: yi + r + 1, xi - r: xi + r + 1].reshape(-1, 3))
        if patches:
            out[row] = np.median(np.concatenate(patches), axis=0)
    return out


def person_colours(samples: list[np.ndarray]) -> np.ndarray | None:
    """The per-frame samples -> (3, 3) uint8 sRGB (upper, lower, skin), the median of each part over the
    frames that saw it; a part never seen takes a neutral grey (skin: a mid skin tone). None: no sample."""
    if not samples:
        return None
    s = np.stack(samples)
    neutral = np.array([[128, 128, 128], [90, 90, 100], [200, 160, 130]], dtype=np.float64)
    with np.errstate(all="ignore"):
        med = np.array([np.nanmedian(s[:, i], axis=0) if np.isfinite(s[:, i]).all(axis=1).any() else neutral[i]
                        for i in range(3)])
    return np.clip(np.round(med), 0, 255).astype(np.uint8)


__all__ = ["sample_colours", "person_colours", "PARTS", "EVERY"]
