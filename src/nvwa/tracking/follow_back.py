"""The last second's frames, kept so a person the tracker finds late is followed back through them.

The detector passes every few frames and is sure of someone only once they are big and clear enough;
before that they were there, unrecorded. :class:`FrameHistory` keeps copies of the latest frames with the
boxes of the poses followed on them; when a track begins, the body model follows its person back frame by
frame for as long as each pose is theirs (see :meth:`FrameHistory.follow`).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from nvwa.body.observation import BodyObservation
from nvwa.tracking.boxes import box_height, iou_matrix, widened

FOLLOW_BACK_FRAMES = 32  # frames kept for following new people back (their pixels: ~90 MB at 1280x720) ...
FOLLOW_BACK_BYTES = 128 << 20  # ... and no more than this many bytes of them (fewer frames of a larger --max-side)


class FrameHistory:
    """The frames before the one being tracked, the latest first: (frame number, image, time, the boxes of
    the poses followed there)."""

    def __init__(self):
        self._frames: deque[tuple[int, np.ndarray, float, list[np.ndarray]]] = deque()

    def remember(self, frame_no: int, image: np.ndarray, t: float, followed: list[np.ndarray], keep_s: float) -> None:
        """Keep this frame and where its people were (``followed``: boxes, xyxy px) for ``keep_s`` seconds."""
        # a copy: the decoder's array holds its whole frame (~9 MB each at 1280x720 with VP9's frame threads)
        self._frames.appendleft((frame_no, np.array(image), t, list(followed)))
        most = max(1, min(FOLLOW_BACK_FRAMES, FOLLOW_BACK_BYTES // max(image.nbytes, 1)))
        while self._frames and (len(self._frames) > most or t - self._frames[-1][2] > keep_s + 5e-4):
            self._frames.pop()

    def follow(self, body, obs: BodyObservation, t: float, config) -> list[tuple[int, BodyObservation]]:
        """A person just found at ``t`` (``obs``), followed back by ``body.follow_back`` through the frames
        kept within ``config.follow_back_s`` -> [(frame number, pose)], the latest first, for as long as each
        pose is theirs: it overlaps the one after it by the tracker's gate (both widened by
        ``config.min_width_share``: a thin walker moves more than their width), is at least half the height
        they were found at, and is no one followed there already (a track, or another new person followed
        back through that frame; each pose taken here counts as someone there from now on)."""
        c = config
        kept = [h for h in self._frames if t - h[2] <= c.follow_back_s + 5e-4]
        if not kept:
            return []
        last = [obs.box()]
        found_height = box_height(last[0])

        def theirs(i: int, pose: BodyObservation) -> bool:
            box, after = widened(pose.box(), c.min_width_share), widened(last[0], c.min_width_share)
            if box_height(box) < 0.5 * found_height or iou_matrix(after, box)[0, 0] < c.gate_iou:
                return False
            others = kept[i][3]
            if others and iou_matrix(box, widened(np.array(others), c.min_width_share)).max() >= c.duplicate_iou:
                return False
            last[0] = pose.box()
            return True
        poses = body.follow_back([h[1] for h in kept], obs, theirs)
        for i, pose in enumerate(poses):
            kept[i][3].append(pose.box())
        return [(kept[i][0], pose) for i, pose in enumerate(poses)]

    def clear(self) -> None:
        self._frames.clear()
