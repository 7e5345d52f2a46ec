"""A masklet: one tracked object in one frame as a mask (SAM 3's output; the occlusion stage's input and
output; the batched body model's input), and the small mask helpers they share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Masklet:
    """One object of a masklet in one frame: its persistent id, mask and the mask's box."""

    track_id: int
    mask: np.ndarray = field(repr=False)  # (H, W) bool, decoded-frame pixels
    box: np.ndarray = field(repr=False)  # (4,) xyxy px, tight around the mask
    score: float = 1.0
    occluded: bool = False  # the occlusion stage replaced mask and box with amodal ones
    image: np.ndarray | None = field(default=None, repr=False)  # this person's completed frame (occlusion stage)


def mask_box(mask: np.ndarray) -> np.ndarray | None:
    """Tight xyxy box (pixel edges) around a boolean mask; None for an empty mask."""
    rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
    if not rows.any():
        return None
    y0, y1 = np.flatnonzero(rows)[[0, -1]]
    x0, x1 = np.flatnonzero(cols)[[0, -1]]
    return np.array([x0, y0, x1 + 1, y1 + 1], dtype=np.float64)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


__all__ = ["Masklet", "mask_box", "mask_iou"]
