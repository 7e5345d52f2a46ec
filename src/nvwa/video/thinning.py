"""Which decoded frames the models see: every ``stride``-th, and under ``max_fps`` the smallest whole step
that brings the frames' rate to at most that. Both read from the packets' times before decoding
(:func:`frame_rate`): a steady video keeps every n-th frame exactly (n from its usual rate); a variable-rate
one (a phone's 60 fps falling to 30 in low light) takes its step from the rate its frames come at, so each
stretch is analysed at up to ``max_fps``, not at the average's step."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

AVERAGE_SLACK = 1.01  # the container's rate: 30.0 and 29.97 fps at 30 are every frame, 30.2 too
RATE_WINDOW = 5  # a variable video's rate: the median of this many latest frame-to-frame steps (a change of rate
                 # is seen 3 frames later; one step's jitter moves it little)
MEASURED_SLACK = 1.10  # a measured rate: a stretch at 33 fps is not halved, one at 60 +- 10% is
TIME_SLACK = 0.03  # a frame this much short of 1 / max_fps after the last kept one counts as that (jitter)
OFF_STEP = 0.25  # steps this far off the median step (or half a time-base tick, whichever is more) ...
OFF_RUN = 3  # ... this many in a row, to one side: the video's rate varies (a dropped frame is one step off)
RATE_SPAN = 10  # frames a steady video's usual rate is timed over (a 1-ms time base: 0.3% at 30 fps)
EARLY = 0.6  # a variable video: a frame under this much of 1 / max_fps after the last kept one is not kept


def frame_step(fps: float, stride: int, max_fps: float, slack: float = AVERAGE_SLACK) -> int:
    """The frames kept at a steady ``fps``: every ``stride``-th, or fewer where ``max_fps`` asks (the smallest
    whole step that brings ``fps`` to at most ``max_fps``, with ``slack``; 59.94 fps at 30 is every 2nd frame)."""
    if not max_fps or not fps or fps <= max_fps * slack:
        return stride
    return max(stride, math.ceil(fps / max_fps / slack))


@dataclass(frozen=True)
class FrameRate:
    """How a video's frames come, from their times: ``variable`` where the rate changes for a stretch;
    ``fps`` the usual rate (the median time RATE_SPAN frames take: stray and dropped frames left out; 0
    with fewer than OFF_RUN steps); ``slowest`` / ``fastest`` its stretches' rates (over RATE_WINDOW steps)."""

    variable: bool = False
    fps: float = 0.0
    slowest: float = 0.0
    fastest: float = 0.0


def frame_rate(times: np.ndarray, tick: float = 0.0) -> FrameRate:
    """:class:`FrameRate` of frames at ``times`` (s, sorted, distinct; ``tick`` s: the time base). Variable:
    OFF_RUN steps in a row off the median step by over OFF_STEP of it (or half a tick), all longer or all
    shorter (a stretch at another rate, however short). Jitter scatters steps to both sides, a time base's
    rounding never puts its rarer step twice in a row (a 34-fps clip in milliseconds: 29 and 30 ms), and a
    dropped frame is one long step: all steady."""
    times = np.asarray(times, dtype=np.float64)
    steps = np.diff(times)
    if len(steps) < OFF_RUN:
        return FrameRate()
    median = float(np.median(steps))
    off = steps - median
    tol = max(OFF_STEP * median, 0.5 * tick)
    ones = np.ones(OFF_RUN, np.int64)
    variable = any((np.convolve((side > tol).astype(np.int64), ones, mode="valid") == OFF_RUN).any() for side in (off, -off))
    k = min(RATE_SPAN, len(steps))  # the usual rate: the median time k frames take (a tick or jitter is 1/k of it)
    span = float(np.median(times[k:] - times[:-k]))
    window = np.lib.stride_tricks.sliding_window_view(steps, min(RATE_WINDOW, len(steps))).mean(axis=1)
    return FrameRate(bool(variable), k / span if span > 0 else 0.0,
                     1 / float(window.max()) if window.max() > 0 else 0.0, 1 / float(window.min()) if window.min() > 0 else 0.0)


