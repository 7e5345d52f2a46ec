"""The scene thread: what reconstruction needs of each frame's pixels (the straight edges of a few frames,
the background's motion with the people masked out, what tells a track that was scenery), worked out on a
thread of its own one or two frames behind the tracker."""

from __future__ import annotations

import numpy as np

from nvwa.camera.background import BackgroundMotion
from nvwa.timing import StageTimer
from nvwa.tracking.scenery import SceneryFrames
from nvwa.video.cuts import ShotCuts


class SceneLines:
    """Straight edges of the scene (LSD) on a few frames spread over the video: the camera's calibration
    from vanishing points needs pixels, which reconstruction no longer has."""

    EVERY_S = 0.5  # s between sampled frames
    MAX_FRAMES = 8

    def __init__(self):
        self.rows: list[np.ndarray] = []
        self.next_s, self.frames = 0.0, 0

    def add(self, frame) -> None:
        if self.frames >= self.MAX_FRAMES or frame.timestamp_s < self.next_s:
            return
        import cv2

        from nvwa.camera.vanishing import detect_segments

        seg = detect_segments(cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)) / frame.scale
        self.rows.append(np.column_stack([seg, np.full(len(seg), frame.index)]).astype(np.float32))
        self.next_s, self.frames = frame.timestamp_s + self.EVERY_S, self.frames + 1

    def new_shot(self) -> None:
        """The video may have cut to another camera's shot here: its own few frames are looked at too (an
        edited video's shot is reconstructed from its own edges: :func:`nvwa.tracking.shots.one_shot`)."""
        self.next_s, self.frames = 0.0, 0

    def array(self) -> np.ndarray:
        return np.concatenate(self.rows) if self.rows else np.zeros((0, 5), np.float32)


def scene_of(frame, tracked, lines: SceneLines, background: BackgroundMotion, scenery: SceneryFrames | None,
              timer: StageTimer, cuts: ShotCuts | None = None) -> None:
    """What the calibration and the camera's motion need of a frame's pixels: the straight edges (a few
    frames) and the background's motion, the people masked out; what tells a track that was scenery; and
    where the video cuts to another shot."""
    boxes = {person.track_id: keypoint_box(person.observation.keypoints_2d) for person in tracked}
    if cuts is not None:
        with timer("cuts"):
            if cuts.add(frame):
                lines.new_shot()
    with timer("lines"):
        lines.add(frame)
    with timer("camera_motion"):
        if frame.between and background.wants_between():  # a moving camera: followed through the frames not analysed
            for skipped in frame.between:
                background.between(skipped.image(), frame.scale, list(boxes.values()))
        background.add(frame, list(boxes.values()))
    if scenery is not None:
        with timer("scenery"):
            scenery.add(frame, boxes)


class SceneWorker:
    """One thread that takes each frame's scene work in order, at most ``ahead`` frames behind the
    tracker (each queued frame holds its pixels); an error there is raised here."""

    def __init__(self, ahead: int = 2):
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(1, thread_name_prefix="scene")
        self._pending: list = []
        self.ahead = ahead

    def submit(self, fn, *args) -> None:
        while len(self._pending) >= self.ahead:
            self._pending.pop(0).result()
        self._pending.append(self._pool.submit(fn, *args))

    def finish(self) -> None:
        while self._pending:
            self._pending.pop(0).result()

    def close(self) -> None:
        for f in self._pending:
            f.cancel()
        self._pool.shutdown(wait=True)


def keypoint_box(keypoints_2d: np.ndarray) -> np.ndarray:
    """x0, y0, x1, y1 round a person's keypoints (decoded-frame px)."""
    k = np.asarray(keypoints_2d, dtype=np.float64)[:, :2]
    k = k[np.isfinite(k).all(axis=1)]
    return np.r_[k.min(axis=0), k.max(axis=0)] if len(k) else np.zeros(4)
