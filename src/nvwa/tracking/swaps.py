"""Tracks that swapped people where two crossed, seen with hindsight in the reconstruction: a track went on
with someone its person crossed (often behind something that hid them both), while a new track took its
person on further along their walk. The tracker cannot see this as it happens (the two are a few grey
levels apart where they cross); afterwards the walks tell: the person walked on where they were going,
the track did not. Observations in, observations and the reasons out; no model. Tracks of one person the
tracker split are joined after this, in :mod:`nvwa.tracking.handover`."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nvwa.camera.background import CameraTrack
from nvwa.observations import PersonObservations
from nvwa.tracking.dressed import _clothes, _clothes_apart
from nvwa.tracking.handover import _joined, frames_of
from nvwa.tracking.seen import _in_first, _scale_in_first, _seen, _tall, _walk, _walked

SWAP_BACK_S = 1.5  # a new track's first sure pose at most this long after the older track's last on its person ...
SWAP_WALK_S = 1.0  # ... whose walk (the least-squares pace of their feet over this long before, and over its ...
SWAP_MOVING = 0.5  # ... first half alike) was at least this many of their heights a second (walking, not standing) ...
SWAP_REACH = (0.25, 0.5)  # ... and led within a + b * that time (s) of their heights of the new one's first pose ...
SWAP_PACE = 0.5  # ... the new one walking on as they had (within this many of their heights a second) over ...
SWAP_NEW_S = 0.5  # ... its first this long, drawn within SWAP_SIZE of their height at its tallest then ...
SWAP_SIZE = 1.35
SWAP_APART = 0.25  # ... while the older track's poses then lay this far (their heights) from the walk's line and from the new one's


def swapped(people: list[PersonObservations], among: set | None = None, min_visibility: float = 0.5,
            camera: CameraTrack | None = None) -> tuple[list[PersonObservations], dict[int, str]]:
    """Tracks put back on their own people where one went on with someone its person crossed: an older
    track's person walked steadily (at least SWAP_MOVING of their heights a second over SWAP_WALK_S, and
    at the same pace, within SWAP_PACE, over its first half) to a pose of theirs; up to SWAP_BACK_S later a
    new track began where that walk led (SWAP_REACH) and walked on as they had (SWAP_PACE over its first
    SWAP_NEW_S, drawn within SWAP_SIZE of their height at its tallest then: someone coming out from behind
    something grows from their feet up), while the older track's poses over those SWAP_NEW_S lay
    SWAP_APART or more from where the walk led and from the new one's poses; and the older track went on
    as someone crossed: a third track lost its person up to SWAP_BACK_S before the older one's next pose,
    where its walk led (SWAP_REACH), and the older one walked on at that walk's pace over SWAP_WALK_S
    (:func:`_led_to`; without it a walker who stops, slows or turns while a stranger walks on would be
    swapped). Where the older track is dressed otherwise than the new one (its colours are its longer
    piece's person's), the third track must not be dressed otherwise than it. Where several poses of the
    older one would do, the one before its longest stretch without a sure pose (where the two crossed
    behind something, or each other), else the latest. The older track's id keeps its frames up to that
    pose, then the new one's; the new one's id takes the older one's frames after it (the person crossed,
    whom :mod:`nvwa.tracking.handover` may join with their own earlier track). Only where the older track is
    the one such for the new one and the new one the one such for it, and neither is in another swap; not
    for a mesh backend's tracks (their identity locked per track). vtest 16.1-17.3 s: a man in a striped
    jumper walking left crossed a man in jeans behind the sign (whose track lost him there); the jumper's
    track went on with the man in jeans, walking right, and he was found again 1.2 s later, walking on.
    Left as it is, as the likelier: someone who turns back behind something just as a stranger walking
    their way goes behind it too and another steps out walking on (where their clothes do not tell them
    apart). ``among``: the ids that may lose their person so (those long enough to be kept); a new track
    may be shorter, if seen over SWAP_NEW_S. ``camera``: how the background moved (a handheld video): walks
    compared where the first frame shows them. -> (people, older id -> why)."""
    seen = {p.person_id: _feet_seen(p, min_visibility, camera) for p in people}
    unlocked = [p for p in people if p.vertices is None and len(seen[p.person_id].frames) >= 3]
    clothes = {p.person_id: _clothes(p) for p in unlocked}
    found = []
    for old in unlocked:
        so = seen[old.person_id]
        if among is not None and old.person_id not in among:
            continue
        dressed = {p.person_id: _clothes_apart(clothes[old.person_id], clothes[p.person_id]) for p in unlocked}
        for young in unlocked:
            sy = seen[young.person_id]
            if young is old or not so.times[0] < sy.times[0] < so.times[-1] or not (
                    among is None or young.person_id in among or sy.times[-1] - sy.times[0] >= SWAP_NEW_S - 1e-6):
                continue
            # the older track's colours (its medians) are its longer piece's person's: the new one's or the crossed one's
            crossed = [seen[p.person_id] for p in unlocked if p is not old and p is not young
                       and not (dressed[young.person_id] and dressed[p.person_id])]
            at = _swap_at(so, sy, int(young.frame_index[0]), crossed)
            if at is not None:
                found.append((old.person_id, young.person_id, *at))
    olds, youngs = [f[0] for f in found], [f[1] for f in found]
    found = [f for f in found if olds.count(f[0]) == 1 and youngs.count(f[1]) == 1 and f[0] not in youngs and f[1] not in olds]
    if not found:
        return people, {}
    by_id = {p.person_id: p for p in people}
    why = {}
    for o, y, frame, gap in found:
        old, young = by_id[o], by_id[y]
        mine = np.asarray(old.frame_index) <= frame
        before, after = int(mine.sum()), int((~mine).sum())
        by_id[o] = _joined(old, young, mine)  # with its samples' medians
        by_id[y] = replace(young, **frames_of(old, ~mine), shape_params=None)
        if old.colour_frames is None and young.colour_frames is None:
            # no samples (older observations): a track's colours are its medians, its longer piece's person's
            by_id[o] = replace(by_id[o], colours=young.colours if young.colours is not None
                               else old.colours if before >= after else None)
            by_id[y] = replace(by_id[y], colours=old.colours if after > before else None)
        why[o] = (f"person {o}'s track went on with someone they crossed after frame {frame}; person {y}'s, begun "
                  f"{gap:.2f} s later where they were going, was theirs: swapped back (person {y} is now who the "
                  f"rest of it followed)")
    return [by_id[p.person_id] for p in people], why


def _feet_seen(p: PersonObservations, min_visibility: float, camera: CameraTrack | None):
    """:func:`~nvwa.tracking.handover._seen` with each pose placed at its feet (the middle of its keypoints'
    box's bottom edge): someone coming out from behind something grows upward from them."""
    s = _seen(p, min_visibility, None)
    feet = np.c_[(s.boxes[:, 0] + s.boxes[:, 2]) / 2, s.boxes[:, 3]]
    return s._replace(place=_in_first(feet, s.frames, camera), scale=_scale_in_first(feet, s.frames, camera))


def _swap_at(so, sy, young_first: int, crossed: list) -> tuple[int, float] | None:
    """Where the older track ``so`` lost its person to someone it crossed and the new one ``sy`` took them
    on (:func:`swapped`'s rule): (the older one's last frame on its person, the time to the new one's first
    sure pose), or None. ``young_first``: the new track's first frame (sure pose or not); ``crossed``: the
    tracks that may be the crossed person's (:func:`_led_to`)."""
    t0 = sy.times[0]
    if not so.times[0] < t0 < so.times[-1]:
        return None
    usual = float(np.median(_tall(so)))
    early = sy.times <= t0 + SWAP_NEW_S + 1e-6
    if early.sum() < 3:
        return None
    if not 1 / SWAP_SIZE <= np.max(_tall(sy)[early]) / max(usual, 1e-9) <= SWAP_SIZE:
        return None
    pace = _walk(sy.times[early], sy.place[early], t0)
    late = (so.times >= t0 - 1e-6) & (so.times <= t0 + SWAP_NEW_S + 1e-6)  # the older track's, beside the new one's first
    if not late.any():
        return None
    both, i, j = np.intersect1d(so.frames[late], sy.frames, return_indices=True)
    if len(both) and np.any(np.linalg.norm(so.place[late][i] - sy.place[j], axis=1) < SWAP_APART * usual):
        return None  # beside the new one: on its person too
    best = None
    for k in np.flatnonzero((so.times < t0) & (so.times >= t0 - SWAP_BACK_S - 1e-6) & (so.frames < young_first))[::-1]:
        walk = _walk(so.times[:k + 1], so.place[:k + 1], so.times[k] - SWAP_WALK_S)
        gap = float(t0 - so.times[k])
        if np.linalg.norm(walk) < SWAP_MOVING * usual or np.linalg.norm(pace - walk) > SWAP_PACE * usual:
            continue
        first = so.times[:k + 1] <= so.times[k] - SWAP_WALK_S / 2 + 1e-6  # the walk's first half, on its own
        if np.linalg.norm(_walk(so.times[:k + 1][first], so.place[:k + 1][first], so.times[k] - SWAP_WALK_S) - walk) > SWAP_PACE * usual:
            continue  # not one walk: the track jumped (onto someone else) in its second half
        if np.linalg.norm(sy.place[0] - so.place[k] - walk * gap) > (SWAP_REACH[0] + SWAP_REACH[1] * gap) * usual:
            continue
        off = so.place[late] - so.place[k] - walk * (so.times[late] - so.times[k])[:, None]
        if np.any(np.linalg.norm(off, axis=1) < SWAP_APART * usual):
            continue
        went_on = (so.times > so.times[k] + 1e-6) & (so.times <= so.times[k + 1] + SWAP_WALK_S + 1e-6)
        if not any(_led_to(other, so.times[went_on], so.place[went_on], usual) for other in crossed):
            continue  # nobody lost where, and walking as, the older track went on: its person stopped or turned
        hole = float(so.times[k + 1] - so.times[k])  # how long the older track went without a sure pose after k
        if best is None or hole > best[0] + 1e-6:
            best = (hole, int(so.frames[k]), gap)
    return None if best is None else best[1:]


def _led_to(other, times: np.ndarray, places: np.ndarray, usual: float) -> bool:
    """Is ``other`` the track of someone the older one went on with, its poses after the crossing at
    ``times`` and ``places`` (``usual``: the height those are in)? Yes where its last sure pose up to the
    first of them is up to SWAP_BACK_S before it (it lost them there; it may find them again later), its
    walk (over that pose's last SWAP_WALK_S, from where the walk's line puts them then) led within
    SWAP_REACH of the first of them, and the older track walked on at that walk's pace (SWAP_PACE)."""
    n = int(np.searchsorted(other.times, times[0] + 1e-6))
    if n < 3 or len(times) < 3 or times[0] - other.times[n - 1] > SWAP_BACK_S + 1e-6:
        return False
    walk, last = _walked(other.times[:n], other.place[:n], SWAP_WALK_S)
    gap = times[0] - other.times[n - 1]
    if np.linalg.norm(places[0] - last - walk * gap) > (SWAP_REACH[0] + SWAP_REACH[1] * gap) * usual:
        return False
    return bool(np.linalg.norm(_walk(times, places, times[0]) - walk) <= SWAP_PACE * usual)


__all__ = ["swapped"]
