"""Where a track's person is seen and how they walked: what the reconstruction's identity rules
(:mod:`nvwa.tracking.handover`, :mod:`nvwa.tracking.swaps`, :mod:`nvwa.tracking.clothes`,
:mod:`nvwa.tracking.stand_in`) compare of two tracks. Observations in, arrays out; no model."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nvwa.camera.background import CameraTrack
from nvwa.observations import PersonObservations
from nvwa.tracking.people import _boxes


class _Seen(NamedTuple):
    """A track where its person is seen (3 keypoints sure): frames, their times, the keypoints' boxes (px of each
    frame), the boxes' centres where the camera's first frame shows them (a moving camera's motion taken out)
    and how many of the first frame's pixels a pixel of height at each box's centre is there (1 for a camera
    that neither zooms nor moves): :func:`_tall` gives the boxes' heights in the places' pixels, which is what
    the identity rules' reaches are counted in (a zoom of 1.5x draws everyone 1.5x taller; where they stand, on
    the first frame's pixels, it leaves as it was)."""

    frames: np.ndarray
    times: np.ndarray
    boxes: np.ndarray
    place: np.ndarray
    scale: np.ndarray


class _Timeline(NamedTuple):
    """Every track's :class:`_Seen` (those with a sure pose) and when it was first and last seen: the tracks
    a check over some seconds can meet, found at once (a long video has thousands)."""

    ids: list[int]
    seen: list[_Seen]
    first: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, seen: dict[int, _Seen]) -> _Timeline:
        ids = [i for i, s in seen.items() if len(s.times)]
        return cls(ids, [seen[i] for i in ids], np.array([seen[i].times[0] for i in ids]), np.array([seen[i].times[-1] for i in ids]))

    def around(self, lo: float, hi: float, leave: tuple[int, ...]) -> list[_Seen]:
        """The tracks seen between ``lo`` and ``hi`` (s), but those of the ids ``leave``."""
        return [self.seen[j] for j in np.flatnonzero((self.first <= hi) & (self.last >= lo)) if self.ids[j] not in leave]


def _seen(p: PersonObservations, min_visibility: float, camera: CameraTrack | None) -> _Seen:
    frames, boxes = _boxes(p, min_visibility)
    times = np.asarray(p.timestamp_s, np.float64)[np.searchsorted(p.frame_index, frames)]
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    return _Seen(frames, times, boxes, _in_first(centres, frames, camera), _scale_in_first(centres, frames, camera))


def _tall(s: _Seen) -> np.ndarray:
    """A track's boxes' heights (px) where the first frame shows them (:class:`_Seen`)."""
    return (s.boxes[:, 3] - s.boxes[:, 1]) * s.scale


def _homographies(frames: np.ndarray, camera: CameraTrack) -> np.ndarray:
    """Each of ``frames``' homography onto the camera's first frame (that frame's, or the last analysed one's
    before it)."""
    row = np.clip(np.searchsorted(camera.frame_index, frames, side="right") - 1, 0, len(camera.frame_index) - 1)
    return np.asarray(camera.H_first_from_frame, np.float64)[row]


def _in_first(points: np.ndarray, frames: np.ndarray, camera: CameraTrack | None) -> np.ndarray:
    """``points`` (N, 2) px, one on each of ``frames``, where the camera's first frame shows them (the
    homography of that frame, or of the last analysed one before it); as they are without a camera track."""
    if camera is None or not len(points) or not len(camera.frame_index):
        return np.asarray(points, np.float64)
    h = np.einsum("nij,nj->ni", _homographies(frames, camera), np.c_[points, np.ones(len(points))])
    return h[:, :2] / h[:, 2:]


def _scale_in_first(points: np.ndarray, frames: np.ndarray, camera: CameraTrack | None) -> np.ndarray:
    """How many of the first frame's pixels a pixel of height at each of ``points`` (N, 2) of ``frames`` is
    there (the length its homography's Jacobian gives the frame's vertical: 1/z for a zoom z, and a box's
    height as the first frame shows it under a turn); 1 without a camera track, and where the homography
    sends the point to or past the first frame's horizon (its place is no number there either)."""
    if camera is None or not len(points) or not len(camera.frame_index):
        return np.ones(len(points))
    H = _homographies(frames, camera)
    x = np.c_[points, np.ones(len(points))]
    with np.errstate(all="ignore"):
        w = np.einsum("nj,nj->n", H[:, 2], x)
        mapped = np.einsum("nij,nj->ni", H[:, :2], x) / w[:, None]
        J = (H[:, :2, :2] - mapped[:, :, None] * H[:, 2, None, :2]) / w[:, None, None]
        length = np.linalg.norm(J[:, :, 1], axis=1)
    ahead = w * np.sign(H[:, 2, 2]) > 1e-9  # (a homography's sign is arbitrary: a point ahead has w of H[2, 2]'s)
    return np.where(ahead & np.isfinite(length) & (length > 0), length, 1.0)


def _walk(t: np.ndarray, centre: np.ndarray, since: float) -> np.ndarray:
    """px/s: the least-squares pace of box centres ``centre`` (N, 2) at times ``t`` from ``since`` on; none
    (0) where under three are."""
    keep = t >= since - 1e-6
    if keep.sum() < 3:
        return np.zeros(2)
    dt = t[keep] - t[keep].mean()
    return (dt[:, None] * (centre[keep] - centre[keep].mean(0))).sum(0) / max(float((dt * dt).sum()), 1e-12)


def _walked(t: np.ndarray, place: np.ndarray, over_s: float) -> tuple[np.ndarray, np.ndarray]:
    """A track's last walk: its :func:`_walk` over its last ``over_s`` and where that walk's line puts it at
    its last pose (the last pose itself where under three are; a last pose may be off the line)."""
    walk = _walk(t, place, t[-1] - over_s)
    recent = t >= t[-1] - over_s - 1e-6
    last = place[-1] if recent.sum() < 3 else place[recent].mean(0) + walk * (t[-1] - t[recent].mean())
    return walk, last


def _heads(s: _Seen) -> np.ndarray:
    """Where the tops of a track's boxes are (their centres raised by half their heights), as ``s.place``."""
    return s.place - np.c_[np.zeros(len(s.boxes)), _tall(s) / 2]


def _head_moved(s: _Seen, k: int) -> float:
    """How far (px) the top of a track's box moved from its first pose to its ``k``-th."""
    heads = _heads(s._replace(place=s.place[[0, k]], boxes=s.boxes[[0, k]], scale=s.scale[[0, k]]))
    return float(np.linalg.norm(heads[1] - heads[0]))
