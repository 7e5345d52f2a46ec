"""Tracks that were scenery: a tripod, a statue, a coat on a stand that the body model took for a person.

The body model finds a person in some objects (vtest's tripod-mounted camera, 35 px tall, was followed
for 7 s and stood in the replay as a phantom). What gives such a track away is that it never moved and
that the same pixels were there before it began and after it ended. A person who stands still is there
only while they are tracked: the frames outside their track show the place without them.

So a track is scenery when, over at least ``MIN_FRAMES`` frames, its landmarks' centre stayed within
``MAX_TRAVEL`` of its height and its limbs within ``MAX_LIMB`` (a standing person's arms and head move
more), and its box as it was seen while tracked (a grey crop every ``LOOK_EVERY`` of its frames)
matches, within ``MAX_GREY`` grey levels on average, the median of frames sampled outside its span, which
must be at least ``MIN_OUTSIDE`` of the samples. A camera that moves or turns changes the pixels behind every box: nothing is taken for
scenery then, and a track that lasts the whole video never is.
"""

from __future__ import annotations

import cv2
import numpy as np

SAMPLE_SIDE = 320  # px: frames are kept in grey at this longer side
MAX_SAMPLES = 48  # frames kept at most; when full, every other one goes and the spacing doubles (flat memory)
MIN_FRAMES = 10
MAX_TRAVEL = 0.15  # of the track's height: its landmarks' centre, 5th to 95th percentile
MAX_LIMB = 0.03  # of its height: each landmark's spread about the centre, the median landmark
MAX_GREY = 8.0  # grey levels: mean absolute difference of its box, tracked vs the place without it
MIN_OUTSIDE = 0.3  # share of the samples that must lie outside the track's span
LOOK_EVERY = 5  # frames of a track between crops of its box ...
MAX_LOOKS = 16  # ... and how many are kept (its first ones: a track that ever moves is no scenery anyway)


class SceneryFrames:
    """Grey, downscaled frames sampled evenly over a video of any length (at most ``MAX_SAMPLES``), and
    each track's first looks: grey crops of its box (at most ``MAX_LOOKS``, every ``LOOK_EVERY`` frames)."""

    def __init__(self):
        self.every = 1
        self.index: list[int] = []
        self.grey: list[np.ndarray] = []
        self.looks: dict[int, list[tuple[tuple, np.ndarray]]] = {}  # track id -> [(box in sample px, its crop)]
        self._seen: dict[int, int] = {}  # track id -> frames seen

    def add(self, frame, boxes: dict[int, np.ndarray]) -> None:
        """``frame``: a decoded frame (``.index``, ``.image`` RGB, ``.scale`` decoded px per stored px);
        ``boxes``: track id -> its keypoints' box in that frame (decoded px)."""
        looking = {}
        for track_id, box in boxes.items():
            n = self._seen.get(track_id, 0)
            self._seen[track_id] = n + 1
            if n % LOOK_EVERY == 0 and len(self.looks.get(track_id, ())) < MAX_LOOKS:
                looking[track_id] = box
        sampled = frame.index % self.every == 0
        if not (looking or sampled):
            return
        h, w = frame.image.shape[:2]
        s = min(1.0, SAMPLE_SIDE / max(h, w))
        grey = cv2.resize(cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY), (max(1, round(w * s)), max(1, round(h * s))),
                          interpolation=cv2.INTER_AREA)
        for track_id, box in looking.items():
            x0, y0, x1, y1 = _pixels(np.asarray(box) * s)
            if x1 > x0 and y1 > y0:
                self.looks.setdefault(track_id, []).append(((x0, y0, x1, y1), grey[y0:y1, x0:x1].copy()))
        if sampled:
            self.grey.append(grey)
            self.index.append(frame.index)
            if len(self.grey) >= MAX_SAMPLES:
                self.every *= 2
                keep = [i for i, f in enumerate(self.index) if f % self.every == 0]
                self.grey, self.index = [self.grey[i] for i in keep], [self.index[i] for i in keep]


def _pixels(box: np.ndarray) -> tuple[int, int, int, int]:
    return int(max(0, np.floor(box[0]))), int(max(0, np.floor(box[1]))), int(np.ceil(box[2])) + 1, int(np.ceil(box[3])) + 1


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
    index = np.asarray(frames.index)
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


__all__ = ["SceneryFrames", "scenery_tracks"]
