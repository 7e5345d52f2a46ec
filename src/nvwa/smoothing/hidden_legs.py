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
from dataclasses import dataclass, replace

import numpy as np

from nvwa.body.keypoints import LEGS, TORSO, UPRIGHT_DEG, torso_turn_deg
from nvwa.grounding.floor import running_median_many
from nvwa.rig.segments import Segments
from nvwa.runs import true_runs

REFERENCE_S = 3.0  # s: the window of the person's own frames their usual extent is taken over
SHORTER = 0.6  # a pose under this share of the usual height ...
RISEN = 0.3  # ... whose lowest point rose by this share of it ...
TOP_KEPT = 0.15  # ... and whose top moved by less than this share: legs hidden ...
NEIGHBOUR_S = 0.55  # ... when its torso is upright in the picture (UPRIGHT_DEG) or turned over on that frame alone:
# both seen frames beside it, this near in time, upright
FRONT = 0.15  # someone whose usual lowest point is lower in the picture by this share of a person's usual height stands in front
BOX_GROW = 0.08  # the box of their body's keypoints (torso and legs: arms held out hide no feet) grown by this share of its height each side
LEGS_ON = 0.5  # the person's legs lie on the one in front when this share of their seen leg points is inside that box
MIN_SEEN = 0.3  # a keypoint this sure is seen (for the boxes and the legs)
MAX_BEHIND_S = 1.5  # s: legs behind someone longer than this on end are left as they are (nothing near to carry over from)


@dataclass(frozen=True)
class _Rows:
    """People's frames laid end to end, with each frame's extent and the person's usual one there."""

    people: Segments
    kp: np.ndarray  # (N, K, 2) px
    conf: np.ndarray  # (N, K)
    t: np.ndarray  # (N,) s
    seen: np.ndarray  # (N,) bool: 3 keypoints at the minimum confidence
    top: np.ndarray  # (N,) px, NaN where unseen
    bottom: np.ndarray
    u_top: np.ndarray  # (N,) px: the running median of the person's own frames over REFERENCE_S
    u_bottom: np.ndarray
    u_height: np.ndarray

    @classmethod
    def of(cls, keypoints_2d: list, confidences: list, ts: list, min_confidence: float) -> "_Rows | None":
        people = Segments.of(keypoints_2d)
        if not len(people) or people.lengths.sum() == 0:
            return None
        kp = people.join(keypoints_2d, keypoints_2d[0].shape[1:])
        conf, t = people.join(confidences, confidences[0].shape[1:]), people.join(ts)
        y, finite = kp[..., 1], np.isfinite(kp[..., 1])
        seen = ((conf >= min_confidence) & finite).sum(axis=1) >= 3
        top = np.where(seen, np.where(finite, y, np.inf).min(axis=1), np.nan)
        bottom = np.where(seen, np.where(finite, y, -np.inf).max(axis=1), np.nan)
        usual = running_median_many(np.column_stack([top, bottom, bottom - top]), t, people, REFERENCE_S)
        return cls(people, kp, conf, t, seen, top, bottom, *usual.T)


def hidden_legs_many(keypoints_2d: list[np.ndarray], confidences: list[np.ndarray], ts: list[np.ndarray],
                     keypoint_set: str, min_confidence: float = 0.3) -> list[np.ndarray]:
    """Each person's keypoints (T, K, 2) px of ``keypoint_set``, their confidences (T, K) and times (T,)
    -> (T,) bool: the frames where the legs are hidden behind something (the pose's shape). A
    frame with fewer than 3 keypoints at ``min_confidence`` (a gap filled in) says nothing and is never one."""
    rows = _Rows.of(keypoints_2d, confidences, ts, min_confidence)
    return [np.zeros(len(k), dtype=bool) for k in keypoints_2d] if rows is None else rows.people.split(_shorter(rows, keypoint_set))


def behind_someone_many(keypoints_2d: list[np.ndarray], confidences: list[np.ndarray], ts: list[np.ndarray],
                        frames: list[np.ndarray], keypoint_set: str, min_confidence: float = 0.3) -> list[np.ndarray]:
    """The same people's frame numbers (T,) besides -> (T,) bool: the frames where someone in front of them
    hides their legs (:func:`_behind`)."""
    rows = _Rows.of(keypoints_2d, confidences, ts, min_confidence)
    if rows is None:
        return [np.zeros(len(k), dtype=bool) for k in keypoints_2d]
    return rows.people.split(_behind(rows, rows.people.join(frames), keypoint_set))


