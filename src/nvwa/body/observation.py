"""What a body backend returns for one person in one frame."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class BodyObservation:
    """One person in one frame, as a body backend sees them.

    Keypoints follow the backend's own set (``keypoint_set``: "blazepose33", "mhr70"); the rig stage
    maps any set onto the canonical SMPL-24 skeleton.
    """

    keypoint_set: str
    keypoints_2d: np.ndarray = field(repr=False)  # (J, 2) pixels in the decoded frame
    keypoints_3d: np.ndarray = field(repr=False)  # (J, 3) metres, root-relative, camera axes (x right, y down, z forward)
    visibility: np.ndarray = field(repr=False)  # (J,) in [0, 1]
    vertices: np.ndarray | None = field(default=None, repr=False)  # (V, 3) metres root-relative, mesh backends only
    translation: np.ndarray | None = field(default=None, repr=False)  # (3,) m: the root in the camera, backends that give it
    params: dict | None = field(default=None, repr=False)  # backend parameters kept for identity lock / mesh export

    # An observation is not changed once made (nothing in nvwa writes into its arrays), so what is worked out
    # from it is kept on it: the tracker asks a pose for its box several times a frame (~11 us each).

    @functools.cached_property
    def score(self) -> float:
        """Mean visibility: how much of the body the backend could see."""
        return float(np.mean(self.visibility))

    def box(self, min_visibility: float = 0.3) -> np.ndarray:
        """(4,) xyxy pixels around the keypoints seen with at least ``min_visibility`` (a new array each call)."""
        boxes = self.__dict__.setdefault("_boxes", {})
        if min_visibility not in boxes:
            pts = self.keypoints_2d[self.visibility >= min_visibility]
            if len(pts) < 2:
                pts = self.keypoints_2d
            boxes[min_visibility] = np.concatenate([pts.min(axis=0), pts.max(axis=0)])
        return boxes[min_visibility].copy()
