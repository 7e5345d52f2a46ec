"""A track that stood in for someone while their own was lost, seen with hindsight in the reconstruction:
the tracker lost a person (behind someone crossing, in a crowd), a new track took them on, and the first
was found again, where the new one was going, as the new one ended or drifted off them. The new track is
that person's: its frames fill the first one's gap. Observations in, observations and the reasons out; no
model."""

from __future__ import annotations

import numpy as np

from nvwa.camera.background import CameraTrack
from nvwa.observations import PersonObservations
from nvwa.tracking.dressed import _dressed_otherwise
from nvwa.tracking.handover import CROSSED_WALK_S, OTHERS_PAD_S, RESUMED_GAP_S, _joined, _resumed, until_none_joined
from nvwa.tracking.seen import _seen, _Seen, _tall, _Timeline

STAND_IN_OVERLAP_S = 0.5  # the stand-in may run on this long after the first track is found again (drifting off them)
STAND_IN_SIZE = 1.2  # its size against the person's at its two ends: the two ratios within this of each other


def stand_ins(people: list[PersonObservations], among: set | None = None, min_visibility: float = 0.5,
             picture: tuple[int, int] | None = None,
             camera: CameraTrack | None = None) -> tuple[list[PersonObservations], dict[int, str]]:
    """Tracks joined where one stood in for another's person while it was lost: a track (the stand-in)
    begun after another lost its person, in the ``picture`` (width, height px), and ended at most
    STAND_IN_OVERLAP_S after that one found them again, with nothing of the first between; where the
    stand-in began is where the person's walk led, and where the first was found again is where the
    stand-in's walk led (both as :func:`nvwa.tracking.handover._resumed` looks: within its reach and time,
    their size, not heading the other way, away from the picture's border, not a second track on someone
    followed; a track begun in the same gap is a rival, not someone followed), its size against the
    person's the same at both ends (within STAND_IN_SIZE), and the two are not dressed otherwise. Only
    where the stand-in fits that one gap, the gap that one stand-in, and no other track that ended before
    the stand-in began was going where it began (each track seen on 3 frames claims, kept or not). vtest
    at 15.6-17.9 s: a woman in black, lost behind a man crossing in front of her, followed by a new track
    for 1.9 s, which drifted onto the man beside her as her own was found again; its CRF 23 copy at
    72.4-77.1 s: a man lost as another crossed him, followed for 3.8 s. The joined person keeps the first
    id: its frames to its last pose before the gap, the stand-in's from then up to where it was found
    again, its own from there. ``among``: the ids that may be either (those long enough to be kept);
    ``camera``: how the background moved (places compared where the first frame shows them). -> (people,
    the stand-ins' ids -> why)."""
    if picture is None:
        return people, {}
    return until_none_joined(_one_pass, people, among, min_visibility, picture, camera)


