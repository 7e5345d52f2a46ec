"""Which decoded frames the models see: every ``stride``-th, and under ``max_fps`` the smallest whole step
that brings the frames' rate to at most that. A steady video keeps every n-th frame exactly (n from the
container's average rate); a variable-rate one (a phone's 60 fps falling to 30 in low light) takes its step
from the rate its frames come at, so each stretch is analysed at up to ``max_fps``, not at the average's step."""

from __future__ import annotations

import math
from collections import deque

AVERAGE_SLACK = 1.01  # the container's rate: 30.0 and 29.97 fps at 30 are every frame, 30.2 too
RATE_WINDOW = 5  # the frames' own rate: the median of this many latest frame-to-frame steps (a change of rate is
                 # followed 3 frames later; one step's jitter moves it little), or their mean (a time base's rounding)
SAME_RATE = 0.10  # a rate this close to the container's average is that rate (timestamps' jitter, 1-ms time bases)
MEASURED_SLACK = 1.10  # a measured rate: a stretch at 33 fps is not halved, one at 60 +- 10% is


def frame_step(fps: float, stride: int, max_fps: float, slack: float = AVERAGE_SLACK) -> int:
    """The frames kept at a steady ``fps``: every ``stride``-th, or fewer where ``max_fps`` asks (the smallest
    whole step that brings ``fps`` to at most ``max_fps``, with ``slack``; 59.94 fps at 30 is every 2nd frame)."""
    if not max_fps or not fps or fps <= max_fps * slack:
        return stride
    return max(stride, math.ceil(fps / max_fps / slack))


class Thinning:
    """Decides, frame by frame in decoding order, which frames are kept (:meth:`keep`). ``fps`` is the
    container's average rate (0: it gives none). Where the latest RATE_WINDOW steps' median rate is within SAME_RATE
    of it, the step is the average's (a steady video: frames 0, n, 2n, ... exactly); elsewhere it is the
    step for the measured rate (a stretch filmed at 30 in a video averaging 45: every frame; at 60: every 2nd)."""

    def __init__(self, fps: float, stride: int = 1, max_fps: float = 0.0):
        self.fps, self.stride, self.max_fps = fps, stride, max_fps
        self.nominal = frame_step(fps, stride, max_fps)
        self._times: deque[float] = deque(maxlen=RATE_WINDOW + 1)
        self._since: int | None = None  # frames decoded since the last one kept (None: none kept yet)

    def step(self) -> int:
        """The step at the latest frame's time."""
        if not self.max_fps or len(self._times) < 3:
            return self.nominal
        times = list(self._times)
        steps = sorted(b - a for a, b in zip(times, times[1:]))
        median, mean = steps[len(steps) // 2], (times[-1] - times[0]) / len(steps)
        if median <= 0:
            return self.nominal
        if self.fps and min(abs(1 / median / self.fps - 1), abs(1 / mean / self.fps - 1)) <= SAME_RATE:
            return self.nominal  # the median follows a change of rate; the mean holds a time base's rounding
        return frame_step(1 / median, self.stride, self.max_fps, MEASURED_SLACK)

    def keep(self, t: float) -> bool:
        """Whether the next decoded frame (at ``t`` s, after every earlier one) is analysed."""
        self._times.append(t)
        if self._since is None or self._since + 1 >= self.step():
            self._since = 0
            return True
        self._since += 1
        return False


__all__ = ["Thinning", "frame_step", "RATE_WINDOW", "SAME_RATE"]
