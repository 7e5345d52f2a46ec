"""Frames that repeat the picture before them, told apart from new ones, so that no picture is analysed twice.

A 24- or 25-fps film stored at 30 shows every 4th or 5th picture twice; a 30-fps video cut into a 60-fps
timeline, each picture twice; a screen recording of a video or a game shows a picture again wherever the
screen was not redrawn in time; a webcam fills the frames it dropped with the last one. Analysed as they
come, such a frame costs a whole frame's models, and it puts everyone back where they were a frame earlier
at a later time: their motion stutters (stands still, then jumps twice as far), which the smoothing and the
foot contacts read as motion.

A frame repeats the picture before it where, at full size up to about 2 megapixels (1080p; a 4K frame's every
2nd pixel), no 4x4 block of its brightness differs from the last new picture's by 12.5 grey levels or more on
average: a codec's noise is spread thin, a moving edge is not. An edge one pixel on differs by a quarter of
its contrast there, so one of 50 grey levels or more is seen at once (at 4K, two pixels on), a fainter one
once it has moved further; a person at 1080p moves a pixel a frame walking some 70 m away. x264 at CRF 18
re-encoding a picture shown again differed by 12 at most (Sports2D's and cam03's copies: all 323 found); at
CRF 23 by up to 20, at CRF 28 by 34. Where the scene moves, its new pictures differ by far more (70 and up where
people move), so there a frame is a repeat under a quarter of the median difference of the last half-second's
new pictures (6 at least), up to LOOSE_GREY (36): a 24-in-30 Sports2D at CRF 28 has 44 of its 46 repeats found (19 at REPEAT_GREY alone), and
no new picture of copies without repeats at CRF 28 or 35 is taken for one. In a still scene the rule stays
REPEAT_GREY: it would rather analyse a repeat than miss a move. Every frame of the shared clips where people move differs by 70 or more (cam04's slowest; vtest's
117); only taiji's stillest moments differ less (4 and up: 15 of its 412 frames, its first and where it moves
slowest, are taken for repeats). An HDR frame is compared in its 10-bit codes' top 8 bits, which squeeze an SDR screen's contrast 2-4x
(taiji mapped to PQ had 29 frames taken for repeats, against 21, at half a megapixel). A repeat is not analysed: the
picture's own time is its first showing. A picture held longer than ``HOLD_S`` (a still scene where nothing
moves at all, a stalled screen recording) is analysed again every ``HOLD_S``, so a person standing still is
not left unseen.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from nvwa.video.shown import luma

REPEAT_GREY = 12.5  # a 4x4 block's mean difference (grey levels of 255; the means come rounded) from which it has changed
BLOCK = 4  # pixels (of the sampled brightness) a block's side
LOOK_PIXELS = 2_100_000  # pixels of brightness compared: every n-th pixel both ways, n the smallest that brings it under
# (0.7 ms a 1080p frame; every 2nd of a 4K frame's, 1.5-2.4 ms; a frame stored as RGB is converted first: ~10 ms at 4K)
HOLD_S = 0.25  # a picture shown this long is analysed again (a still scene), as if new
# Where the pictures change a lot (a moving scene), a frame that differs far less than they do is a repeat
# re-encoded coarsely: under LOOSE_GREY, and under MOVING_SHARE of the median difference of the new pictures of
# the last MOVING_S, where at least MOVING_PICTURES were (x264 at CRF 28 re-encoding a picture shown again differed
# by up to 34 where the scene's pictures differed by 70 or more; at CRF 18 by 12 at most). Once the scene slows,
# its new pictures differ less than the rule lets through and none are counted: within MOVING_S the rule is
# REPEAT_GREY again (a walk stopping to wave: its first half-second's small moves are missed, the hold aside)
LOOSE_GREY = 36.0
MOVING_SHARE = 0.25
MOVING_PICTURES = 6
MOVING_S = 0.5


class Repeats:
    """Decides, frame by frame in decoding order, whether a frame repeats the last new picture (:meth:`repeated`)."""

    def __init__(self) -> None:
        self._last: np.ndarray | None = None  # the last new picture's brightness, sampled
        self._last_t = -math.inf  # its time
        self.held = False  # whether the last frame called new was the same picture, held HOLD_S (a still scene)
        self._changes: deque[tuple[float, float]] = deque()  # (time, how much it differed) of the latest new pictures

    def repeated(self, frame, t: float) -> bool:
        """Whether the decoded ``frame`` (PyAV's, at ``t`` s, after every earlier one) shows the last new picture
        again, held less than HOLD_S."""
        import cv2

        grey = sampled(frame)
        last = self._last
        same = False
        if last is not None and last.shape == grey.shape:
            diff = cv2.absdiff(grey, last)
            h, w = (n - n % BLOCK for n in diff.shape)  # (whole blocks: an area resize by a whole factor is fast)
            blocks = cv2.resize(diff[:h, :w], (w // BLOCK, h // BLOCK), interpolation=cv2.INTER_AREA) if h and w else diff
            change = float(blocks.max())
            same = change < max(REPEAT_GREY, self.loose(t))
            if same and t - self._last_t < HOLD_S - 1e-9:
                return True
            if not same:
                self._changes.append((t, change))
        self._last, self._last_t, self.held = grey, t, same
        return False

    def loose(self, t: float) -> float:
        """The difference under which a frame at ``t`` s is a repeat where the scene moves: 0 where fewer than
        MOVING_PICTURES new pictures came in the MOVING_S before it (and where they differ little, under
        REPEAT_GREY as everywhere)."""
        while self._changes and self._changes[0][0] < t - MOVING_S - 1e-9:
            self._changes.popleft()
        if len(self._changes) < MOVING_PICTURES:
            return 0.0
        return min(LOOSE_GREY, MOVING_SHARE * float(np.median([change for _, change in self._changes])))


def sampled(frame) -> np.ndarray:
    """``frame``'s brightness (uint8, as stored), every n-th pixel both ways: at most LOOK_PIXELS of them."""
    n = max(1, math.ceil(math.sqrt(frame.width * frame.height / LOOK_PIXELS)))
    return np.array(luma(frame, n), copy=True)  # (its own: not a view that holds the decoder's frame)


def analysed_count(done: int, yielded: int, looked: int, frame_count: int, cap: int = 0) -> int:
    """The frames a run whose repeats are not analysed will analyse, as the share so far says (``yielded`` of the
    ``looked`` frames, of ``frame_count`` to look at; at most ``cap`` where given), at least the ``done``; 0 (not
    known) where ``done`` is well past it (an index that lists too few frames)."""
    guess = min(round(yielded / looked * frame_count), cap or frame_count) if looked else 0
    return max(done, guess) if done <= 1.05 * guess + 2 else 0


def repeats_note(repeated: int, held: int, looked: int, seconds: float) -> str:
    """What the summary says of a video ``repeated`` of whose ``looked`` frames (over ``seconds`` played, the
    first to the last) repeat the picture before them and ``held`` were looked at again only as a picture held
    HOLD_S: how many, and how often its pictures change."""
    changed = looked - repeated - held
    span = seconds * looked / (looked - 1) if looked > 1 else 0.0  # (each frame's share of the time: 60 at 30 fps, 2 s)
    rate = f"; its pictures change {changed / span:.3g} times a second" if span > 0 else ""
    return (f"{repeated} of {looked} frames show the picture before them again (a film stored at a faster rate, a screen "
            f"recording, a still scene){rate}: each picture is analysed at most once, at its first showing, and one held "
            f"still again every {HOLD_S:g} s (--repeated-frames keep analyses every frame)")


__all__ = ["HOLD_S", "Repeats", "analysed_count", "repeats_note", "sampled"]
