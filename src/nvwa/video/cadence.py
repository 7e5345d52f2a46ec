"""A film stored at a faster rate, timed as it was filmed.

A 24-fps film stored at 30 shows its pictures at 0, 1, 2, 3, 5, 6, 7, 8, 10, ... thirtieths of a second: each
picture's first showing is up to 25 ms after the moment it pictures (0, 8, 17, 25 ms late, four pictures over,
then again). Timed at their first showings, as :mod:`nvwa.video.repeats` leaves them, people move 1.25 times
too fast three pictures in four and 0.6 times as fast the fourth: a stutter six times a second, which a slow
replay shows and the smoothing and the foot contacts take for motion. 20 pictures a second in 30 fps move 1.5
and 0.75 times as fast by turns; 24 in 60 (the 2:3 pulldown) is up to 8 ms late.

A steady cadence's pictures are an even step apart, ``c`` frames (not a whole number), and each is first shown
at the first frame at or after its moment: picture k at frame ``f_k = ceil(a + k c)``. Where a run of analysed
frames (numbered by the decoder, so a Matroska file's whole-millisecond times do not blur them) fits such a
line (``f_k - k c`` spread over less than one frame) with a simple step (:data:`SIMPLE`), over at least MIN_S
with at least MIN_STEPS steps of each length, each of its pictures is timed on the line, ``a`` the latest that
fits: no picture is timed after its first showing, at least one at it, the others up to a frame before it. Where
that would put the video's first picture before its first frame (a clip cut from a film mid-cadence), the run
is timed from that frame on instead, its steps still even. A time is never moved to or before the frame's
before it (it keeps its first showing). A recorder that drops a frame here and there seldom fits such a line
(its repeats are not evenly spread), nor do a variable-rate video's frames (off a steady frame grid): their
first showings are their moments, and they are left as they are. Neither is the step looked for across a cut
or a picture looked at again only because it was held (:data:`nvwa.video.repeats.HOLD_S`): each breaks the
line. A recorder that drops nearly every 5th frame (4-6 apart) is taken for a film in 39 of 100 10-s clips:
its pictures move by up to a frame, as a film's would.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nvwa.observations import Observations

MIN_S = 1.5  # a cadence is looked for over runs of at least this long (random drops fit 1-s lines now and then)
MIN_STEPS = 6  # steps of each length (the short and the long) a run must take
GRID = 0.05  # of a frame: analysed frames' times further off the steady frame grid break the run
SIMPLE = 12  # a cadence's step, in frames: a whole number and a fraction of at most this denominator (24 in 30:
# 1 1/4; 20 in 30: 1 1/2; 24 in 60: 2 1/2; 45 in 60: 1 1/3), or 1.001 times one or one over 1.001 (NTSC's 23.976
# in 30, 30 in 29.97); a step no such fraction gives (29 in 30) is not looked for: random drops fit lines of
# arbitrary steps now and then, lines of these hardly ever
STEPS = np.unique([j / q for q in range(2, SIMPLE + 1) for j in range(1, q)])  # (the fractions between 0 and 1)
TICK_S = 0.001  # s: a time base's rounding, allowed beside GRID (a Matroska file's times are whole milliseconds)


@dataclass(frozen=True)
class Cadence:
    """A run of pictures an even step apart: analysed frames ``first``..``last`` (decoded-frame indices)."""

    first: int
    last: int
    start_s: float  # its first picture's time
    end_s: float  # its last one's (as first shown)
    pictures_per_s: float  # analysed, on the scene's clock (a slow motion's: the moment's)
    earliest_ms: float  # the most a picture was timed before its first showing


def even_times(frame_index: np.ndarray, timestamp_s: np.ndarray) -> tuple[np.ndarray, list[Cadence]]:
    """The analysed frames' times (``frame_index`` increasing, their times ``timestamp_s``), each steady
    cadence's pictures timed an even step apart (see the module's docstring), and those cadences. No time is
    moved before the first one (a run that would be is timed from it on), nor to or before the frame's before it
    (it keeps its first showing)."""
    f = np.asarray(frame_index, np.int64)
    t = np.asarray(timestamp_s, np.float64)
    out = t.copy()
    if len(f) < 3 or not np.isfinite(t).all():
        return out, []
    df, dt = np.diff(f), np.diff(t)
    ok = (df > 0) & (dt > 0)
    if not ok.any():
        return out, []
    d = float(np.median(dt[ok] / df[ok]))
    near = ok & (np.abs(dt - df * d) < 0.1 * df * d)
    if not d > 0 or not near.any():
        return out, []
    d = float(dt[near].sum() / df[near].sum())  # a frame's seconds (the mean over steady steps: a time base's rounding evens out)
    gridded = ok & (np.abs(dt - df * d) < GRID * d + TICK_S)
    cadences = []
    breaks = [0, *(np.flatnonzero(~gridded) + 1), len(f)]
    for i, j in itertools.pairwise(breaks):
        for a, b, c, lead in _lines(f[i:j] - f[i], d):
            a, b = a + i, b + i
            step = (t[b - 1] - t[a]) / (f[b - 1] - f[a])  # (this run's own frame, in seconds)
            out[a:b] = t[a:b] - lead * step
            if out[a] < t[0]:  # (the video's first picture, from before its first frame: the run moved on to it, steps even)
                out[a:b] += t[0] - out[a]
            cadences.append(Cadence(int(f[a]), int(f[b - 1]), float(t[a]), float(t[b - 1]), 1 / (c * step),
                                    round(1000 * max(0.0, float(np.max(t[a:b] - out[a:b]))), 1)))
    for k in range(1, len(out)):  # (a run's first picture moved to or past the frame before it: at its first showing)
        if out[k] <= out[k - 1]:
            out[k] = t[k]
    return out, cadences


def _lines(n: np.ndarray, d: float) -> list[tuple[int, int, float, np.ndarray]]:
    """The runs ``a:b`` of frame numbers ``n`` (increasing, whole frames; ``d`` s each) that fit a cadence, with
    its step ``c`` (frames) and each picture's lead (frames before its first showing): from the first frame on,
    the longest run that fits a line, then the longest from the first frame that did not fit, and so on. (Part
    of a line is a line: the longest is found by halving.)"""
    found, a = [], 0
    while len(n) - a >= 3:
        good, bad = 2, len(n) - a + 1  # (lengths from a: a run of 2 fits; one past the end, none)
        size = 4
        while size < bad and _line(n[a:a + size]) is not None:
            good, size = size, 2 * size
        bad = min(bad, size)
        while bad - good > 1:  # (the longest that fits, between)
            mid = (good + bad) // 2
            good, bad = (mid, bad) if _line(n[a:a + mid]) is not None else (good, mid)
        b = a + good
        c, lead = _line(n[a:b])
        steps = np.diff(n[a:b])
        m = int(np.floor(c))
        if ((n[b - 1] - n[a]) * d >= MIN_S - 1e-9 and abs(c - round(c)) > 1e-9
                and min(int(np.sum(steps == m)), int(np.sum(steps == m + 1))) >= MIN_STEPS):
            found.append((a, b, c, lead))
        a = b  # (good >= 2: on)
    return found


def _line(n: np.ndarray) -> tuple[float, np.ndarray] | None:
    """Frame numbers ``n`` on one line, ``ceil(a + k c)``, whose step ``c`` is a simple fraction of frames
    (:data:`STEPS`: 24 in 30 is exactly 5/4): that step (of those that fit, the one the frames spread least
    about) and each frame's lead (``n_k - a - k c``); None where there is none. Frames an even whole number
    apart are a line of that step (no lead)."""
    steps = np.diff(n)
    if len(n) < 2 or steps.min() == steps.max():
        return (float(steps[0]) if len(n) > 1 else 1.0), np.zeros(len(n))
    m = int(steps.min())
    if steps.max() > m + 1:  # (a line's steps are two whole numbers of frames next to each other)
        return None
    k = np.arange(len(n), dtype=np.float64)
    c = np.r_[m + STEPS, (m + np.r_[0, STEPS]) * 1.001, (m + np.r_[STEPS, 1]) / 1.001]
    c = c[(c > m) & (c < m + 1)]
    r = n[None, :] - np.multiply.outer(c, k)
    spread = r.max(axis=1) - r.min(axis=1)
    if not (spread < 1 - 1e-9).any():
        return None
    best = int(np.argmin(spread))
    return float(c[best]), r[best] - r[best].min()


def evenly_timed(obs: Observations) -> tuple[Observations, str]:
    """``obs`` with each steady cadence's pictures timed an even step apart (:func:`even_times` over every analysed
    frame: the background's track's, and the people's), the people's and the track's times alike, and the
    summary's note on it (:func:`cadence_note`); ``obs`` and "" where no frame moves."""
    track = obs.camera_track
    frames = [np.asarray(p.frame_index, np.int64) for p in obs.people]
    times = [np.asarray(p.timestamp_s, np.float64) for p in obs.people]
    if track is not None:
        frames.append(np.asarray(track.frame_index, np.int64))
        times.append(np.asarray(track.timestamp_s, np.float64))
    if not frames:
        return obs, ""
    analysed, first = np.unique(np.concatenate(frames), return_index=True)
    moved, cadences = even_times(analysed, np.concatenate(times)[first])
    if not cadences:
        return obs, ""

    def at(n: np.ndarray) -> np.ndarray:
        return moved[np.searchsorted(analysed, n)]

    people = tuple(replace(p, timestamp_s=at(np.asarray(p.frame_index, np.int64))) for p in obs.people)
    track = None if track is None else replace(track, timestamp_s=at(np.asarray(track.frame_index, np.int64)))
    return replace(obs, people=people, camera_track=track), cadence_note(cadences)


def cadence_note(cadences: list[Cadence]) -> str:
    """What the summary says of the ``cadences`` found: how many pictures a second were analysed (a film of 24
    at --stride 2: 12), over how long and from when, and how much earlier than their first showing they were
    timed at most."""
    if not cadences:
        return ""
    rates = sorted({f"{c.pictures_per_s:.3g}" for c in cadences}, key=float)
    span = sum(c.end_s - c.start_s for c in cadences)
    return (f"a film stored at a faster rate, its pictures analysed {' and '.join(rates)} times a second ({span:.3g} s of "
            f"it, from {cadences[0].start_s:.3g} s): timed an even step apart, as filmed, each up to "
            f"{max(c.earliest_ms for c in cadences):.3g} ms before its first showing (--film-cadence shown times each "
            f"at its first showing)")


__all__ = ["MIN_S", "Cadence", "cadence_note", "even_times", "evenly_timed"]