def _one_pass(people, among, min_visibility, picture, camera) -> tuple[list[PersonObservations], dict[int, str]]:
    """One pass of :func:`stand_ins`' joins, no chains. Every track seen on 3 frames or more claims (one too
    short to keep bars what it claims from others, as in :func:`nvwa.tracking.handover.handed_over`); only
    tracks in ``among`` are joined."""
    by_id = {p.person_id: p for p in people}
    seen = {p.person_id: _seen(p, min_visibility, camera) for p in people if p.vertices is None}
    ids = [i for i, s in seen.items() if len(s.frames) >= 3]
    timeline = _Timeline.of(seen)
    first, last = np.array([seen[i].times[0] for i in ids]), np.array([seen[i].times[-1] for i in ids])
    found: dict[int, list[tuple[int, int, int, str]]] = {}  # stand-in -> [(first track, its last frame before, found again, why)]
    for b in ids:
        sb = seen[b]
        for a in (ids[k] for k in np.flatnonzero((first < sb.times[0]) & (last > sb.times[0]))):  # seen before it and after
            sa = seen[a]
            i = int(np.searchsorted(sa.frames, sb.frames[0]))
            if a == b or i == 0 or i == len(sa.frames):
                continue
            back = sa.frames[i]  # found again here (after the stand-in's first pose)
            if sb.times[-1] > sa.times[i] + STAND_IN_OVERLAP_S + 1e-6:
                continue
            before, stand, after = _part(sa, slice(0, i)), _part(sb, sb.frames < back), _part(sa, slice(i, None))
            if len(stand.frames) < 3 or len(before.frames) < 3 or len(after.frames) < 3:
                continue
            others = timeline.around(before.times[-1] - OTHERS_PAD_S, after.times[0] + OTHERS_PAD_S, (a, b))
            # (a track begun in the same gap is a rival for it, not a person the stand-in is a second track on)
            went = _resumed(before, stand, _lately(before), picture,
                            [o for o in others if not before.frames[-1] < o.frames[0] < back], True)
            came = None if went is None else _resumed(stand, after, _lately(stand), picture, others, True)
            if came is None or not _sized_alike(before, stand, after) or _dressed_otherwise(by_id[a], by_id[b]):
                continue
            found.setdefault(b, []).append((a, int(before.frames[-1]), int(back), (
                f"person {b} is person {a} (their track lost them for {float(after.times[0] - before.times[-1]):.2f} s, "
                f"begun {went:.2f} s after where they were going; theirs found them again {came:.2f} s after it, "
                f"where it was going)")))
    gaps = [(a, back) for claims in found.values() for a, _, back, _ in claims]
    joins = {b: claims[0] for b, claims in found.items() if len(claims) == 1 and gaps.count((claims[0][0], claims[0][2])) == 1
             and not _claimed(b, seen, timeline, picture)}
    joins = {b: j for b, j in joins.items() if among is None or (b in among and j[0] in among)}  # (a short one's claims only barred others)
    joins = {b: j for b, j in joins.items() if b not in {j[0] for j in joins.values()}}  # no chains in a pass
    if not joins:
        return people, {}
    firsts = [j[0] for j in joins.values()]
    out = [p for p in people if p.person_id not in joins and p.person_id not in firsts]
    merged: dict[int, PersonObservations] = {}
    for b, (a, last, back, _) in sorted(joins.items()):  # (one track may have several gaps filled in a pass)
        merged[a] = _filled(merged.get(a, by_id[a]), by_id[b], max(int(by_id[b].frame_index[0]), last + 1), back)
    out += merged.values()
    return sorted(out, key=lambda p: p.person_id), {b: j[3] for b, j in joins.items()}


def _claimed(b: int, seen: dict, timeline: _Timeline, picture: tuple[int, int]) -> bool:
    """Was the stand-in ``b`` begun where another track, ended before it, was going (someone that track lost
    and ``b`` found again: :func:`nvwa.tracking.handover._resumed`, which joins them where both are long
    enough to keep)? Then whose it is, is not known."""
    sb = seen[b]
    for k, sc in seen.items():  # (lost up to RESUMED_GAP_S before it began: the only ones _resumed may take)
        if k != b and len(sc.frames) >= 3 and sb.times[0] - RESUMED_GAP_S - 1e-6 <= sc.times[-1] < sb.times[0]:
            others = timeline.around(sc.times[-1] - OTHERS_PAD_S, sb.times[0] + OTHERS_PAD_S, (b, k))
            if _resumed(sc, sb, _lately(sc), picture, others, True) is not None:
                return True
    return False


def _sized_alike(before: _Seen, stand: _Seen, after: _Seen) -> bool:
    """Does the stand-in keep the person's size from end to end: its first pose's height over the person's
    last before, against the person's first after over its last, within STAND_IN_SIZE either way? (Each end
    is within handover's RESUMED_SIZE on its own; a stranger a size apart passes both ends only by drawing the
    two ratios apart.)"""
    def h(s: _Seen, rows) -> float:
        return float(np.median(_tall(s)[rows]))
    start = h(stand, slice(0, 3)) / max(h(before, slice(-3, None)), 1e-9)
    end = h(after, slice(0, 3)) / max(h(stand, slice(-3, None)), 1e-9)
    return 1 / STAND_IN_SIZE <= start / max(end, 1e-9) <= STAND_IN_SIZE


def _lately(s: _Seen) -> float:
    """A track's height (px of the first frame: :func:`~nvwa.tracking.seen._tall`) over its last second (the whole of it where under three poses are)."""
    return _height(s, s.times >= s.times[-1] - CROSSED_WALK_S - 1e-6)


def _part(s: _Seen, rows) -> _Seen:
    return _Seen(*(np.asarray(field)[rows] for field in s))


def _height(s: _Seen, recent: np.ndarray) -> float:
    h = _tall(s)
    return float(np.median(h[recent] if recent.sum() >= 3 else h))


def _filled(first: PersonObservations, stand_in: PersonObservations, begun: int, back: int) -> PersonObservations:
    """``first``'s frames before ``begun`` and from ``back`` on, ``stand_in``'s between, as one person of
    ``first``'s id."""
    fa, fb = np.asarray(first.frame_index), np.asarray(stand_in.frame_index)
    return _joined(first, stand_in, (fa < begun) | (fa >= back), (fb >= begun) & (fb < back))


__all__ = ["stand_ins"]
