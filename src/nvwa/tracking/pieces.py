"""A track on a piece of someone (legs under a sign, a head over a car) gives way to all of them.

A pose check on the detector's box round a whole person finds them, but their pose overlaps the one track
there, which follows only a piece of them: the tracker would set them aside as someone already followed
(vtest: a man stepping out from behind the sign was followed by his legs and was two people). Where the
track's pose is a piece of the whole (:func:`piece_of`), a track begun on the piece is given up and the
person found afresh (:func:`young_piece`), and an older one takes all of them (:func:`take_whole`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from nvwa.body.observation import BodyObservation
from nvwa.tracking.appearance import appearance_descriptor, appearance_similarity
from nvwa.tracking.boxes import BoxKalman, box_height as _height, iou_matrix, share_inside, widened as _wide
from nvwa.tracking.reid import within_reach

PIECE_INSIDE = 0.8  # a track's pose is a piece of a whole found over it with this share of it inside the whole's box
PIECE_USUAL = 0.8  # ... and an older track's usual height is at least this share of the whole's (see piece_of)


def piece_of(tracks: list, where: Callable, obs: BodyObservation, image: np.ndarray, t: float, config):
    """The one track of ``tracks`` followed this frame where a pose check found ``obs`` whose pose is a
    piece of it: at most ``piece_height`` of its height, at least PIECE_INSIDE of it inside ``obs``'s box,
    the track begun within ``piece_young_s`` or usually at least PIECE_USUAL of the whole's height (it
    shrank to the piece), its colours at least ``handover_min_similarity`` like the whole's and no lost
    track's within reach more so (the whole may be someone else: a person standing beside one who
    crouched, an adult behind a child); None where no track or more than one is there (the whole may be
    another's). ``where``: a track -> where the tracker compares new finds with it (xyxy px)."""
    c = config
    if c.piece_young_s <= 0:
        return None
    whole = obs.box()
    there = [tr for tr in tracks if tr.active and iou_matrix(_wide(whole, c.min_width_share), where(tr)[None])[0, 0] >= c.covered_iou]
    if len(there) != 1 or there[0].observation is None or there[0].appearance is None:
        return None
    tr, piece = there[0], there[0].observation.box()
    if (_height(piece) > c.piece_height * _height(whole) or share_inside(piece[None], whole[None])[0, 0] < PIECE_INSIDE
            or (not young(tr, t, c) and tr.height_px < PIECE_USUAL * _height(whole))):
        return None
    desc = appearance_descriptor(image, obs)
    if desc is None:
        return None
    alike = appearance_similarity(tr.appearance, desc)
    near = within_reach(tracks, whole, t, [desc], c, picture=image.shape[:2])
    if alike < c.handover_min_similarity or any(n[1] > alike for n in near):
        return None
    return tr


def young(tr, t: float, config) -> bool:
    """Begun within ``piece_young_s`` of ``t``."""
    return t - tr.found_s <= config.piece_young_s + 5e-4


def young_piece(tr, t: float, config, joined: list[tuple[int, int]]) -> bool:
    """A track begun on a piece of someone (within ``piece_young_s``) that is no lost track found again
    (joined to one by its colours, ``joined``: dropped, that person would be split again)."""
    return young(tr, t, config) and not any(tr.track_id in pair for pair in joined)


def take_whole(tr, obs: BodyObservation, t: float, body) -> None:
    """``tr`` follows all of ``obs`` from here: its pose this frame is the whole person's, its motion model
    starts again from their box, and the body model from that box next frame (as a person just found)."""
    body.release(tr.track_id)
    tr.observation, tr.last_box = obs, obs.box()
    tr.kalman = BoxKalman(tr.last_box, t)
    tr.height_px = max(tr.height_px, _height(tr.last_box))
    tr.predicted_iou = 1.0


__all__ = ["piece_of", "young_piece", "take_whole", "PIECE_INSIDE", "PIECE_USUAL"]
