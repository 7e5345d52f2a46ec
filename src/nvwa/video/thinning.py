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
TIME_SLACK = 0.03  # a frame this much short of 1 / max_fps after the last kept one counts as that (jitter)


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
        self._kept_t = 0.0  # the last kept frame's time

    def step(self) -> tuple[int, bool]:
        """The step at the latest frame's time, and whether the rate is off the average's or turning."""
        if not self.max_fps or len(self._times) < 3:
            return self.nominal, False
        times = list(self._times)
        steps = sorted(b - a for a, b in zip(times, times[1:]))
        median, mean = steps[len(steps) // 2], (times[-1] - times[0]) / len(steps)
        if median <= 0:
            return self.nominal, False
        steady = steps[-1] < 1.8 * steps[0]  # no change of rate in the window (a 60 -> 30 fps turn: 2x)
        if self.fps and min(abs(1 / median / self.fps - 1), abs(1 / mean / self.fps - 1) if steady else 1) <= SAME_RATE:
            return self.nominal, not steady  # the median follows a change of rate; the mean holds a time base's rounding
        return frame_step(1 / median, self.stride, self.max_fps, MEASURED_SLACK), True

    def keep(self, t: float) -> bool:
        """Whether the next decoded frame (at ``t`` s, after every earlier one) is analysed. Under --max-fps
        the frames' times count too, as a rate turns (the median sees it 3 frames late): a frame under 0.75 /
        max_fps after the last kept one is not kept (30 -> 60 fps: no frames 17 ms apart), and where the rate
        is off the average's or turning, one 1 / max_fps after it is (60 -> 30 fps: no 67-ms hole), --stride allowing."""
        self._times.append(t)
        if self._since is None:
            due = True
        else:
            step, varying = self.step()
            due = self._since + 1 >= step
            if self.max_fps:
                since_s = t - self._kept_t
                due = (due and since_s >= 0.75 / self.max_fps) or (
                    varying and self._since + 1 >= self.stride and since_s >= (1 - TIME_SLACK) / self.max_fps)
        if due:
            self._since, self._kept_t = 0, t
            return True
        self._since += 1
        return False


__all__ = ["Thinning", "frame_step", "RATE_WINDOW", "SAME_RATE"]
