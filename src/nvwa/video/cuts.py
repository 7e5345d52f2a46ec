"""Where an edited video goes from one camera's shot to another's: a cut, or a dissolve (the one shot fading
into the other). A scene is one camera's view: across a change of camera its calibration, floor and people
mix two (a sports clip cut to another camera came out with its camera under the floor). Which shot is
then reconstructed is :func:`nvwa.tracking.shots.one_shot`'s.

Every decoded frame, analysed or not (:attr:`nvwa.video.decode.VideoFrame.glances`), is looked at as a
32x18 grey thumbnail, normalised in brightness and contrast for comparing pictures (a light switched on is
no new shot)."""

from __future__ import annotations

from collections import deque

import numpy as np


class ShotCuts:
    """A cut is one step of at least SPIKE from a frame to the next, and RATIO times the median step of the
    second before (a fast swing or someone crossing close to the lens makes steps as large, but steps of that
    size before it too), after which the picture does not come back within STAYS_S (a flash, someone passing
    in front of the lens). Measured on ours: a shot's own steps at most 0.23 (a handheld swing at 12 fps), a
    camera change 0.77-0.85 (cam03 to cam04 of one lab, taiji to juggle, Sports2D to vtest, a 2x zoom), the
    same camera 6-70 s later 0.05-0.10.

    A dissolve has no such step (0.04-0.08 a frame on ours): it is found as frames that are, each, a blend
    of two pictures SPIKE or more apart (:class:`_Dissolves`), and goes where the blend is half the one, half
    the other; the picture must not come back within STAYS_S either."""

    SPIKE = 0.45
    RATIO = 3.0
    BACK = 0.3  # a frame this near the last before the step: the picture came back, no cut
    STAYS_S = 1.0
    RECENT_S = 1.0

    def __init__(self):
        self.cuts: list[tuple[float, int]] = []  # (time, frame number) of each new shot's first frame
        self._last: np.ndarray | None = None
        self._steps: deque = deque()  # (time, step) of the second before
        self._pending: list[tuple[float, int, np.ndarray, float]] = []  # (time, number, the picture before, when
        # seen) of the changes not yet seen to stay
        self._dissolves = _Dissolves(self.SPIKE)

    def add(self, frame) -> bool:
        """Look at the frames decoded up to the next analysed one; True where one may begin another shot."""
        glances = frame.glances or ((frame.timestamp_s, frame.index, None),)
        began = False
        for t, index, small in glances:
            began |= self._look(t, index, small if small is not None else _grey(frame.image))
        return began

    def _look(self, t: float, index: int, small: np.ndarray) -> bool:
        thumb = _normalised(small)
        back = next((k for k, cut in enumerate(self._pending) if float(np.abs(thumb - cut[2]).mean()) < self.BACK), None)
        if back is not None:  # the picture came back: that change and every one since (the way back) were none
            self._pending = self._pending[:back]
        while self._pending and t - self._pending[0][3] >= self.STAYS_S:
            self.cuts.append(self._pending.pop(0)[:2])
        step = None if self._last is None else float(np.abs(thumb - self._last).mean())
        while self._steps and t - self._steps[0][0] > self.RECENT_S:
            self._steps.popleft()
        usual = float(np.median([d for _, d in self._steps])) if self._steps else 0.0
        cut = back is None and step is not None and step >= max(self.SPIKE, self.RATIO * usual)
        dissolve = self._dissolves.look(t, index, small.astype(np.float32), thumb)
        if cut:  # (a dissolve being grown ends before it)
            dissolve = self._dissolves.forget(t)
        if dissolve is not None:
            self._pending.append((*dissolve, t))
        if cut:
            self._pending.append((t, index, self._last, t))
        if step is not None:
            self._steps.append((t, step))
        self._last = thumb
        return cut or dissolve is not None

    def finish(self) -> list[tuple[float, int]]:
        """The cuts, those the video ended too soon after to see stay included (nothing came back)."""
        dissolve = self._dissolves.finish()
        self.cuts.extend(cut[:2] for cut in self._pending + ([dissolve] if dissolve is not None else []))
        self._pending = []
        return sorted(self.cuts)


