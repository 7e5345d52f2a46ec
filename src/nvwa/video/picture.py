"""The picture inside a frame with borders: a film letterboxed in a 16:9 frame (black bars above and below), a 4:3
or a phone's portrait video pillarboxed in a landscape one (black bars at the sides, or its own picture enlarged
and blurred there, as news and social media show a phone's video). The borders are not the scene: the camera's
focal length is guessed from the picture's size and its straight edges, and with the borders in, a phone's
portrait clip in a 1920x1080 frame came out with its focal 36-76% long and its camera 6-9% high (README). So
the borders are found on a few frames spread over the video and cut off before anything looks at the frames.

A border is taken where, on every frame looked at, it is black (at most grey level 32, one level all over, the
same on both sides), or where it is a blurred fill (at the left and right of a landscape frame round a picture
taller than wide, or above and below in a portrait frame round one wider than tall): under a third of the
picture's sharpness, the picture's sharpness beginning at once where it ends, and the picture itself enlarged
to cover the frame (a sky above and sand below, or a long lens's blurred scenery, are not).
Borders must be about as wide on both sides (a film's bars are; a night sky above a dark street is not), and at
least 2% of the frame. Their edges are then found to the pixel on a few of the frames at their own size (a
sliver of black bar left in is a straight edge the frame long, which the calibration takes for the scene's).
"""

from __future__ import annotations

import numpy as np

SAMPLES = 8  # frames looked at, spread over the video
WIDTH = 480  # px: the frames are looked at this wide
BLACK = 32  # grey level: a border darker than this on every frame looked at is black
FLAT = 0.5  # mean grey step between neighbouring pixels: black bars' is ~0
BLURRED = 0.3  # of the picture's sharpness: sides as smooth as this are a blurred fill
MIN_SHARE = 0.02  # of the frame: a border narrower than this is left alone
SAME = 0.02  # of the frame: how much the two sides' borders may differ
UNEVEN = 12  # grey levels: a black bar's greys vary over it by less (compression's noise), and its two sides alike
MIN_DISTINCT = 3  # different frames needed to judge (a 1-s title card round a logo is not the video's picture)
ENLARGED = 0.6  # correlation: a portrait frame's blurred top and bottom must be its picture enlarged, this alike
FULL = 3  # frames looked at again at their own size, for the borders' edges to the pixel
DECODE_BUDGET = 60 * 1920 * 1080  # px decoded, at most, where seeking found too few frames (60 1080p frames)


def picture_borders(path, info, start_s: float = 0.0, end_s: float | None = None) -> tuple[int, int, int, int]:
    """(left, top, right, bottom): the px of the shown frame (``info``'s size, turned as it asks) that are border,
    judged on SAMPLES frames spread from ``start_s`` to ``end_s`` (the video's end) and each edge found to the
    pixel on up to FULL of them at the frame's own size; zeros where there are none, or fewer than MIN_DISTINCT
    different frames could be read (a title card alone would pass for the video)."""
    greys, full = _samples(path, info, start_s, end_s)
    if len(greys) < MIN_DISTINCT:
        return (0, 0, 0, 0)
    (left, top, right, bottom), blurred = _border_of(greys)
    if not any((left, top, right, bottom)):
        return (0, 0, 0, 0)
    g = np.stack(full).astype(np.float32)
    sx, sy = info.width / greys[0].shape[1], info.height / greys[0].shape[0]
    left, right = _exact(g, left, right, sx, axis=2, blurred=blurred == "sides")
    top, bottom = _exact(g, top, bottom, sy, axis=1, blurred=blurred == "ends")
    return left, top, right, bottom


