"""Frames whose legs are hidden (a person walking behind a sign, a car, a bench).

The body model still gives a whole pose there, with confidence: the legs folded up into the part of the
body it can see (the knees over the pelvis) and often the torso turned as well (upside down on vtest's
frame 19), so the person was drawn floating a metre up for as long as it lasted. In the picture such a
frame is told by how the pose's 2D extent changes against the same person's frames around it: it is
much shorter, its lowest point has risen, and its top has stayed where it was. A crouch lowers the top
and keeps the feet; a jump (even tucked) raises the top with them. And its torso is upright in the
picture, or turned over on that frame alone (the body model's own flip of what it saw): a backflip
turns it over frame by frame (Sports2D's man off his box), a person lying stays on their side (taiji's
frames at 90 degrees). None of such a frame's pose is
fitted: the keypoint repair carries the body over from the frames around (as for a frame whose
keypoints are all unsure), so the pelvis and the limbs come from the same frames and keep one shape.

What it does not catch: a person's usual extent is the median of their own frames over 3 s, the hidden
ones included, so legs hidden for more than about 1.5 s on end (behind a parked car) become the usual;
and legs hidden behind another person, where the network draws them down over that person's body.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nvwa.body.keypoints import TORSO, UPRIGHT_DEG, torso_turn_deg
from nvwa.grounding.floor import running_median_many
from nvwa.rig.segments import Segments

REFERENCE_S = 3.0  # s: the window of the person's own frames their usual extent is taken over
SHORTER = 0.6  # a pose under this share of the usual height ...
RISEN = 0.3  # ... whose lowest point rose by this share of it ...
TOP_KEPT = 0.15  # ... and whose top moved by less than this share: legs hidden ...
NEIGHBOUR_S = 0.55  # ... when its torso is upright in the picture (UPRIGHT_DEG) or turned over on that frame alone:
# both seen frames beside it, this near in time, upright


def hidden_legs_many(keypoints_2d: list[np.ndarray], confidences: list[np.ndarray], ts: list[np.ndarray],
                     keypoint_set: str, min_confidence: float = 0.3) -> list[np.ndarray]:
    """Each person's keypoints (T, K, 2) px of ``keypoint_set``, their confidences (T, K) and times (T,)
    -> (T,) bool: the frames where the legs are hidden. A
    frame with fewer than 3 keypoints at ``min_confidence`` (a gap filled in) says nothing and is never one."""
    people = Segments.of(keypoints_2d)
    if not len(people) or people.lengths.sum() == 0:
        return [np.zeros(len(k), dtype=bool) for k in keypoints_2d]
    kp, conf, t = people.join(keypoints_2d, keypoints_2d[0].shape[1:]), people.join(confidences, confidences[0].shape[1:]), people.join(ts)
    y, finite = kp[..., 1], np.isfinite(kp[..., 1])
    seen = ((conf >= min_confidence) & finite).sum(axis=1) >= 3
    top = np.where(seen, np.where(finite, y, np.inf).min(axis=1), np.nan)
    bottom = np.where(seen, np.where(finite, y, -np.inf).max(axis=1), np.nan)
    usual = running_median_many(np.column_stack([top, bottom, bottom - top]), t, people, REFERENCE_S)
    u_top, u_bottom, u_height = usual.T
    with np.errstate(invalid="ignore"):
        shorter = (seen & (bottom - top < SHORTER * u_height) & (u_bottom - bottom > RISEN * u_height)
                   & (np.abs(top - u_top) < TOP_KEPT * u_height))
    return people.split(shorter & _upright_or_flipped_alone(kp, seen, t, people, keypoint_set))


def _upright_or_flipped_alone(kp: np.ndarray, seen: np.ndarray, t: np.ndarray, people: Segments, keypoint_set: str) -> np.ndarray:
    """(N,) bool: the torso upright on the frame, or turned away from upright there while the person's
    seen frames just before and just after it (within NEIGHBOUR_S) are upright."""
    with np.errstate(invalid="ignore"):
        upright = seen & (torso_turn_deg(kp, keypoint_set) <= UPRIGHT_DEG)
    rows = np.arange(len(kp))
    last_seen = np.maximum.accumulate(np.where(seen, rows, -1))  # the latest seen row at or before each row
    next_seen = np.minimum.accumulate(np.where(seen, rows, len(kp))[::-1])[::-1]
    before = np.r_[-1, last_seen[:-1]]  # the seen row before each row (not itself)
    after = np.r_[next_seen[1:], len(kp)]
    ok_b = (before >= people.starts[people.owner]) & (before >= 0)
    ok_a = (after < people.stops[people.owner]) & (after < len(kp))
    b, a = np.clip(before, 0, len(kp) - 1), np.clip(after, 0, len(kp) - 1)
    alone = (ok_b & ok_a & upright[b] & upright[a] & (t - t[b] <= NEIGHBOUR_S) & (t[a] - t <= NEIGHBOUR_S))
    return upright | (seen & alone)


def hidden_legs_unseen(people: list, keypoint_set: str) -> list:
    """PersonObservations with every keypoint at visibility 0 on the frames where the legs are hidden, and
    the 3D keypoints there (hip-centred) carried over in time from the frames around (the rig's cues to
    how the head, hands and feet turn come from them: the folded pose's would turn the head round); the
    observations themselves are left as they are. A keypoint set without a known torso: as they are."""
    if keypoint_set not in TORSO or not people:
        return list(people)
    hidden = hidden_legs_many([np.asarray(p.keypoints_2d) for p in people], [np.asarray(p.visibility) for p in people],
                              [np.asarray(p.timestamp_s) for p in people], keypoint_set)
    out = []
    for p, h in zip(people, hidden):
        if h.any():
            vis = np.array(p.visibility, copy=True)
            vis[h] = 0.0
            p = replace(p, visibility=vis, keypoints_3d=_carried_over(np.asarray(p.keypoints_3d), np.asarray(p.timestamp_s), h))
        out.append(p)
    return out


def _carried_over(x: np.ndarray, t: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """x (T, ...) with its ``hidden`` frames linear in time between the nearest other frames (held past
    either end); as it is where every frame is hidden."""
    if hidden.all():
        return x
    flat = np.array(x, dtype=np.float64).reshape(len(x), -1)
    for col in flat.T:
        col[hidden] = np.interp(t[hidden], t[~hidden], col[~hidden])
    return flat.reshape(x.shape).astype(x.dtype)
