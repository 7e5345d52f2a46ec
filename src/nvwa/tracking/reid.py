"""Who a newly found person may be: the tracks lost within reach of where they were found.

Used when a person is found (their first look against each lost track's colours), and again at each
colour sample while their track is young (``TrackerConfig.late_reid_s``): a person first seen half hidden
(legs under a sign, a head behind someone) shows their colours only once they step out. Two looks in a
row most like the same track lost there before they were found (each look: the frame's colours, or the
track's so far, whichever is nearer) make them that person, not a newcomer (one look is not enough: on
vtest's H.264 copy a woman in red's third look alone was 0.55 like a man lost behind the sign).
"""

from __future__ import annotations

import numpy as np

from nvwa.tracking.appearance import appearance_similarity


def _centre(box: np.ndarray) -> np.ndarray:
    return (np.asarray(box[:2]) + np.asarray(box[2:])) / 2


def within_reach(tracks, box: np.ndarray, t: float, descriptors: list, config, *, lost_before_s: float | None = None,
                 size: float | None = None) -> list:
    """(track, similarity, gap s) for each track that may be the person found at ``box`` (xyxy px) at
    time ``t`` (s): a track that is lost, or active with no pose this frame, with colours, whose last box
    (or its box before its latest misses, ``before_misses``) is within the distance a person walks since
    (``reid_speed_heights_per_s`` body heights a second, plus one), and, lost over ``reid_size_after_s``
    before, whose usual height is within ``reid_max_size_ratio`` of the person's (``size`` px, default the
    box's height). ``descriptors``: the person's appearance descriptors (None entries skipped); the
    similarity is the best of them. ``lost_before_s``: only tracks lost before then (a young track's start:
    someone seen while it was is someone else)."""
    descriptors = [d for d in descriptors if d is not None]
    height = max(float(box[3] - box[1]), 1.0)
    size = height if size is None else max(float(size), 1.0)
    near = []
    for tr in tracks:
        if (tr.active and tr.observation is not None) or tr.appearance is None or not descriptors:
            continue
        if lost_before_s is not None and (tr.active or tr.last_seen_s >= lost_before_s):
            continue
        gap = t - tr.last_seen_s
        usual = max(float(tr.height_px or 0.0), 1.0)
        if gap > config.reid_size_after_s and max(size, usual) > config.reid_max_size_ratio * min(size, usual):
            continue  # after a second or more, a walk has changed one's size in the picture little: someone else
        last = tr.last_box if tr.last_box is not None else tr.kalman.box
        wheres = [(last, gap)] + ([(tr.before_misses[0], t - tr.before_misses[1])] if tr.before_misses is not None else [])
        if all(np.linalg.norm(_centre(b) - _centre(box)) > max(height, tr.height_px) *
               (1.0 + config.reid_speed_heights_per_s * since) for b, since in wheres):
            continue
        near.append((tr, max(appearance_similarity(tr.appearance, d) for d in descriptors), gap))
    return near


def most_similar(near: list, min_similarity: float):
    """The track of ``within_reach``'s list most like the person, if more than ``min_similarity``, else None."""
    best, sim = max(((n[0], n[1]) for n in near), key=lambda n: n[1], default=(None, 0.0))
    return best if sim > min_similarity else None


def settled_match(tracks, young, desc: np.ndarray, t: float, config):
    """The lost track a young one is, from its look at time ``t`` (s; the frame's appearance descriptor
    ``desc``, and the track's running one: the nearer counts), or None: most like the same track lost within
    reach before it began, twice in a row, the two looks
    ``late_reid_apart_s`` apart or more (frames a moment apart are nearly one look: a later one decides).
    Like it over ``reid_min_similarity``, or over ``handover_min_similarity`` where it is ``young.handover``
    (the only track within reach that had just lost its person when the young one began).
    Keeps the young track's last match in ``young.late_match``; once matched, it is not looked at again."""
    near = within_reach(tracks, young.first_box, young.found_s, [desc, young.appearance], config, lost_before_s=young.found_s,
                        size=young.height_px)  # its size as it settles (found half hidden: a part of them)
    lost = most_similar(near, config.reid_min_similarity)
    if lost is None and young.handover is not None and near:
        best, sim = max(((n[0], n[1]) for n in near), key=lambda n: n[1])
        if best is young.handover and sim >= config.handover_min_similarity:
            lost = best  # the only one who had just vanished there: a hand-over's similarity (a flip's landing)
    if lost is None or young.late_match is None or lost is not young.late_match[0]:
        young.late_match = None if lost is None else (lost, t)
        return None
    if t - young.late_match[1] < config.late_reid_apart_s - 5e-4:
        return None
    young.first_box = young.late_match = None
    return lost


def joined_ids(joined: list[tuple[int, int]]) -> dict[int, int]:
    """(later id, earlier id) pairs, in the order they were found -> each later id's first id (a person
    lost twice and found late twice is one person: 47 -> 37 -> 35 gives 47 and 37 -> 35)."""
    first: dict[int, int] = {}
    for later, earlier in joined:
        first[later] = first.get(earlier, earlier)
    for later in first:  # a later id joined to one that was itself joined after it
        while first[later] in first:
            first[later] = first[first[later]]
    return first


__all__ = ["within_reach", "most_similar", "settled_match", "joined_ids"]
