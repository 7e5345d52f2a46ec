"""The picture inside a frame with borders: a film letterboxed in a 16:9 frame (black bars above and below), a 4:3
or a phone's portrait video pillarboxed in a landscape one (black bars at the sides, or its own picture enlarged
and blurred there, as news and social media show a phone's video). The borders are not the scene: the camera's
focal length is guessed from the picture's size and its straight edges, and with the borders in, a phone's
portrait clip in a 1920x1080 frame came out with its focal 36-76% long and its camera 6-9% high (README). So
the borders are found on a few frames spread over the video and cut off before anything looks at the frames.

A border is taken where, on every frame looked at, it is black (at most grey level 32, and flat), or, at the
left and right of a landscape frame round a picture taller than wide, where it is blurred (under a third of the
picture's sharpness or less) and the picture's sharpness begins at once where it ends. Borders must be as wide
on both sides (a film's bars are; a night sky above a dark street is not), and at least 2% of the frame.
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


def picture_borders(path, info) -> tuple[int, int, int, int]:
    """(left, top, right, bottom): the px of the shown frame (``info``'s size, turned as it asks) that are border,
    from SAMPLES frames spread over the video; zeros where there are none, or no frame could be read."""
    greys = _samples(path, info)
    if not greys:
        return (0, 0, 0, 0)
    sizes = (info.width / greys[0].shape[1], info.height / greys[0].shape[0]) * 2
    # each border up to the far side of the looked-at pixel it ends in (that pixel holds the picture's edge and
    # the border's: a sliver of black bar left in draws a straight edge the whole frame long, which the camera's
    # calibration takes for the scene's; a phone's clip so left in came out with its focal 80% long)
    return tuple(int(np.ceil((b + 1) * s)) if b else 0 for b, s in zip(border_of(greys), sizes))


def border_of(greys: list[np.ndarray]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) border widths in the greys' px (H, W, each frame the same size)."""
    g = np.stack([np.asarray(x, np.float32) for x in greys])
    brightest = g.max(axis=0)
    down, across = np.abs(np.diff(g, axis=1)).mean(axis=0), np.abs(np.diff(g, axis=2)).mean(axis=0)
    h, w = brightest.shape
    black_cols = (brightest.max(axis=0) <= BLACK) & (down.mean(axis=0) <= FLAT)
    black_rows = (brightest.max(axis=1) <= BLACK) & (across.mean(axis=1) <= FLAT)
    left, right = _pair(black_cols, w)
    top, bottom = _pair(black_rows, h)
    if w > h and (left, right) == (0, 0):  # a landscape frame: a portrait picture's blurred sides
        sharp = down[top:h - bottom].mean(axis=0)  # each column's sharpness: blurring smooths it
        middle = np.median(sharp[int(0.4 * w):int(0.6 * w)])
        if middle > 1.0:  # (a flat picture: nothing to judge by)
            l, r = _pair(sharp <= BLURRED * middle, w)
            reach = max(2, int(0.015 * w))  # the picture's sharpness begins at once past the fill
            abrupt = l and sharp[l:l + reach].max() >= 0.5 * middle and sharp[w - r - reach:w - r].max() >= 0.5 * middle
            if abrupt and (w - l - r) < (h - top - bottom):  # (what is left is taller than wide)
                left, right = l, r
    return left, top, right, bottom


def _pair(border: np.ndarray, n: int) -> tuple[int, int]:
    """The leading and trailing runs of True in ``border`` where both are at least MIN_SHARE of ``n`` and about
    as long as each other; (0, 0) otherwise."""
    lead = int(np.argmin(border)) if not border.all() else n
    trail = int(np.argmin(border[::-1])) if not border.all() else n
    if lead >= n or min(lead, trail) < MIN_SHARE * n or abs(lead - trail) > SAME * n + 1:
        return 0, 0
    return lead, trail


def _samples(path, info) -> list[np.ndarray]:
    """Up to SAMPLES grey frames WIDTH px wide, as shown, each the first frame at or after a keyframe spread
    over the video (the first frames where its length is unknown)."""
    import av
    import cv2

    from nvwa.video.decode import _open
    from nvwa.video.shown import shown, video_stream

    size = (WIDTH, max(2, round(info.height * WIDTH / info.width)))  # (as shown)
    greys: list[np.ndarray] = []
    container = _open(path)
    try:
        stream = video_stream(container)
        base = stream.time_base
        spread = info.duration_s > 0 and base is not None
        for k in range(SAMPLES):
            try:
                if spread:
                    at = info.time_origin_s + info.duration_s * (k + 0.5) / SAMPLES
                    container.seek(int(at / base), stream=stream, backward=True, any_frame=False)
                frame = next(iter(container.decode(stream)), None)
            except (av.error.FFmpegError, StopIteration):
                continue
            if frame is not None:
                image = shown(frame, size, info.rotate, info.mirror)
                greys.append(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    except av.error.FFmpegError:
        pass
    finally:
        container.close()
    return greys


__all__ = ["border_of", "picture_borders"]
