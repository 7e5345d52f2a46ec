"""Box arithmetic on (N, 4) xyxy pixel arrays, and a constant-velocity Kalman filter for one box."""

from __future__ import annotations

import numpy as np


def _intersections(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 4), (M, 4) xyxy -> (N, M) intersection areas, (N,) and (M,) areas."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    # x and y side by side: the tracker calls this a few dozen times a frame on a handful of boxes, where
    # numpy's cost is per call, not per number
    sides = np.maximum(np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2]), 0.0)
    size_a, size_b = a[:, 2:] - a[:, :2], b[:, 2:] - b[:, :2]
    return sides[..., 0] * sides[..., 1], size_a[:, 0] * size_a[:, 1], size_b[:, 0] * size_b[:, 1]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4), (M, 4) xyxy -> (N, M) intersection over union."""
    inter, area_a, area_b = _intersections(a, b)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4), (M, 4) xyxy -> (N, M) intersection over the smaller box's area: 1 for a box inside the other
    (a fragment of a person's pose inside a detector's box round all of them)."""
    inter, area_a, area_b = _intersections(a, b)
    smaller = np.minimum(area_a[:, None], area_b[None, :])
    return np.where(smaller > 0, inter / np.maximum(smaller, 1e-9), 0.0)


def share_inside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4), (M, 4) xyxy -> (N, M) the share of each box of ``a`` that lies in each box of ``b``."""
    inter, area_a, _ = _intersections(a, b)
    return np.where(area_a[:, None] > 0, inter / np.maximum(area_a[:, None], 1e-9), 0.0)


def near_edge(box: np.ndarray, width: float, height: float, margin: float) -> bool:
    """Is ``box`` (xyxy px) within ``margin`` px of an edge of a ``width`` x ``height`` picture?"""
    return bool(box[0] <= margin or box[1] <= margin or box[2] >= width - margin or box[3] >= height - margin)


def box_height(box: np.ndarray) -> float:
    return float(box[3] - box[1])


def widened(boxes: np.ndarray, share: float) -> np.ndarray:
    """``boxes`` ((4,) or (N, 4) xyxy) widened about their centres to at least ``share`` of their height:
    what the tracker compares when it asks whether two boxes hold one person. A walker seen side-on has
    landmarks 3-5 px wide at 30 px tall; the overlap of so thin a box with a detector's box, or with another
    pose's, is noise: two tracks on one far person were both kept, and a far person found again was not
    taken for the track already on them. (A track's own gate and motion model keep the landmarks' box:
    widened there, Sports2D's jumper kept a pose spread across the frame mid-air and lost his id.)"""
    b = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    cx, half = (b[:, 0] + b[:, 2]) / 2, np.maximum(b[:, 2] - b[:, 0], share * (b[:, 3] - b[:, 1])) / 2
    b[:, 0], b[:, 2] = cx - half, cx + half
    return b if np.ndim(boxes) == 2 else b[0]


def box_to_cxcywh(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1]])


def cxcywh_to_box(z: np.ndarray) -> np.ndarray:
    return np.array([z[0] - z[2] / 2, z[1] - z[3] / 2, z[0] + z[2] / 2, z[1] + z[3] / 2])


_EYE4, _EYE8 = np.eye(4), np.eye(8)
_MEASURED = np.hstack([_EYE4, np.zeros((4, 4))])  # the state's part a box measures: cx, cy, w, h
_VELOCITY = (np.arange(4), np.arange(4, 8))  # the transition's entries that add each velocity to its position
for _constant in (_EYE4, _EYE8, _MEASURED):
    _constant.flags.writeable = False


class BoxKalman:
    """Constant-velocity Kalman filter on (cx, cy, w, h), with time steps in seconds.

    Process noise scales with the box height so a far person (small box) and a near one move by the
    same fraction of their size per second.
    """

    def __init__(self, box: np.ndarray, t: float):
        z = box_to_cxcywh(box)
        self.x = np.concatenate([z, np.zeros(4)])  # state: cx, cy, w, h and their velocities (px/s)
        h = max(z[3], 1.0)
        self.P = np.diag([0.1 * h, 0.1 * h, 0.1 * h, 0.1 * h, 2 * h, 2 * h, h, h]) ** 2
        self.t = t

    def predict(self, t: float) -> np.ndarray:
        """Advance to time ``t`` (s) and return the predicted xyxy box."""
        dt = max(t - self.t, 0.0)
        if dt > 0:
            F = np.eye(8)
            F[_VELOCITY] = dt  # position += velocity * dt
            h = max(self.x[3], 1.0)
            q = np.array([0.05 * h] * 4 + [1.0 * h, 1.0 * h, 0.3 * h, 0.3 * h]) ** 2 * dt
            self.x = F @ self.x
            self.P = F @ self.P @ F.T + np.diag(q)
            # A box's size does not keep changing at a constant rate for long (a crouch ends): decay the
            # size velocity, and keep the box a person's shape, so a few missed frames cannot fold it flat.
            self.x[6:8] *= np.exp(-dt / 0.3)
            self.x[2:4] = np.maximum(self.x[2:4], 2.0)
            w, h = self.x[2], self.x[3]
            self.x[2] = np.minimum(np.maximum(w, 0.2 * h), 3.0 * h)  # np.clip's arithmetic, without its wrapper
            self.x[3] = np.minimum(np.maximum(h, w / 3.0), 5.0 * w)
            self.t = t
        return cxcywh_to_box(self.x[:4])

    def update(self, box: np.ndarray, noise_frac: float = 0.05) -> None:
        """Fold in a measured xyxy box; ``noise_frac`` is its std as a fraction of the box height."""
        z = box_to_cxcywh(box)
        r = (noise_frac * max(z[3], 1.0)) ** 2
        H = _MEASURED
        S = H @ self.P @ H.T + _EYE4 * r
        K = self.P @ H.T @ np.linalg.inv(S)
        self.x = self.x + K @ (z - H @ self.x)
        self.P = (_EYE8 - K @ H) @ self.P

    @property
    def box(self) -> np.ndarray:
        return cxcywh_to_box(self.x[:4])


def at_least_as_big(box: np.ndarray, reference: np.ndarray | None, share: float) -> np.ndarray:
    """``box`` grown about its centre to at least ``share`` of ``reference``'s width and height: a track's
    crop never shrinks to nothing because a few frames' poses came out small."""
    if reference is None:
        return box
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    w = max(box[2] - box[0], share * (reference[2] - reference[0]))
    h = max(box[3] - box[1], share * (reference[3] - reference[1]))
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def centre_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2))
