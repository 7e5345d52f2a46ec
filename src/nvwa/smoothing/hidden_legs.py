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

Legs hidden behind another person are told apart differently, since the network draws them down over
that person's body and the pose need not shrink: someone stands in front (their usual lowest point is
lower in the picture: nearer, on a floor seen from above), the box of their torso and legs covers the
point where the person's feet usually are, and the person's legs lie inside it (or are not seen at all).
On vtest it takes ~100 of 4,559 person-frames and most of the frames drawn in the air: a woman whose legs
a man walks in front of (frames 763-765), two walkers crossing behind others (691-693, 727-728).

What it does not catch: a person's usual extent is the median of their own frames over 3 s, the hidden
ones included, so legs hidden for more than about 1.5 s on end (behind a parked car) become the usual.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from nvwa.body.keypoints import LEGS, TORSO, UPRIGHT_DEG, torso_turn_deg
from nvwa.grounding.floor import running_median_many
from nvwa.rig.segments import Segments

REFERENCE_S = 3.0  # s: the window of the person's own frames their usual extent is taken over
SHORTER = 0.6  # a pose under this share of the usual height ...
RISEN = 0.3  # ... whose lowest point rose by this share of it ...
TOP_KEPT = 0.15  # ... and whose top moved by less than this share: legs hidden ...
NEIGHBOUR_S = 0.55  # ... when its torso is upright in the picture (UPRIGHT_DEG) or turned over on that frame alone:
# both seen frames beside it, this near in time, upright
FRONT = 0.15  # someone whose usual lowest point is lower in the picture by this share of a person's usual height stands in front
BOX_GROW = 0.08  # the box of their body's keypoints (torso and legs: arms held out hide no feet) grown by this share of its height each side
LEGS_ON = 0.5  # the person's legs lie on the one in front when this share of their seen leg points is inside that box


def hidden_legs_many(keypoints_2d: list[np.ndarray], confidences: list[np.ndarray], ts: list[np.ndarray],
                     keypoint_set: str, min_confidence: float = 0.3) -> list[np.ndarray]:
    """Each person's keypoints (T, K, 2) px of ``keypoint_set``, their confidences (T, K) and times (T,)
    -> (T,) bool: the frames where the legs are hidden. A
    frame with fewer than 3 keypoints at ``min_confidence`` (a gap filled in) says nothing and is never one."""
    people = Segments.of(keypoints_2d)
    if not len(people) or people.lengths.sum() == 0:
        return [np.zeros(len(k), dtype=bool) for k in keypoints_2d]
    kp, conf, t = people.join(keypoints_2d, keypoints_2d[0].shape[1:]), people.join(confidences, confidences[0].shape[1:]), people.join(ts)
    seen, top, bottom, (u_top, u_bottom, u_height) = _extent(kp, conf, t, people, min_confidence)
    with np.errstate(invalid="ignore"):
        shorter = (seen & (bottom - top < SHORTER * u_height) & (u_bottom - bottom > RISEN * u_height)
                   & (np.abs(top - u_top) < TOP_KEPT * u_height))
    return people.split(shorter & _upright_or_flipped_alone(kp, seen, t, people, keypoint_set))


def _extent(kp: np.ndarray, conf: np.ndarray, t: np.ndarray, people: Segments, min_confidence: float):
    """Each row's seen flag (3 keypoints at ``min_confidence``), top and bottom (px), and the person's usual
    (top, bottom, height) there: the running median of their own frames over REFERENCE_S."""
    y, finite = kp[..., 1], np.isfinite(kp[..., 1])
    seen = ((conf >= min_confidence) & finite).sum(axis=1) >= 3
    top = np.where(seen, np.where(finite, y, np.inf).min(axis=1), np.nan)
    bottom = np.where(seen, np.where(finite, y, -np.inf).max(axis=1), np.nan)
    usual = running_median_many(np.column_stack([top, bottom, bottom - top]), t, people, REFERENCE_S)
    return seen, top, bottom, usual.T


