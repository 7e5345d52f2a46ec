"""Tracks whose clothes changed, seen with hindsight in the reconstruction: a track lost its person behind
something and went on with someone lost beside it a moment before. The tracker cannot see it as it happens
(at a few grey levels the two look alike); afterwards the colour samples tell: the track's clothes before
and after are not one person's, and the person it went on with is dressed like the one lost there. The
frames after go to that person's track. Observations in, observations and the reasons out; no model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nvwa.camera.background import CameraTrack
from nvwa.observations import PersonObservations
from nvwa.tracking.handover import RESUMED_CLOTHES, _clothes_apart, _joined, frames_of, lab_of
from nvwa.tracking.swaps import _feet_seen

CHANGED_APART = RESUMED_CLOTHES  # upper or lower clothing this far apart (CIELAB) before and after: not one person ...
CHANGED_SAMPLES = 2  # ... over at least this many samples each side (a sample a few frames apart, where seen clearly)
CHANGED_SURE = 0.75  # ... this share of them nearer their own side's colour than the other's (a passer-by in a sample)
CHANGED_LIKE = CHANGED_APART / 2  # the track lost there dressed within this of it after (every part known to both) ...
CHANGED_NEAR = 1.0  # the track lost there: its last sure pose within this many of the person's heights of the track's ...
CHANGED_AT_S = 0.3  # ... pose (the nearest in time, at most this far from it), between the last sample before and the first after


def clothes_changed(people: list[PersonObservations], among: set | None = None, min_visibility: float = 0.5,
                    camera: CameraTrack | None = None) -> tuple[list[PersonObservations], dict[int, str]]:
    """Tracks put back on their own people where one went on with someone lost beside it: the track's upper or
    lower clothing (its colour samples, CIELAB) before a sample and after it are CHANGED_APART or more apart,
    over CHANGED_SAMPLES or more samples each side, CHANGED_SURE of each side nearer its own median; and
    between those two samples another track's last sure pose lay within CHANGED_NEAR of this one's person's
    heights of this track's pose then (CHANGED_AT_S), that track dressed like this one after (within
    CHANGED_LIKE on every part known to both: someone dressed a little otherwise could be the track's own
    person in a shadow, with a stranger dressed as the shadow shows them lost beside them) and otherwise
    than before (its samples' medians). The track keeps its frames up to its longest
    stretch without a pose between that track's end and the first sample after (else up to that end); the
    rest goes to that track. One for one; not for mesh backends' tracks (their identity locked per track).
    vtest 2-5 s: a man in black walking right to the sign passed a man in jeans (whose track lost him,
    his legs behind the first); the black one's track went on with the man in jeans while he stood
    behind the sign. ``among``: the ids that may have gone on so (those long enough to be kept).
    ``camera``: how the background moved (a handheld video). -> (people, the changed track's id -> why)."""
    seen = {p.person_id: _feet_seen(p, min_visibility, camera) for p in people}
    unlocked = [p for p in people if p.vertices is None and len(seen[p.person_id].frames) >= 3]
    found = []
    for p in unlocked:
        if among is not None and p.person_id not in among:
            continue
        change = _change(p)
        if change is None:
            continue
        lo, hi, before, after = change
        sp = seen[p.person_id]
        usual = float(np.median(sp.boxes[:, 3] - sp.boxes[:, 1]))
        lost = []
        for q in unlocked:
            sq = seen[q.person_id]
            end = int(sq.frames[-1])
            if q is p or not lo <= end < hi or int(np.asarray(q.frame_index)[-1]) >= hi:
                continue
            k = int(np.argmin(np.abs(sp.times - sq.times[-1])))
            if abs(sp.times[k] - sq.times[-1]) > CHANGED_AT_S + 1e-6 or \
                    np.linalg.norm(sp.place[k] - sq.place[-1]) > CHANGED_NEAR * usual:
                continue
            theirs = _medians(q)
            if theirs is None or _apart_by(theirs, after) >= CHANGED_LIKE or not _clothes_apart(theirs, before):
                continue
            lost.append((q.person_id, end))
        if len(lost) == 1:
            found.append((p.person_id, *lost[0], lo, hi, _apart_by(before, after)))
    takers, lost_ids = [f[0] for f in found], [f[1] for f in found]
    found = [f for f in found if lost_ids.count(f[1]) == 1 and f[0] not in lost_ids and f[1] not in takers]
    if not found:
        return people, {}
    by_id = {p.person_id: p for p in people}
    why = {}
    for a, b, end, lo, hi, apart in found:
        taker, lost = by_id[a], by_id[b]
        cut = _cut(np.asarray(taker.frame_index), max(lo, end), hi)
        mine = np.asarray(taker.frame_index) <= cut
        # the lost track's own frames up to the taker's first after the cut (an unsure pose it kept later is dropped:
        # one person, one pose a frame, in order)
        after_cut = np.asarray(taker.frame_index)[~mine]
        by_id[b] = _joined(lost, taker, np.asarray(lost.frame_index) < (after_cut[0] if len(after_cut) else np.inf), ~mine)
        by_id[a] = replace(taker, **frames_of(taker, mine))
        why[a] = (f"person {a}'s track changed clothes after frame {cut} ({apart:.0f} apart): it went on with person {b}, "
                  f"lost beside them at frame {end}; those frames are person {b}'s")
    return [by_id[p.person_id] for p in people], why


def _change(p: PersonObservations):
    """Where a track's clothes changed: (the last sample's frame before, the first after, the upper and lower
    medians before (2, 3), after), at the sample that splits them into the two tightest groups (the least
    sum of squares about each group's mean), or None."""
    if p.colour_samples is None or len(p.colour_samples) < 2 * CHANGED_SAMPLES:
        return None
    lab = lab_of(np.asarray(p.colour_samples)[:, :2])  # (S, 2, 3): upper, lower
    best = None
    for s in range(CHANGED_SAMPLES, len(lab) - CHANGED_SAMPLES + 1):
        before, after = _median(lab[:s]), _median(lab[s:])
        if _apart_by(before, after) < CHANGED_APART:
            continue
        part = int(np.nanargmax(np.linalg.norm(before - after, axis=1)))
        if not (_sure(lab[:s, part], before[part], after[part]) and _sure(lab[s:, part], after[part], before[part])):
            continue
        spread = _spread(lab[:s]) + _spread(lab[s:])
        if best is None or spread < best[0]:
            best = (spread, s, before, after)
    if best is None:
        return None
    _, s, before, after = best
    frames = np.asarray(p.colour_frames)
    return int(frames[s - 1]), int(frames[s]), before, after


def _median(lab: np.ndarray) -> np.ndarray:
    """(S, 2, 3) -> (2, 3): each part's median over the samples that saw it (NaN where under CHANGED_SAMPLES did)."""
    out = np.full(lab.shape[1:], np.nan)
    for i, rows in enumerate(_seen_rows(lab)):
        if len(rows) >= CHANGED_SAMPLES:
            out[i] = np.median(rows, axis=0)
    return out


def _spread(lab: np.ndarray) -> float:
    """(S, 2, 3) -> the sum of squares of each part's seen samples about their mean."""
    return sum(float(((rows - rows.mean(0)) ** 2).sum()) for rows in _seen_rows(lab) if len(rows))


def _seen_rows(lab: np.ndarray) -> list[np.ndarray]:
    """(S, 2, 3) -> each part's samples that saw it (N, 3)."""
    return [lab[:, i][np.isfinite(lab[:, i]).all(axis=1)] for i in range(lab.shape[1])]


def _sure(rows: np.ndarray, own: np.ndarray, other: np.ndarray) -> bool:
    """Are CHANGED_SURE of the samples ``rows`` (N, 3) that saw the part nearer ``own`` than ``other``?"""
    rows = rows[np.isfinite(rows).all(axis=1)]
    return len(rows) >= CHANGED_SAMPLES and float(np.mean(np.linalg.norm(rows - own, axis=1) < np.linalg.norm(rows - other, axis=1))) >= CHANGED_SURE


def _apart_by(a: np.ndarray, b: np.ndarray) -> float:
    """The larger of the upper and lower clothing's distances (CIELAB) where both are known, else 0."""
    d = np.linalg.norm(a - b, axis=1)
    return float(np.nanmax(d)) if np.isfinite(d).any() else 0.0


def _medians(p: PersonObservations) -> np.ndarray | None:
    """A track's upper and lower clothing (2, 3) CIELAB: its samples' medians (CHANGED_SAMPLES or more), else None
    (its colours are no evidence: a part never seen there is a placeholder grey)."""
    if p.colour_samples is None or len(p.colour_samples) < CHANGED_SAMPLES:
        return None
    return _median(lab_of(np.asarray(p.colour_samples)[:, :2]))


def _cut(frames: np.ndarray, after: int, before: int) -> int:
    """The last frame a track keeps: the one before its longest stretch without a pose between frames ``after``
    and ``before``, else ``after`` (the lost track's end: the moment it could take them)."""
    inside = np.flatnonzero((frames >= after) & (frames < before))
    if len(inside) < 2:
        return after
    steps = np.diff(frames[inside])
    k = int(np.argmax(steps))
    return int(frames[inside][k]) if steps[k] > 1 else after


__all__ = ["clothes_changed"]
