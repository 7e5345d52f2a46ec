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

    A change is also a change of what the picture shows, not only of its light: each 8x6 block of the
    thumbnail normalised on its own must differ by SHAPE or more (light coming on over part of the view
    changes the normalised picture as much as a camera change; its blocks' own patterns hardly: 0.04-0.05,
    a camera change 0.77). A frame darker than FLAT (black, the bottom of a fade) shows nothing and is
    passed over: a cut or a fade through black is the picture before the dark (this shot's last well-lit
    one) against the first well-lit (LIT) one after, or against a dim one once it has been there DARK_S (the
    change then at its first frame); black before the first picture or after the last is no change.

    A dissolve has no such step (0.04-0.08 a frame on ours): it is found as frames that are, each, a blend
    of two pictures SPIKE or more apart (:class:`_Dissolves`), and goes where the blend is half the one, half
    the other; the picture must not come back within STAYS_S of its end either."""

    SPIKE = 0.45
    RATIO = 3.0
    BACK = 0.3  # a frame this near the last before the step: the picture came back, no cut
    STAYS_S = 1.0
    RECENT_S = 1.0
    SHAPE = 0.5  # blocks' own patterns this far apart, at least, for a change of camera
    FLAT = 6.0  # a thumbnail's grey levels spread less than this: dark, nothing shown
    LIT = 16.0  # ... more than this: well lit (the ends of a dissolve, the pictures either side of a fade)
    DARK_S = 2.0  # a fade from the dark to a well-lit picture takes at most this: a dim one there so long is a shot

    def __init__(self):
        self.cuts: list[tuple[float, int]] = []  # (time, frame number) of each new shot's first frame
        self._last: tuple | None = None  # (normalised, blocks) of the last frame not dark
        self._lit: tuple | None = None  # ... of this shot's last well-lit frame
        self._dark, self._dark_at = False, -np.inf  # in the dark, or after it and not yet settled; its last frame's time
        self._before: tuple | None = None  # the picture before the dark (this shot's last well-lit, else its last)
        self._after_dark: tuple | None = None  # (time, number) of the first frame not dark after it
        self._steps: deque = deque()  # (time, step) of the second before
        self.mixed: list[tuple[int, int]] = []  # (first, last) frame numbers of each dissolve's frames that mix two shots
        self._pending: list[tuple] = []  # (time, number, the picture before, when seen, the frames mixed or None) of
        # the changes not yet seen to stay
        self._dissolves = _Dissolves(self)

    def add(self, frame) -> bool:
        """Look at the frames decoded up to the next analysed one; True where one may begin another shot."""
        glances = frame.glances or ((frame.timestamp_s, frame.index, None),)
        began = False
        for t, index, small in glances:
            began |= self._look(t, index, small if small is not None else _grey(frame.image))
        return began

    def apart(self, a: tuple, b: tuple) -> bool:
        """Two frames' (normalised, blocks) far enough apart to be two cameras' pictures."""
        return float(np.abs(a[0] - b[0]).mean()) >= self.SPIKE and float(np.abs(a[1] - b[1]).mean()) >= self.SHAPE

    def _look(self, t: float, index: int, small: np.ndarray) -> bool:
        grey = small.astype(np.float32)
        spread = float(grey.std())
        if spread < self.FLAT:  # dark: nothing to compare
            if not self._dark:
                self._before, self._after_dark = self._lit or self._last, None
            self._dark, self._dark_at = True, t
            return False
        look = (_normalised(grey), _blocks(grey))
        lit = spread >= self.LIT
        through = None  # after the dark: the picture before it against this one, once this one is settled
        if self._dark:
            self._after_dark = self._after_dark or (t, index)
            if self._before is None or not self.apart(look, self._before):
                self._dark = False  # nothing before the dark (a fade in at the start), or its picture is back
            elif lit or t - self._dark_at > self.DARK_S:  # well lit, or dim for DARK_S: another shot
                through, self._dark = (t, index) if lit else self._after_dark, False
        back = next((k for k, cut in enumerate(self._pending) if float(np.abs(look[0] - cut[2]).mean()) < self.BACK), None)
        if back is not None:  # the picture came back: that change and every one since (the way back) were none
            self._pending = self._pending[:back]
        while self._pending and t - self._pending[0][3] >= self.STAYS_S:
            self._keep(self._pending.pop(0))
        step = None if self._last is None else float(np.abs(look[0] - self._last[0]).mean())
        while self._steps and t - self._steps[0][0] > self.RECENT_S:
            self._steps.popleft()
        usual = float(np.median([d for _, d in self._steps])) if self._steps else 0.0
        cut = not self._dark and through is None and back is None and step is not None and step >= self.RATIO * usual \
            and self.apart(look, self._last)
        cut = cut or (through is not None and back is None)
        dissolve = self._dissolves.look(t, index, grey, look, lit, step)
        if cut:  # (a dissolve being grown ends before it)
            dissolve = self._dissolves.forget(t) or dissolve
        if dissolve is not None:
            self._pending.append(dissolve)
        if cut:
            self._pending.append((*(through or (t, index)), (self._before if through else self._last)[0], t, None))
        if cut or dissolve is not None:
            self._lit = None  # (this shot's own last well-lit picture from now on)
        if step is not None:
            self._steps.append((t, step))
        self._last = look
        if lit and not self._dark:
            self._lit = look
        return cut or dissolve is not None

    def finish(self) -> list[tuple[float, int]]:
        """The cuts, those the video ended too soon after to see stay included (nothing came back)."""
        dissolve = self._dissolves.finish()
        for change in self._pending + ([dissolve] if dissolve is not None else []):
            self._keep(change)
        self._pending = []
        return sorted(self.cuts)

    def _keep(self, change: tuple) -> None:
        self.cuts.append(change[:2])
        if change[4] is not None:
            self.mixed.append(change[4])


class _Dissolves:
    """A dissolve from one shot to another: the frames between two well-lit pictures a change apart
    (:meth:`ShotCuts.apart`) are each a blend of the two, ``(1 - a) first + a last`` in grey levels, with
    ``a`` rising from under 0.3 to over 0.7, each frame within BLEND of the two pictures' difference from its
    blend, and no step a cut's. Looked for over spans of SPANS_S ending at each frame; once a span is found,
    it is grown frame by frame while it stays a blend (a dissolve is found before it ends), and the change is
    put at its first frame over half the new picture, once the blend has been all the new picture for
    SETTLE_S. A fade to or from black is no dissolve (its dark end is no picture): :class:`ShotCuts` compares
    the pictures either side of the dark.

    Measured on dissolves made with FFmpeg's xfade (0.5-2 s; Sports2D to vtest, taiji to juggle, the lab's
    cam03 to cam04, a handheld clip to another) and on our nine single-shot clips: the dissolves' frames
    are within 0.01-0.25 of their blend, each found once, 0-0.07 s from its middle; the single-shot
    clips' most blend-like spans between pictures that far apart (a handheld swing) are 0.42-0.46 off, and
    none is found, at any stride."""

    BLEND = 0.25
    SPANS_S = (0.3, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8)
    SETTLE_S = 0.5
    ALL_NEW = 0.9  # the blend's share of the new picture from which the dissolve is over
    LONGEST_S = 10.0  # a span grown this long is taken as it is

    def __init__(self, cuts: ShotCuts):
        self.cuts = cuts
        self._frames: deque = deque()  # (time, number, grey, (normalised, blocks), well lit, step from the one before)
        self._found: dict | None = None  # the span being grown: its first frame's time, the change, when it ended
        self._after = -np.inf  # no span begins before this (the end of the last one found, a cut)

    def forget(self, t: float) -> tuple | None:
        """A cut at ``t``: no span reaches back over it. The span being grown, as a change, or None."""
        change = self.finish()
        self._after = t
        return change

    def look(self, t: float, index: int, grey: np.ndarray, look: tuple, lit: bool, step: float | None) -> tuple | None:
        """A dissolve's change (time, number, the picture before, when it ended, the frames mixed), once found
        and settled."""
        self._frames.append((t, index, grey, look, lit, step or 0.0))
        while t - self._frames[0][0] > max(self.SPANS_S) + self.SETTLE_S + 0.1 and \
                (self._found is None or self._frames[0][0] < self._found["from"]):  # (a span being grown kept whole)
            self._frames.popleft()
        times = np.fromiter((f[0] for f in self._frames), float, len(self._frames))
        if self._found is not None:
            first = int(np.searchsorted(times, self._found["from"]))
            grown = self._blend(first, len(times) - 1) if first < len(times) else None
            if grown is not None:
                self._found.update(change=grown[0], ended=grown[1])
            if t - self._found["ended"] > self.SETTLE_S or (grown is None and t - self._found["seen"] > self.SETTLE_S) \
                    or t - self._found["from"] > self.LONGEST_S:
                return self.finish()
            if grown is not None:
                self._found["seen"] = t
            return None
        tried = set()
        for span in self.SPANS_S:
            first = int(np.argmin(np.abs(times - (t - span))))
            if first in tried or times[first] < self._after:
                continue
            tried.add(first)
            found = self._blend(first, len(times) - 1)
            if found is not None:
                self._found = {"from": times[first], "change": found[0], "ended": found[1], "seen": t}
                return None
        return None

    def finish(self) -> tuple | None:
        """The span being grown, as a change (time, number, the picture before, when it ended, the first and last
        frame numbers mixing the two shots), or None."""
        if self._found is None:
            return None
        found, self._found = self._found, None
        self._after = found["seen"]
        return (*found["change"][:3], found["ended"], found["change"][3])

    def _blend(self, first: int, last: int) -> tuple | None:
        """((time, number, the picture before, (first, last) numbers of the frames mixed) of the first frame over
        half the last one, when the blend became all the last one) where the frames first..last are a
        dissolve, else None."""
        if last - first < 4:  # at least three frames between
            return None
        a, b = self._frames[first], self._frames[last]
        if not (a[4] and b[4]) or not self.cuts.apart(a[3], b[3]):
            return None
        frames = [self._frames[k] for k in range(first + 1, last)]
        between = np.stack([f[2] for f in frames])
        d = b[2] - a[2]
        share = ((between - a[2]) * d).sum(axis=(1, 2)) / float((d * d).sum())
        if share.min() >= 0.3 or share.max() <= 0.7 or np.diff(share).min() <= -0.1:
            return None
        off = np.abs(between - (a[2] + np.clip(share, 0, 1)[:, None, None] * d)).mean(axis=(1, 2)) / float(np.abs(d).mean())
        if off.max() >= self.BLEND or max(f[5] for f in [*frames, b]) >= self.cuts.SPIKE:
            return None
        change = frames[int(np.argmax(share >= 0.5))]
        blending = [f[0] for f, s in zip(frames, share) if s < self.ALL_NEW]
        mixed = [f[1] for f, s in zip(frames, share) if 1 - self.ALL_NEW < s < self.ALL_NEW]  # (frames[k][1]: its number)
        return (change[0], change[1], a[3][0], (mixed[0], mixed[-1]) if mixed else None), (blending[-1] if blending else a[0])


def _grey(image: np.ndarray) -> np.ndarray:
    """An RGB frame as :func:`nvwa.video.shown.glance` sees a decoded one: 32x18 grey."""
    import cv2

    return cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (32, 18), interpolation=cv2.INTER_AREA)


def _normalised(small: np.ndarray) -> np.ndarray:
    small = small.astype(np.float32)
    return (small - small.mean()) / (small.std() + 8.0)


def _blocks(small: np.ndarray) -> np.ndarray:
    """The 32x18 thumbnail's twelve 8x6 blocks, each normalised in brightness and contrast on its own: what
    the picture shows, whatever light falls on each part of it."""
    blocks = small.reshape(3, 6, 4, 8).transpose(0, 2, 1, 3).reshape(12, 48)
    return (blocks - blocks.mean(axis=1, keepdims=True)) / (blocks.std(axis=1, keepdims=True) + 4.0)


__all__ = ["ShotCuts"]
