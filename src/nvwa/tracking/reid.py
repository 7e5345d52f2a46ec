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
from nvwa.tracking.boxes import near_edge

EDGE_SHARE = 0.02  # a box this near the picture's edge (of its smaller side) is cut by it


def _centre(box: np.ndarray) -> np.ndarray:
    return (np.asarray(box[:2]) + np.asarray(box[2:])) / 2


def _same_size(usual: float, found: float, since: float, config, frame_height: float | None) -> bool:
    """Can someone ``usual`` px tall in the picture, lost ``since`` seconds ago, be this person ``found`` px
    tall? Within ``reid_size_after_s`` any size (a jump, a crouch, a flip changes it a lot within a moment); then
    within ``reid_max_size_ratio``, as a walk of a second or two changes a far person's size little. Not asked of
    someone over ``reid_size_max_share`` of the frame's height (near the camera a walk changes one's size fast:
    1.7x in 1.5 s at 5 m) or of a size not known."""
    if since <= config.reid_size_after_s + 5e-4 or not (usual > 0 and found > 0):  # (NaN: not known)
        return True
    if frame_height and max(usual, found) > config.reid_size_max_share * frame_height:
        return True
    return max(usual, found) <= config.reid_max_size_ratio * min(usual, found)


def _cut(box: np.ndarray, picture: tuple[int, int] | None) -> bool:
    """May ``box`` (xyxy px) be cut by the edge of the ``picture`` (rows, columns): within EDGE_SHARE of its
    smaller side of an edge? Such a box may be a part of the person (someone walking out)."""
    return picture is not None and near_edge(box, picture[1], picture[0], EDGE_SHARE * min(picture))


def within_reach(tracks, box: np.ndarray, t: float, descriptors: list, config, *, lost_before_s: float | None = None,
                 size: float | None = None, picture: tuple[int, int] | None = None) -> list:
    """(track, similarity, gap s) for each track that may be the person found at ``box`` (xyxy px) at
    time ``t`` (s): a track that is lost, or active with no pose this frame, with colours, whose last box
    (or its box before its latest misses, ``before_misses``) is within the distance a person walks since
    (``reid_speed_heights_per_s`` body heights a second, plus one) and of a size they can have now
    (:func:`_same_size`: their usual height, or that box's, at least their usual one where the edge of the
    ``picture`` (rows, columns px) may cut it, against ``size`` px, default the box's height). ``descriptors``: the person's appearance descriptors (None entries skipped); the
    similarity is the best of them. ``lost_before_s``: only tracks lost before then (a young track's start:
    someone seen while it was is someone else)."""
    descriptors = [d for d in descriptors if d is not None]
    height = max(float(box[3] - box[1]), 1.0)
    size = height if size is None else float(size)
    near = []
    for tr in tracks:
        if (tr.active and tr.observation is not None) or tr.appearance is None or not descriptors:
            continue
        if lost_before_s is not None and (tr.active or tr.last_seen_s >= lost_before_s):
            continue
        gap = t - tr.last_seen_s
        last = tr.last_box if tr.last_box is not None else tr.kalman.box
        # where they were last, as they usually were; and before their latest misses, as they were then (poses
        # after a wide search may have been something else: a pose scattered over trees drags the usual size)
        wheres = [(last, gap, float(tr.height_px or 0.0))]
        if tr.before_misses is not None:  # (a box at the edge may be a part of them: someone walking out)
            b = tr.before_misses[0]
            wheres.append((b, t - tr.before_misses[1], max(float(b[3] - b[1]), float(tr.height_px or 0.0)) if _cut(b, picture)
                           else float(b[3] - b[1])))
        if not any(np.linalg.norm(_centre(b) - _centre(box)) <= max(height, tr.height_px) *
                   (1.0 + config.reid_speed_heights_per_s * since) and
                   _same_size(usual, size, since, config, None if picture is None else picture[0])
                   for b, since, usual in wheres):
            continue
        near.append((tr, max(appearance_similarity(tr.appearance, d) for d in descriptors), gap))
    return near


def most_similar(near: list, min_similarity: float):
    """The track of ``within_reach``'s list most like the person, if more than ``min_similarity``, else None."""
    best, sim = max(((n[0], n[1]) for n in near), key=lambda n: n[1], default=(None, 0.0))
    return best if sim > min_similarity else None


def settled_match(tracks, young, desc: np.ndarray, t: float, config, picture: tuple[int, int] | None = None):
    """The lost track a young one is, from its look at time ``t`` (s; the frame's appearance descriptor
    ``desc``, and the track's running one: the nearer counts), or None: most like the same track lost within
    reach before it began, twice in a row, the two looks
    ``late_reid_apart_s`` apart or more (frames a moment apart are nearly one look: a later one decides).
    Like it over ``reid_min_similarity``, or over ``handover_min_similarity`` where it is ``young.handover``
    (the only track within reach that had just lost its person when the young one began).
    Keeps the young track's last match in ``young.late_match``; once matched, it is not looked at again."""
    # its size as it is now, or as it settles (found half hidden, its first box was a part of them; the running
    # size takes a second to catch up)
    size = max(float(young.height_px or 0.0), float(young.last_box[3] - young.last_box[1]) if young.last_box is not None else 0.0)
    near = within_reach(tracks, young.first_box, young.found_s, [desc, young.appearance], config, lost_before_s=young.found_s,
                        size=size, picture=picture)
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