class _Dissolves:
    """A dissolve from one shot to another: the frames between two pictures SPIKE or more apart (normalised,
    as a cut's step) are each a blend of the two, ``(1 - a) first + a last`` in grey levels, with ``a`` rising
    from under 0.3 to over 0.7, each frame within BLEND of the two pictures' difference from its blend, and no
    step a cut's. Looked for over spans of SPANS_S ending at each frame; once a span is found, it is grown
    frame by frame while it stays a blend (a dissolve is found before it ends), and the change is put at its
    first frame over half the new picture, once it has stopped growing for SETTLE_S.

    Measured on dissolves made with FFmpeg's xfade (0.5-2 s; Sports2D to vtest, taiji to juggle, the lab's
    cam03 to cam04, a handheld clip to another, a fade through black) and on our nine single-shot clips: the
    dissolves' frames are within 0.01-0.25 of their blend, each found once, 0.02-0.07 s from its middle (a
    fade through black as the first picture fades out, 0.1 s in); the single-shot clips' most blend-like spans
    between pictures that far apart (a handheld swing) are 0.42-0.46 off, and none is found, at any stride."""

    BLEND = 0.25
    SPANS_S = (0.3, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8)
    SETTLE_S = 0.5
    LONGEST_S = 3.5  # a span grown past this is taken as it is (a still picture after the dissolve blends forever)

    def __init__(self, spike: float):
        self.spike = spike
        self._frames: deque = deque()  # (time, number, grey, normalised) of the last LONGEST_S
        self._found: dict | None = None  # the span being grown: its first frame's time, the change's frame, its end
        self._after = -np.inf  # no span begins before this (the end of the last one found)

    def forget(self, t: float) -> tuple | None:
        """A cut at ``t``: no span reaches back over it. The span being grown, as a change, or None."""
        change = self.finish()
        self._after = t
        return change

    def look(self, t: float, index: int, grey: np.ndarray, thumb: np.ndarray) -> tuple | None:
        """(time, number, the picture before) of a dissolve's change, when one is found and has stopped growing."""
        self._frames.append((t, index, grey, thumb))
        while t - self._frames[0][0] > self.LONGEST_S + 0.1:
            self._frames.popleft()
        times = np.array([f[0] for f in self._frames])
        if self._found is not None:
            first = int(np.searchsorted(times, self._found["from"]))
            change = self._blend(first, len(times) - 1) if first < len(times) else None
            if change is not None and t - self._found["from"] <= self.LONGEST_S:
                self._found.update(change=change, end=t)
            elif t - self._found["end"] > self.SETTLE_S or t - self._found["from"] > self.LONGEST_S:
                return self.finish()
            return None
        tried = set()
        for span in self.SPANS_S:
            first = int(np.argmin(np.abs(times - (t - span))))
            if first in tried or times[first] < self._after:
                continue
            tried.add(first)
            change = self._blend(first, len(times) - 1)
            if change is not None:
                self._found = {"from": times[first], "change": change, "end": t}
                return None
        return None

    def finish(self) -> tuple | None:
        """The span being grown, as a change (time, number, the picture before), or None."""
        if self._found is None:
            return None
        found, self._found, self._after = self._found, None, self._found["end"]
        return found["change"]

    def _blend(self, first: int, last: int) -> tuple | None:
        """(time, number, the picture before) of the first frame over half the last one where the frames
        first..last are a dissolve, else None."""
        if last - first < 4:  # at least three frames between
            return None
        frames = [self._frames[k] for k in range(first, last + 1)]
        a, b = frames[0], frames[-1]
        if float(np.abs(b[3] - a[3]).mean()) < self.spike:
            return None
        between = np.stack([f[2] for f in frames[1:-1]])
        d = b[2] - a[2]
        share = ((between - a[2]) * d).sum(axis=(1, 2)) / float((d * d).sum())
        off = np.abs(between - (a[2] + np.clip(share, 0, 1)[:, None, None] * d)).mean(axis=(1, 2)) / float(np.abs(d).mean())
        steps = [float(np.abs(g[3] - f[3]).mean()) for f, g in zip(frames, frames[1:])]
        if off.max() >= self.BLEND or share.min() >= 0.3 or share.max() <= 0.7 or np.diff(share).min() <= -0.1 \
                or max(steps) >= self.spike:
            return None
        change = frames[1 + int(np.argmax(share >= 0.5))]
        return change[0], change[1], a[3]


def _grey(image: np.ndarray) -> np.ndarray:
    """An RGB frame as :func:`nvwa.video.shown.glance` sees a decoded one: 32x18 grey."""
    import cv2

    return cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (32, 18), interpolation=cv2.INTER_AREA)


def _normalised(small: np.ndarray) -> np.ndarray:
    small = small.astype(np.float32)
    return (small - small.mean()) / (small.std() + 8.0)


__all__ = ["ShotCuts"]
