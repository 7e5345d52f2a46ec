"""The two kinds of body model the pipeline drives, as ``Protocol``s (checked with ``isinstance``).

- :class:`CropBodyBackend` (BlazePose): one person's crop at a time; ``init_state()`` gives a video's own
  state (a :class:`CropBodyVideo`), which follows each tracked person (per-person landmarkers).
- :class:`BatchedBodyBackend` (SAM 3D Body): every person of a frame in one call, fed their boxes and
  masks (SAM 3 masklets) and the camera's K; it places people itself and gives a mesh.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from nvwa.body.observation import BodyObservation


class CropBodyVideo(Protocol):
    """One video's state of a crop backend (sam2's ``inference_state`` habit): made per video, closed with it."""

    def probe(self, image: np.ndarray, box: np.ndarray, margin: float | None = None) -> BodyObservation | None:
        """Is there a person in ``box``? (a stateless look)"""

    def track(self, track_id: int, image: np.ndarray, box: np.ndarray, timestamp_s: float, **kwargs) -> BodyObservation | None:
        """The person of ``track_id`` in ``box`` at ``timestamp_s`` (s), with that person's own state."""

    def track_many(self, requests: list[tuple], timestamp_s: float, meanwhile=None, following=None) -> list[BodyObservation | None]:
        """``track`` for several people of one frame: ``requests`` = [(track_id, image, box, margin)];
        a backend may run them in parallel, and then calls ``meanwhile()`` (the caller's own work, once)
        while they run. ``following`` = (the next frame's image, (track_id, observation) -> the box the
        caller will ask for next frame, or None): a backend may begin those next crops early."""
        ...

    def release(self, track_id: int) -> None:
        """That person is gone."""

    def close(self) -> None: ...


@runtime_checkable
class CropBodyBackend(Protocol):
    keypoint_set: str  # e.g. "blazepose33": which rig mapping its keypoints take

    def init_state(self) -> CropBodyVideo:
        """A new video's state; nothing of a previous video carries over."""

    def find_people(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) RGB -> boxes (N, 4) xyxy px, scores (N,): people its own detector finds."""

    def probe(self, image: np.ndarray, box: np.ndarray, margin: float | None = None) -> BodyObservation | None:
        """Is there a person in ``box``? (a stateless look)"""

    def close(self) -> None: ...


@runtime_checkable
class BatchedBodyBackend(Protocol):
    keypoint_set: str  # e.g. "mhr70"

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) the mesh's triangles."""

    def estimate_masklets(self, image: np.ndarray, masklets, K: np.ndarray) -> list[BodyObservation]:
        """Every person of the frame at once, from their masklets (boxes, masks) and K (decoded px)."""

    def remesh(self, shape: np.ndarray, model_params: np.ndarray) -> np.ndarray:
        """(T, V, 3) the mesh made again from one locked identity."""

    def close(self) -> None: ...


__all__ = ["CropBodyBackend", "CropBodyVideo", "BatchedBodyBackend"]
