"""Tracks that were scenery: a tripod, a statue, a coat on a stand that the body model took for a person.

The body model finds a person in some objects (vtest's tripod-mounted camera, 35 px tall, was followed
for 7 s and stood in the replay as a phantom). What gives such a track away is that it never moved and
that the same pixels were there before it began and after it ended. A person who stands still is there
only while they are tracked: the frames outside their track show the place without them.

So a track is scenery when, over at least ``MIN_FRAMES`` frames, its landmarks' centre stayed within
``MAX_TRAVEL`` of its height and its limbs within ``MAX_LIMB`` (this alone does not tell a tripod from a
person standing still: vtest's two men standing 3 s are as still), and its box as it was seen while
tracked (a grey crop every ``LOOK_EVERY`` of its frames) matches, within ``MAX_GREY`` grey levels on
average, the median of frames sampled outside its span, which must be at least ``MIN_OUTSIDE`` of the
samples. A camera that moves or turns changes the pixels behind every box: nothing is taken for scenery
then, and a track that lasts the whole video never is.

What this cannot tell: a person who sits or stands still through most of the video but is tracked for
only part of it (found late, or in pieces) looks like scenery too. ``--no-tracking.drop-scenery`` keeps
every track; the summary names what was dropped.
"""

from __future__ import annotations

import cv2
import numpy as np

from nvwa.tracking.boxes import iou_matrix

SAMPLE_SIDE = 320  # px: frames are kept in grey at this longer side
MAX_SAMPLES = 48  # frames kept at most; when full, every other one goes and the spacing doubles (flat memory)
MIN_FRAMES = 10
MAX_TRAVEL = 0.15  # of the track's height: its landmarks' centre, 5th to 95th percentile
MAX_LIMB = 0.03  # of its height: each landmark's spread about the centre, the median landmark
MAX_GREY = 8.0  # grey levels: mean absolute difference of its box, tracked vs the place without it
MIN_OUTSIDE = 0.3  # share of the samples that must lie outside the track's span
LOOK_EVERY = 5  # frames of a track between crops of its box ...
MAX_LOOKS = 16  # ... and how many are kept (its first ones: a track that ever moves is no scenery anyway)


class GreySamples:
    """Grey frames at ``SAMPLE_SIDE`` sampled evenly over a video of any length: at most ``MAX_SAMPLES``;
    when full, every other one goes and the spacing doubles (memory flat in the video's length)."""

    def __init__(self):
        self.every = 1
        self.index: list[int] = []  # the frames' indices
        self.grey: list[np.ndarray] = []
        self._offered = 0

    def wants(self) -> bool:
        """Is the next frame offered to be kept? (Call once per frame, then :meth:`add` it if so.)"""
        self._offered += 1
        return (self._offered - 1) % self.every == 0

    def add(self, index: int, grey: np.ndarray) -> None:
        self.grey.append(grey)
        self.index.append(index)
        if len(self.grey) >= MAX_SAMPLES:
            self.every *= 2
            self.grey, self.index = self.grey[::2], self.index[::2]


def grey_sample(image: np.ndarray) -> tuple[np.ndarray, float]:
    """An RGB frame in grey at ``SAMPLE_SIDE`` (never enlarged), and its scale (sample px per frame px)."""
    h, w = image.shape[:2]
    s = min(1.0, SAMPLE_SIDE / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA), s


class SceneryFrames:
    """The scenery's frames (:class:`GreySamples`) and each track's first looks: grey crops of its box (at
    most ``MAX_LOOKS``, every ``LOOK_EVERY`` of its frames)."""

    def __init__(self):
        self.samples = GreySamples()
        self.looks: dict[int, list[tuple[tuple, np.ndarray]]] = {}  # track id -> [(box in sample px, its crop)]
        self._seen: dict[int, int] = {}  # track id -> frames seen

    @property
    def grey(self) -> list[np.ndarray]:
        return self.samples.grey

    def add(self, frame, boxes: dict[int, np.ndarray]) -> None:
        """``frame``: a decoded frame (``.index``, ``.image`` RGB); ``boxes``: track id -> its keypoints'
        box in that frame (decoded px)."""
        looking = {}
        for track_id, box in boxes.items():
            n = self._seen.get(track_id, 0)
            self._seen[track_id] = n + 1
            if n % LOOK_EVERY == 0 and len(self.looks.get(track_id, ())) < MAX_LOOKS:
                looking[track_id] = box
        sampled = self.samples.wants()
        if not (looking or sampled):
            return
        grey, s = grey_sample(frame.image)
        for track_id, box in looking.items():
            x0, y0, x1, y1 = _pixels(np.asarray(box) * s, grey.shape)
            if x1 > x0 and y1 > y0:
                self.looks.setdefault(track_id, []).append(((x0, y0, x1, y1), grey[y0:y1, x0:x1].copy()))
        if sampled:
            self.samples.add(frame.index, grey)


def _pixels(box: np.ndarray, shape: tuple) -> tuple[int, int, int, int]:
    """A box's whole pixels inside an image of ``shape`` (empty where the box lies outside it)."""
    x0, y0 = (int(min(max(0, np.floor(v)), n)) for v, n in zip(box[:2], (shape[1], shape[0])))
    x1, y1 = (int(min(max(0, np.ceil(v) + 1), n)) for v, n in zip(box[2:], (shape[1], shape[0])))
    return x0, y0, x1, y1


def _still(keypoints_2d: np.ndarray) -> bool:
    h = float(np.median(keypoints_2d[:, :, 1].max(1) - keypoints_2d[:, :, 1].min(1)))
    if not np.isfinite(h) or h <= 0:
        return False
    centre = keypoints_2d.mean(1)
    travel = np.linalg.norm(np.percentile(centre, 95, axis=0) - np.percentile(centre, 5, axis=0))
    limbs = np.median((keypoints_2d - centre[:, None]).std(0).mean(1))
    return travel <= MAX_TRAVEL * h and limbs <= MAX_LIMB * h