def _shorter(r: _Rows, keypoint_set: str) -> np.ndarray:
    """(N,) bool: the pose much shorter than usual, its lowest point risen, its top kept, its torso upright
    (or turned over on that frame alone)."""
    with np.errstate(invalid="ignore"):
        shorter = (r.seen & (r.bottom - r.top < SHORTER * r.u_height) & (r.u_bottom - r.bottom > RISEN * r.u_height)
                   & (np.abs(r.top - r.u_top) < TOP_KEPT * r.u_height))
    return shorter & _upright_or_flipped_alone(r.kp, r.seen, r.t, r.people, keypoint_set)


def _behind(r: _Rows, frame: np.ndarray, keypoint_set: str) -> np.ndarray:
    """(N,) bool: someone else on the same frame stands in front (their usual lowest point lower in the
    picture by FRONT of this person's usual height, and they are at least as tall in the picture: a person
    on a box nearer the camera has their feet higher, and looks taller), the box of their torso and legs
    (grown by BOX_GROW) covers where this person's feet usually are (below their hips, or the middle of
    their keypoints where the hips are unseen, at their usual lowest point), and at least LEGS_ON of this
    person's seen leg points lie inside it (or none is seen). Stretches longer than MAX_BEHIND_S are left
    as they are (a back row: nothing near in time to carry them over from)."""
    hidden = np.zeros(len(frame), dtype=bool)
    if len(r.people) < 2 or keypoint_set not in LEGS:
        return hidden
    a, b = _pairs_on_a_frame(frame)
    a, b = a[r.people.owner[a] != r.people.owner[b]], b[r.people.owner[a] != r.people.owner[b]]
    with np.errstate(invalid="ignore"):
        front = r.seen[a] & r.seen[b] & (r.u_bottom[b] > r.u_bottom[a] + FRONT * r.u_height[a]) & (r.u_height[b] >= r.u_height[a])
    a, b = a[front], b[front]
    ok = (r.conf >= MIN_SEEN) & np.isfinite(r.kp).all(axis=-1)
    x, y = np.where(ok, r.kp[..., 0], np.nan), np.where(ok, r.kp[..., 1], np.nan)
    shoulders, hips = TORSO[keypoint_set]
    legs, body = list(LEGS[keypoint_set]), [*shoulders, *hips, *LEGS[keypoint_set]]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a row without the points: NaN, and never covered or covering
        x0, x1, y0, y1 = (f(v[b][:, body], axis=1) for f, v in ((np.nanmin, x), (np.nanmax, x), (np.nanmin, y), (np.nanmax, y)))
        feet_x = np.nanmean(x[a][:, list(hips)], axis=1)
        feet_x = np.where(np.isfinite(feet_x), feet_x, np.nanmedian(x[a], axis=1))
        grow = BOX_GROW * (y1 - y0)
        x0, x1, y0, y1 = x0 - grow, x1 + grow, y0 - grow, y1 + grow
        feet_y = r.u_bottom[a]
        covered = (feet_x >= x0) & (feet_x <= x1) & (feet_y >= y0) & (feet_y <= y1)
        lx, ly, lok = x[a][:, legs], y[a][:, legs], ok[a][:, legs]
        inside = lok & (lx >= x0[:, None]) & (lx <= x1[:, None]) & (ly >= y0[:, None]) & (ly <= y1[:, None])
    legs_on = inside.sum(axis=1) >= LEGS_ON * lok.sum(axis=1)  # none of them seen: the network saw no legs there either
    hidden[a[covered & legs_on]] = True
    for start, stop in true_runs(hidden):  # a run may span two people laid end to end: cut it at their boundary
        for s, e in _by_owner(r.people.owner, start, stop):
            if r.t[e - 1] - r.t[s] > MAX_BEHIND_S:
                hidden[s:e] = False
    return hidden


def _by_owner(owner: np.ndarray, start: int, stop: int) -> list[tuple[int, int]]:
    """Rows start:stop split where the person they belong to changes."""
    cuts = [start, *(start + 1 + np.flatnonzero(np.diff(owner[start:stop]))).tolist(), stop]
    return list(zip(cuts[:-1], cuts[1:]))


def _pairs_on_a_frame(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (N,) of people laid end to end, by frame number -> (a, b): every ordered pair of two rows on
    the same frame."""
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
    rows = _Rows.of([np.asarray(p.keypoints_2d) for p in people], [np.asarray(p.visibility) for p in people],
                    [np.asarray(p.timestamp_s) for p in people], MIN_SEEN)
    if rows is None:
        return list(people)
    frame = rows.people.join([np.asarray(p.frame_index) for p in people])
    hidden = rows.people.split(_shorter(rows, keypoint_set) | _behind(rows, frame, keypoint_set))
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