def _exact(g: np.ndarray, lead: int, trail: int, scale: float, axis: int, blurred: bool) -> tuple[int, int]:
    """Borders found on the looked-at frames (``lead``, ``trail`` px of them, ``scale`` frame px each) to the
    frame's own pixel: each runs on while the lines (columns for ``axis`` 2, rows for 1) of the frames ``g`` at
    their own size are still border, from the looked-at edge's first pixel; the far side of it where none is."""
    if not lead:
        return 0, 0
    n = g.shape[axis]
    if blurred:  # each line's sharpness (across it) against the picture's middle
        along = 1 if axis == 2 else 2
        sharp = np.abs(np.diff(g, axis=along)).mean(axis=(0, along))
        border = sharp <= BLURRED * np.median(sharp[int(0.4 * n):int(0.6 * n)])
    else:
        other = 1 if axis == 2 else 2
        border = (g.max(axis=(0, other)) <= BLACK) & (np.ptp(g, axis=(0, other)) <= UNEVEN)
    out = []
    for run, line in ((lead, border), (trail, border[::-1])):
        start, stop = max(0, int(np.floor(run * scale)) - 1), min(n // 2, int(np.ceil((run + 1) * scale)) + 1)
        inside = np.flatnonzero(~line[start:stop])
        out.append(start + int(inside[0]) if len(inside) else stop)
    return out[0], out[1]


def border_of(greys: list[np.ndarray]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) border widths in the greys' px (H, W, each frame the same size)."""
    return _border_of(greys)[0]


def _border_of(greys: list[np.ndarray]) -> tuple[tuple[int, int, int, int], str]:
    """(left, top, right, bottom) border widths in the greys' px, and which are a blurred fill: "sides" (left
    and right), "ends" (top and bottom) or ""."""
    g = np.stack([np.asarray(x, np.float32) for x in greys])
    brightest = g.max(axis=0)
    down, across = np.abs(np.diff(g, axis=1)).mean(axis=0), np.abs(np.diff(g, axis=2)).mean(axis=0)
    h, w = brightest.shape
    black_cols = (brightest.max(axis=0) <= BLACK) & (down.mean(axis=0) <= FLAT)
    black_rows = (brightest.max(axis=1) <= BLACK) & (across.mean(axis=1) <= FLAT)
    left, right = _bars(g, _pair(black_cols, w), axis=2)
    top, bottom = _bars(g, _pair(black_rows, h), axis=1)
    if w > h and (left, right) == (0, 0):  # a landscape frame: a portrait picture's blurred sides
        l, r = _fill(down[top:h - bottom].mean(axis=0))  # (each column's sharpness: blurring smooths it)
        # (what is left taller than wide, and the fill that picture enlarged: a long lens's blurred scenery is not)
        if l and (w - l - r) < (h - top - bottom) and _enlarged(g[:, top:h - bottom].transpose(0, 2, 1), l, r) >= ENLARGED:
            return (l, top, r, bottom), "sides"
    if h > w and (top, bottom) == (0, 0):  # a portrait frame: a landscape picture's blurred top and bottom
        t, b = _fill(across[:, left:w - right].mean(axis=1))
        # (what is left wider than tall, and the fill that picture enlarged: a sky above and sand below are not)
        if t and (w - left - right) > (h - t - b) and _enlarged(g[:, :, left:w - right], t, b) >= ENLARGED:
            return (left, t, right, b), "ends"
    return (left, top, right, bottom), ""


def _fill(sharp: np.ndarray) -> tuple[int, int]:
    """The leading and trailing runs of lines (``sharp``: each line's sharpness) that are a blurred fill round
    the picture: under BLURRED of the middle's sharpness, alike on both sides, the picture's sharpness beginning
    at once where they end; (0, 0) otherwise."""
    n = len(sharp)
    middle = np.median(sharp[int(0.4 * n):int(0.6 * n)])
    if middle <= 1.0:  # (a flat picture: nothing to judge by)
        return 0, 0
    lead, trail = _pair(sharp <= BLURRED * middle, n)
    reach = max(2, int(0.015 * n))
    abrupt = lead and sharp[lead:lead + reach].max() >= 0.5 * middle and sharp[n - trail - reach:n - trail].max() >= 0.5 * middle
    return (lead, trail) if abrupt else (0, 0)


def _enlarged(g: np.ndarray, top: int, bottom: int) -> float:
    """How alike the frames' fill above and below the picture is to the picture itself enlarged to cover the
    frame (as news and social media fill a portrait frame round a landscape video), both blurred alike: the
    correlation of their greys over every frame looked at."""
    import cv2

    h, w = g.shape[1:]
    grow = h / (h - top - bottom)
    made, seen = [], []
    for frame in g:
        big = cv2.resize(frame[top:h - bottom], (max(w, round(w * grow)), h), interpolation=cv2.INTER_AREA)
        x = (big.shape[1] - w) // 2
        made_, seen_ = (cv2.GaussianBlur(np.ascontiguousarray(a), (0, 0), w / 40) for a in (big[:, x:x + w], frame))
        made += [made_[:top].ravel(), made_[h - bottom:].ravel()]
        seen += [seen_[:top].ravel(), seen_[h - bottom:].ravel()]
    made_all, seen_all = np.concatenate(made), np.concatenate(seen)
    if made_all.std() < 1e-3 or seen_all.std() < 1e-3:
        return 0.0
    return float(np.corrcoef(made_all, seen_all)[0, 1])


def _bars(g: np.ndarray, pair: tuple[int, int], axis: int) -> tuple[int, int]:
    """``pair`` where both runs are bars: one level of black, the same on both sides (dark curtains, a
    vignette or a night sky over a dark road are not: their greys vary over them by tens of levels)."""
    lead, trail = pair
    if not lead:
        return 0, 0
    n = g.shape[axis]
    first, last = np.take(g, range(lead), axis=axis), np.take(g, range(n - trail, n), axis=axis)
    even = max(np.ptp(first), np.ptp(last)) <= UNEVEN and abs(float(first.mean()) - float(last.mean())) <= UNEVEN / 2
    return (lead, trail) if even else (0, 0)


def _pair(border: np.ndarray, n: int) -> tuple[int, int]:
    """The leading and trailing runs of True in ``border`` where both are at least MIN_SHARE of ``n`` and about
    as long as each other; (0, 0) otherwise."""
    lead = int(np.argmin(border)) if not border.all() else n
    trail = int(np.argmin(border[::-1])) if not border.all() else n
    if lead >= n or min(lead, trail) < MIN_SHARE * n or abs(lead - trail) > SAME * n + 1:
        return 0, 0
    return lead, trail


def _samples(path, info, start_s: float, end_s: float | None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Up to SAMPLES different grey frames WIDTH px wide, as shown: the first frame after a seek to each of
    SAMPLES times spread over the span (a seek lands on the keyframe before its time: a short clip may have
    one keyframe only); where that gives fewer than MIN_DISTINCT, SAMPLES frames spread over what decoding on
    from the span's start reaches in DECODE_BUDGET px. A frame whose four edges show the picture (:func:`_bare`)
    ends the look (a border is one on every frame): most videos without borders cost one decoded frame."""
    import av
    import cv2

    from nvwa.video.decode import _open
    from nvwa.video.shown import shown, video_stream

    size = (WIDTH, max(2, round(info.height * WIDTH / info.width)))  # (as shown)
    end = min(end_s if end_s is not None else np.inf, info.duration_s) if info.duration_s > 0 else None
    times = [start_s + (end - start_s) * (k + 0.5) / SAMPLES for k in range(SAMPLES)] if end and end > start_s else []
    greys: dict[int, np.ndarray] = {}
    full: list[np.ndarray] = []  # (the first FULL frames looked at, at the frame's own size)
    container = _open(path)
    try:
        stream = video_stream(container)
        stream.thread_type = "AUTO"
        base, origin = stream.time_base, info.time_origin_s

        def look(frame, key) -> bool:  # False where this frame shows there is no border
            if key in greys:
                return True
            grey = cv2.cvtColor(shown(frame, size, info.rotate, info.mirror), cv2.COLOR_RGB2GRAY)
            greys[key] = grey
            if len(full) < FULL:
                full.append(cv2.cvtColor(shown(frame, (info.width, info.height), info.rotate, info.mirror), cv2.COLOR_RGB2GRAY))
            return not _bare(grey)

        for at in [times[SAMPLES // 2], *times[:SAMPLES // 2], *times[SAMPLES // 2 + 1:]] if times and base else []:
            frame = _first_frame(container, stream, int((at + origin) / base))
            if frame is None or frame.pts is None:
                break  # (a seek that finds nothing: an MPEG-TS past its keyframes; decoded on instead)
            if not look(frame, frame.pts):
                return [], []
        if len(greys) < MIN_DISTINCT:  # (one keyframe, or seeking failed) decoded on from the span's start
            greys.clear()
            full.clear()
            container.close()  # (opened afresh: a transport stream's failed seeks leave it past its keyframe)
            container = _open(path)
            stream = video_stream(container)
            stream.thread_type = "AUTO"
            budget = max(30, DECODE_BUDGET // max(1, info.width * info.height))
            reach = budget / info.fps if info.fps > 0 else SAMPLES / 10  # (s the budget decodes)
            span = min(reach, end - start_s) if times else reach
            wanted = iter([start_s + span * (k + 0.5) / SAMPLES for k in range(SAMPLES)])
            target = next(wanted)
            if start_s and base:
                container.seek(int((start_s + origin) / base), stream=stream, backward=True, any_frame=False)
            for n, frame in enumerate(container.decode(stream)):
                if n >= budget or target is None:
                    break
                t = float(frame.pts * base) - origin if frame.pts is not None and base else n / 30.0
                if t >= target:
                    if not look(frame, n):
                        return [], []
                    target = next(wanted, None)
    except av.error.FFmpegError:
        pass
    finally:
        container.close()
    return list(greys.values()), full


def _bare(grey: np.ndarray) -> bool:
    """Whether a frame has nothing at any of its edges that could be a border: each edge's outer MIN_SHARE is
    neither black nor as smooth as a blurred fill (what such a frame shows there is the picture, so no border
    runs over every frame)."""
    g = np.asarray(grey, np.float32)
    h, w = g.shape
    if g.max() <= BLACK:  # (a black frame shows nothing)
        return False
    down, across = np.abs(np.diff(g, axis=0)), np.abs(np.diff(g, axis=1))
    middle = min(np.median(down[h // 3:2 * h // 3, w // 3:2 * w // 3].mean(axis=0)),
                 np.median(across[h // 3:2 * h // 3, w // 3:2 * w // 3].mean(axis=1)))
    sx, sy = max(1, int(MIN_SHARE * w)), max(1, int(MIN_SHARE * h))
    edges = ((g[:, :sx], down[:, :sx]), (g[:, -sx:], down[:, -sx:]), (g[:sy], across[:sy]), (g[-sy:], across[-sy:]))
    return not any(strip.max() <= BLACK or sharp.mean() <= BLURRED * middle for strip, sharp in edges)


def _first_frame(container, stream, pts: int, max_packets: int = 240):
    """The first frame decoded after a seek to ``pts`` (the keyframe before it), within ``max_packets`` packets
    (an MPEG-TS whose seek lands past its few keyframes would be read to its end); None where there is none."""
    import av

    from nvwa.video.shown import first_decoded

    try:
        container.seek(pts, stream=stream, backward=True, any_frame=False)
    except av.error.FFmpegError:
        return None
    return first_decoded(container, stream, max_packets, skip_damaged=False)


__all__ = ["border_of", "picture_borders"]