def behind_someone_many(keypoints_2d: list[np.ndarray], confidences: list[np.ndarray], ts: list[np.ndarray],
                        frames: list[np.ndarray], keypoint_set: str, min_confidence: float = 0.3) -> list[np.ndarray]:
    """Each person's keypoints (T, K, 2) px, confidences (T, K), times (T,) and frame numbers (T,) -> (T,)
    bool: the frames where someone in front of them (FRONT) hides their legs: the box of that person's
    torso and legs (grown by BOX_GROW) covers the point where this person's feet usually are (below their
    hips, at their usual lowest point), and at least LEGS_ON of their seen leg points lie inside it (or none
    is seen)."""
    people = Segments.of(keypoints_2d)
    none = [np.zeros(len(k), dtype=bool) for k in keypoints_2d]
    if len(people) < 2 or keypoint_set not in LEGS:
        return none
    kp, conf, t = people.join(keypoints_2d, keypoints_2d[0].shape[1:]), people.join(confidences, confidences[0].shape[1:]), people.join(ts)
    seen, _, _, (_, u_bottom, u_height) = _extent(kp, conf, t, people, min_confidence)
    a, b = _pairs_on_a_frame(people.join(frames))
    if not len(a):
        return none
    ok = (conf >= min_confidence) & np.isfinite(kp).all(axis=-1)
    x, y = np.where(ok, kp[..., 0], np.nan), np.where(ok, kp[..., 1], np.nan)
    legs, body = list(LEGS[keypoint_set]), [*TORSO[keypoint_set][0], *TORSO[keypoint_set][1], *LEGS[keypoint_set]]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an unseen row's box is NaN, and it is never in front
        bx, by = x[:, body], y[:, body]
        x0, x1, y0, y1 = np.nanmin(bx, 1), np.nanmax(bx, 1), np.nanmin(by, 1), np.nanmax(by, 1)
        feet_x = np.nanmean(x[:, list(TORSO[keypoint_set][1])], axis=1)
        feet_x = np.where(np.isfinite(feet_x), feet_x, np.nanmedian(x, axis=1))
    grow = BOX_GROW * (y1 - y0)
    x0, x1, y0, y1 = x0 - grow, x1 + grow, y0 - grow, y1 + grow
    lx, ly, lok = x[a][:, legs], y[a][:, legs], ok[a][:, legs]
    with np.errstate(invalid="ignore"):
        in_front = seen[a] & seen[b] & (u_bottom[b] > u_bottom[a] + FRONT * u_height[a])
        covered = (feet_x[a] >= x0[b]) & (feet_x[a] <= x1[b]) & (u_bottom[a] >= y0[b]) & (u_bottom[a] <= y1[b])
        inside = lok & (lx >= x0[b, None]) & (lx <= x1[b, None]) & (ly >= y0[b, None]) & (ly <= y1[b, None])
    legs_on = inside.sum(axis=1) >= LEGS_ON * lok.sum(axis=1)  # none of them seen: the network saw no legs there either
    hidden = np.zeros(people.total, dtype=bool)
    hidden[a[in_front & covered & legs_on]] = True
    return people.split(hidden)


def _pairs_on_a_frame(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (N,) of people laid end to end, by frame number -> (a, b): every ordered pair of two rows on
    the same frame (a person has one row a frame, so two rows there are two people)."""
    order = np.argsort(frame, kind="stable")
    pairs = [np.stack(np.meshgrid(g, g, indexing="ij")).reshape(2, -1)
             for g in np.split(order, np.flatnonzero(np.diff(frame[order])) + 1) if len(g) > 1]
    if not pairs:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    a, b = np.concatenate(pairs, axis=1)
    return a[a != b], b[a != b]


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
    """PersonObservations with every keypoint at visibility 0 on the frames where the legs are hidden (by
    something, :func:`hidden_legs_many`, or by someone in front, :func:`behind_someone_many`), and
    the 3D keypoints there (hip-centred) carried over in time from the frames around (the rig's cues to
    how the head, hands and feet turn come from them: the folded pose's would turn the head round); the
    observations themselves are left as they are. A keypoint set without a known torso: as they are."""
    if keypoint_set not in TORSO or not people:
        return list(people)
    kp, vis, ts = [np.asarray(p.keypoints_2d) for p in people], [np.asarray(p.visibility) for p in people], [np.asarray(p.timestamp_s) for p in people]
    hidden = [alone | behind for alone, behind in zip(hidden_legs_many(kp, vis, ts, keypoint_set),
              behind_someone_many(kp, vis, ts, [np.asarray(p.frame_index) for p in people], keypoint_set))]
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
