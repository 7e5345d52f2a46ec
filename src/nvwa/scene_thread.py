"""The scene thread: what reconstruction needs of each frame's pixels (the straight edges of a few frames,
the background's motion with the people masked out, what tells a track that was scenery), worked out on a
thread of its own one or two frames behind the tracker."""

from __future__ import annotations

from collections import deque

import numpy as np

from nvwa.camera.background import BackgroundMotion
from nvwa.timing import StageTimer
from nvwa.tracking.scenery import SceneryFrames


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


class ShotCuts:
    """Where an edited video cuts from one camera's shot to another's. A scene is one camera's view: across a
    cut its calibration, floor and people mix two (a sports clip cut with a close-up came out with its camera
    under the floor). Every decoded frame, analysed or not (:attr:`VideoFrame.glances`), as a 32x18 grey
    thumbnail normalised in brightness and contrast (a light switched on is no cut): a cut is one step of at
    least SPIKE from a frame to the next, and RATIO times the median step of the second before (a fast
    swing or someone crossing close to the lens makes steps as large, but steps of that size before it
    too), after which the picture does not come back within STAYS_S (a flash, someone passing in front of
    the lens). Measured on ours: a shot's own steps at most 0.23 (a handheld swing at 12 fps), a camera
    change 0.77-0.85 (cam03 to cam04 of one lab, taiji to juggle, Sports2D to vtest, a 2x zoom), the same
    camera 6-70 s later 0.05-0.10. A dissolve has no such step and is not found."""

    SPIKE = 0.45
    RATIO = 3.0
    BACK = 0.3  # a frame this near the last before the step: the picture came back, no cut
    STAYS_S = 1.0
    RECENT_S = 1.0

    def __init__(self):
        self.cuts: list[tuple[float, int]] = []  # (time, frame number) of each new shot's first frame
        self._last: np.ndarray | None = None
        self._steps: deque = deque()  # (time, step) of the second before
        self._pending: list[tuple[float, int, np.ndarray]] = []  # steps not yet seen to stay

    def add(self, frame) -> bool:
        """Look at the frames decoded up to the next analysed one; True where one may begin another shot."""
        glances = frame.glances or ((frame.timestamp_s, frame.index, None),)
        began = False
        for t, index, small in glances:
            began |= self._look(t, index, _normalised(small if small is not None else _grey(frame.image)))
        return began

    def _look(self, t: float, index: int, thumb: np.ndarray) -> bool:
        back = next((k for k, cut in enumerate(self._pending) if float(np.abs(thumb - cut[2]).mean()) < self.BACK), None)
        if back is not None:  # the picture came back: that step and every one since (the way back) were no cut
            self._pending = self._pending[:back]
        while self._pending and t - self._pending[0][0] >= self.STAYS_S:
            self.cuts.append(self._pending.pop(0)[:2])
        step = None if self._last is None else float(np.abs(thumb - self._last).mean())
        while self._steps and t - self._steps[0][0] > self.RECENT_S:
            self._steps.popleft()
        usual = float(np.median([d for _, d in self._steps])) if self._steps else 0.0
        cut = back is None and step is not None and step >= max(self.SPIKE, self.RATIO * usual)
        if cut:
            self._pending.append((t, index, self._last))
        if step is not None:
            self._steps.append((t, step))
        self._last = thumb
        return cut

    def finish(self) -> list[tuple[float, int]]:
        """The cuts, those the video ended too soon after to see stay included (nothing came back)."""
        self.cuts.extend(cut[:2] for cut in self._pending)
        self._pending = []
        return sorted(self.cuts)


def _grey(image: np.ndarray) -> np.ndarray:
    """An RGB frame as :func:`nvwa.video.shown.glance` sees a decoded one: 32x18 grey."""
    import cv2

    return cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (32, 18), interpolation=cv2.INTER_AREA)


def _normalised(small: np.ndarray) -> np.ndarray:
    small = small.astype(np.float32)
    return (small - small.mean()) / (small.std() + 8.0)


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
