"""Two tracks and one person: the tracker's checks where people cross or overlap. A track whose crop slid
onto someone walking past its person (vtest's one id switch at a crossing: a woman's id went on with the man
walking in front of her), two tracks whose poses are one person's, and a pose found where a track lost its
person that is someone else's."""

from __future__ import annotations

from typing import Callable

import numpy as np

from nvwa.tracking.appearance import appearance_descriptor, appearance_similarity
from nvwa.tracking.boxes import box_height, iou_matrix, overlap_of_smaller, widened


def slid_onto(tr, missing: list, image: np.ndarray, where: Callable[[object], np.ndarray], config):
    """The track of ``missing`` (those that found nobody this frame) whose person ``tr``'s pose shows, or None.
    ``tr`` slid onto them where its pose fits its own motion poorly (``crossing_max_fit``), lies where that
    track lost its person (``where(track)``, ``crossing_overlap``), and has that person's colours (at
    least ``reid_min_similarity``) ``crossing_gain`` more than its own; that track has followed its person
    for ``crossing_min_poses`` poses over ``crossing_min_s`` (colours of a frame or two are a fragment's:
    taiji's dancer, whose upper body a second track followed for a frame, was split in two ids without it).
    None where ``untangle_crossings`` is off."""
    c = config
    if not c.untangle_crossings or tr.observation is None or tr.appearance is None or tr.predicted_iou >= c.crossing_max_fit:
        return None
    box = widened(tr.observation.box(), c.min_width_share)
    near = [o for o in missing if o.appearance is not None and o.hits >= c.crossing_min_poses
            and o.last_seen_s - o.found_s >= c.crossing_min_s - 5e-4
            and overlap_of_smaller(box, where(o)[None])[0, 0] >= c.crossing_overlap]
    desc = appearance_descriptor(image, tr.observation) if near else None
    if desc is None:
        return None
    sims = [appearance_similarity(o.appearance, desc) for o in near]
    best = int(np.argmax(sims))
    own = appearance_similarity(tr.appearance, desc)
    return near[best] if sims[best] >= c.reid_min_similarity and sims[best] >= own + c.crossing_gain else None


def duplicates(seen: list, config) -> list:
    """Of the tracks ``seen`` with a pose this frame, those following someone another track follows (their
    poses' boxes, widened, overlap by ``duplicate_iou``): of two, the one whose own prediction explains
    its pose least (the impostor), worst-fitting first."""
    if len(seen) < 2:
        return []
    boxes = widened(np.array([tr.observation.box() for tr in seen]), config.min_width_share)
    iou = iou_matrix(boxes, boxes)
    order = sorted(range(len(seen)), key=lambda i: seen[i].predicted_iou)
    dropped: set[int] = set()
    for i in order:
        for j in range(len(seen)):
            if j != i and j not in dropped and i not in dropped and iou[i, j] >= config.duplicate_iou:
                if seen[i].predicted_iou <= seen[j].predicted_iou:
                    dropped.add(i)
    return [seen[i] for i in sorted(dropped)]


def theirs(obs, tr, where: np.ndarray, followed: list, config) -> bool:
    """Is the pose a check found where ``tr`` lost its person theirs: at least half their usual height,
    inside ``where`` they were (the tracker's ``_where``), and not the person another track follows this
    frame (``followed``: the boxes of this frame's kept poses)?"""
    c = config
    box = widened(obs.box(), c.min_width_share)
    usual = max(tr.height_px, box_height(tr.last_box) if tr.last_box is not None else 0.0)
    if box_height(box) < 0.5 * usual or overlap_of_smaller(box, where)[0, 0] < c.missing_overlap:
        return False  # a fragment (a hand, a blob's upper body) would shrink the track onto itself
    return not followed or iou_matrix(box, widened(np.array(followed), c.min_width_share)).max() < c.duplicate_iou