def scenery_tracks(people, frames: SceneryFrames) -> list[int]:
    """The ids of ``people`` (PersonObservations: ``frame_index``, ``keypoints_2d`` in stored-video px)
    that were scenery (see the module's doc)."""
    if len(frames.grey) < 4:
        return []
    index = np.asarray(frames.samples.index)
    found = []
    for p in people:
        kp = np.asarray(p.keypoints_2d, dtype=np.float64)
        looks = frames.looks.get(int(p.person_id), [])
        if len(p.frame_index) < MIN_FRAMES or not looks or not np.isfinite(kp).all() or not _still(kp):
            continue
        outside = (index < np.min(p.frame_index)) | (index > np.max(p.frame_index))
        if outside.mean() < MIN_OUTSIDE:
            continue
        without = [frames.grey[i] for i in np.flatnonzero(outside)]
        diffs = []
        for (x0, y0, x1, y1), crop in looks:
            place = np.median(np.stack([g[y0:y1, x0:x1] for g in without]), axis=0)
            if place.shape == crop.shape:
                diffs.append(float(np.abs(crop.astype(np.float32) - place).mean()))
        if diffs and np.mean(diffs) <= MAX_GREY:
            found.append(int(p.person_id))
    return found


def without_scenery(persons: list, frames: SceneryFrames | None, stats: dict) -> tuple[list, dict]:
    """``persons`` less the tracks that were scenery, said in ``stats`` (a copy: its "notes" and
    "scenery_tracks"); as they are where ``frames`` is None (nothing sampled: the drop is off)."""
    dropped = [] if frames is None else scenery_tracks(persons, frames)
    if not dropped:
        return persons, stats
    notes = [*stats.get("notes", []), f"{len(dropped)} track(s) dropped as scenery (never moved, and the same "
             f"pixels were there before and after: a tripod, a statue): {', '.join(map(str, dropped))}"]
    return [p for p in persons if p.person_id not in dropped], {**stats, "notes": notes, "scenery_tracks": dropped}


MOVING_GREY = 20  # grey levels from the scenery's median: a moving thing's pixel ...
MOVING_MIN_PX = 10  # ... in a blob at least this tall (sample px; 24 px of a 768 px frame) ...
MOVING_MAX_HEIGHT = 0.2  # ... and at most this share of the frame's height (larger people the detector finds) ...
MOVING_MIN_ASPECT = 1.4  # ... and this many times taller than wide (a ball, a swinging arm are not) ...
MOVING_MAX_SHARE = 0.12  # ... where at most this share of the frame moves (more: the camera moved, or the light changed)
MOVING_SCORE = 0.25  # the proposals' score: after the detector's sure boxes, before its unsure ones
BACKGROUND_EVERY = 20  # proposal passes between updates of the scenery's median


class MovingBlobs:
    """Person-box proposals where something moves against the scenery: people the detector passes over
    (far ones 30-40 px tall among parked cars, a man half behind a sign) still differ from the place
    without them. The scenery is the median of the frames this proposer was given so far (its own
    :class:`GreySamples`, so the proposals depend on nothing but the frames, in order); a blob shaped like
    a small upright person (``MOVING_MIN_PX`` to ``MOVING_MAX_HEIGHT`` tall, ``MOVING_MIN_ASPECT`` times
    taller than wide) is proposed with ``MOVING_SCORE``, if the pass before had it too (a flicker, a gust
    in a tree, is not: each costs a pose check). Nothing where too much of the frame moves (a camera that
    moves or turns has no one scenery)."""

    def __init__(self):
        self.samples = GreySamples()
        self._median = None
        self._passes = 0
        self._before = np.zeros((0, 4))

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """image (H, W, 3) uint8 RGB (decoded) -> boxes (N, 4) xyxy decoded px, scores (N,)."""
        grey, s = grey_sample(image)
        if self.samples.wants():
            self.samples.add(self._passes, grey)
        if (self._median is None or self._passes % BACKGROUND_EVERY == 0) and len(self.samples.grey) >= 8:
            self._median = np.median(np.stack(self.samples.grey), axis=0).astype(np.uint8)
        self._passes += 1
        before, self._before = self._before, np.zeros((0, 4))
        nothing = np.zeros((0, 4)), np.zeros(0)
        if self._median is None or self._median.shape != grey.shape:
            return nothing
        moving = (cv2.absdiff(grey, self._median) > MOVING_GREY).astype(np.uint8)
        if moving.mean() > MOVING_MAX_SHARE:
            return nothing
        moving = cv2.dilate(cv2.morphologyEx(moving, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)), np.ones((3, 3), np.uint8))
        _, _, stats, _ = cv2.connectedComponentsWithStats(moving)
        x, y, bw, bh = (stats[1:, i].astype(np.float64) for i in range(4))
        keep = (bh >= MOVING_MIN_PX) & (bh <= MOVING_MAX_HEIGHT * grey.shape[0]) & (bh >= MOVING_MIN_ASPECT * bw)
        self._before = boxes = np.column_stack([x, y, x + bw, y + bh])[keep] / s
        if not (len(boxes) and len(before)):
            return nothing
        boxes = boxes[iou_matrix(boxes, before).max(axis=1) >= 0.3]
        return boxes, np.full(len(boxes), MOVING_SCORE)


__all__ = ["GreySamples", "SceneryFrames", "scenery_tracks", "without_scenery", "MovingBlobs"]