class Thinning:
    """Decides, frame by frame in decoding order, which frames are kept (:meth:`keep`). ``fps`` is the
    video's usual rate (:class:`FrameRate`, else the container's average; 0: not known). A steady video
    (``variable`` False) keeps every n-th frame, n from ``fps`` (frames 0, n, 2n, ...). A variable one takes n from the median of its latest
    RATE_WINDOW steps (a stretch at 30 fps: every frame; at 60: every 2nd), and its frames' times count
    too as the rate turns: a frame under EARLY / max_fps after the last kept one is not kept (30 -> 60 fps:
    no two frames 17 ms apart), one 1 / max_fps after it is (60 -> 30 fps: no 67-ms hole), --stride allowing."""

    def __init__(self, fps: float, stride: int = 1, max_fps: float = 0.0, variable: bool = False):
        self.stride, self.max_fps = stride, max_fps
        self.variable = bool(variable and max_fps)
        self.nominal = frame_step(fps, stride, max_fps)
        self._times: deque[float] = deque(maxlen=RATE_WINDOW + 1)
        self._since: int | None = None  # frames decoded since the last one kept (None: none kept yet)
        self._kept_t = 0.0  # the last kept frame's time
        self._slack = MEASURED_SLACK  # a measured stretch's rate over max_fps that is not thinned
        self._gap = 1 - TIME_SLACK  # a frame this share of 1 / max_fps after the last kept one is kept (the rate turns)
        self._fps = fps
        self._shortest = 0.0  # s: no step is counted shorter (a steady video's frame, once its times count)

    def by_time(self) -> None:
        """From now on the frames' times say which are kept, as a variable video's do: frames left out before
        they reach :meth:`keep` (a repeated picture) leave a step of time, not a frame, to count. The step's
        rate is held to ``max_fps`` as a steady video's is (a 32-fps video at 30: every 2nd frame, as before); a
        variable video's stays as it was."""
        if not self.variable:
            self.variable, self._slack, self._gap = bool(self.max_fps), AVERAGE_SLACK, 1 / AVERAGE_SLACK
            # (its frames' times in whole milliseconds, 33 and 34 ms at 30 fps, must not read as 30.3 fps)
            self._shortest = 1 / self._fps if self._fps > 0 else 0.0

    def step(self) -> int:
        """The step at the latest frame's time."""
        if not self.variable or len(self._times) < 2:
            return self.nominal
        times = list(self._times)
        steps = sorted(b - a for a, b in zip(times, times[1:]))
        median = max(steps[len(steps) // 2], self._shortest)
        return frame_step(1 / median, self.stride, self.max_fps, self._slack) if median > 0 else self.nominal

    def keep(self, t: float) -> bool:
        """Whether the next decoded frame (at ``t`` s, after every earlier one) is analysed."""
        self._times.append(t)
        if self._since is None:
            due = True
        else:
            due = self._since + 1 >= self.step()
            if self.variable:
                since_s = t - self._kept_t
                due = (due and since_s >= EARLY / self.max_fps - 1e-9) or (
                    self._since + 1 >= self.stride and since_s >= self._gap / self.max_fps - 1e-9)
        if due:
            self._since, self._kept_t = 0, t
            return True
        self._since += 1
        return False


def kept_count(times: np.ndarray, fps: float, stride: int, max_fps: float, variable: bool) -> int:
    """How many of frames at ``times`` :class:`Thinning` keeps."""
    thinning = Thinning(fps, stride, max_fps, variable)
    return sum(thinning.keep(float(t)) for t in times)


__all__ = ["FrameRate", "Thinning", "frame_rate", "frame_step", "kept_count", "RATE_WINDOW"]
