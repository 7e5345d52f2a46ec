"""Are two tracks' people dressed otherwise: their clothing's colours compared in CIELAB, what the
reconstruction's identity rules ask before they join two tracks or give one's frames to another."""

from __future__ import annotations

import numpy as np

from nvwa.observations import PersonObservations

RESUMED_CLOTHES = 35.0  # upper or lower clothing this far apart (CIELAB, where both known): dressed otherwise


def _dressed_otherwise(a: PersonObservations, b: PersonObservations) -> bool:
    """Are two tracks' people dressed otherwise: their upper or their lower clothing's colours (the medians
    :mod:`nvwa.body.colours` samples) RESUMED_CLOTHES or more apart in CIELAB? False where either is not
    known (a short track's are not sampled): the lost one's real joins on vtest and Sports2D differ by
    0.7-13 (a woman in black, a man in black, the jumper against the trees)."""
    return _clothes_apart(_clothes(a), _clothes(b))


def _clothes(p: PersonObservations) -> np.ndarray | None:
    """A track's upper and lower clothing's colours in CIELAB (2, 3), or None where not sampled."""
    return None if p.colours is None else lab_of(np.asarray(p.colours, np.float32)[None, :2])[0]


def lab_of(rgb: np.ndarray) -> np.ndarray:
    """sRGB 0-255 (..., 3) (NaN: not seen) -> CIELAB, NaN kept."""
    import cv2

    rgb = np.asarray(rgb, np.float32)
    lab = cv2.cvtColor(np.nan_to_num(rgb).reshape(1, -1, 3) / 255.0, cv2.COLOR_RGB2LAB).reshape(rgb.shape)
    lab[~np.isfinite(rgb).all(axis=-1)] = np.nan
    return lab


def _clothes_apart(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """:func:`_dressed_otherwise` of two :func:`_clothes`."""
    if a is None or b is None:
        return False
    apart = np.linalg.norm(a - b, axis=1)
    return bool(np.nanmax(apart) >= RESUMED_CLOTHES) if np.isfinite(apart).any() else False
