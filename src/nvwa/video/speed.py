"""A slow-motion or time-lapse video's own clock: the moment it filmed, not the time it takes to play.

A phone films slow motion at 120 or 240 frames a second and saves it to play at 30: each second played is
a quarter or an eighth of a second of the moment. A time-lapse is the other way round (a frame a second,
played at 30). Android says so in the file (``com.android.capture.fps``, :data:`CAPTURE_TAG`: the rate
the camera captured at, beside the rate the file plays at); a clip saved from an iPhone's slow motion or
cut by an editor says nothing, and ``--capture-fps`` gives it.

Read as it plays, a 4x slow motion's people moved at a quarter of their speed, and every rule counted in
seconds (how long a lost person is waited for, how long the landing's hand-over may take, the smoothing's
time constants) counted four times too much of the moment: Sports2D so stored lost the jumper's landing
to a second identity. With the capture rate known, the frames' times handed on are the moment's
(``VideoInfo.time_scale`` x the time played), and ``--max-fps`` counts the moment's frames a second, so
such a clip is analysed as the same moment stored to play in real time. What the user reads off a player
(``--start``, ``--end``, where the video cuts to another shot) stays in the video's seconds as it plays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

CAPTURE_TAG = "com.android.capture.fps"  # Android's MediaRecorder (MediaFormat.KEY_CAPTURE_RATE), in the file's metadata
SAME_RATE = 0.03  # a capture rate within 3% of the rate played is the video's own (a 240-fps video tagged 240,
# 29.97 played against 30 captured): real time
SLOWEST_CAPTURE_FPS = 1 / 3600  # a time-lapse of a frame an hour, at the most
FASTEST_CAPTURE_FPS = 100_000.0  # a high-speed camera's, at the most


def believable(capture_fps: float) -> bool:
    """Whether ``capture_fps`` (frames/s) is a capture rate a camera has."""
    return math.isfinite(capture_fps) and SLOWEST_CAPTURE_FPS <= capture_fps <= FASTEST_CAPTURE_FPS


def tagged_capture_fps(*metadata: Mapping[str, str]) -> tuple[float, str]:
    """The capture rate the file states (the container's metadata, then the stream's: the first that holds
    :data:`CAPTURE_TAG`) and "", or 0.0 and "" where none states it, or 0.0 and a note where the stated value
    is not a capture rate (a damaged or hostile file's: "fast", "nan", 0, 1e30): then the video is read as
    it plays."""
    for tags in metadata:
        text = (tags or {}).get(CAPTURE_TAG)
        if text is None:
            continue
        try:
            value = float(str(text).strip())
        except ValueError:
            value = math.nan
        if believable(value):
            return value, ""
        shown = str(text)[:40].encode("ascii", "backslashreplace").decode()  # (a file's text: printable, short)
        return 0.0, (f"the file says it was filmed at {shown!r} frames a second ({CAPTURE_TAG}), which is not a "
                     "camera's rate: it is analysed at the speed it plays (--capture-fps gives the rate it was filmed at)")
    return 0.0, ""


def time_scale(played_fps: float, capture_fps: float) -> float:
    """Seconds of the moment filmed per second of the video as it plays: ``played_fps / capture_fps`` (0.25
    for 120 fps played at 30; to 6 digits), 1.0 where either is not known or they are within :data:`SAME_RATE`."""
    if not (played_fps > 0 and math.isfinite(played_fps)) or not believable(capture_fps):
        return 1.0
    scale = float(f"{played_fps / capture_fps:.6g}")  # (a rate measured from the frames' times: 7.4999999 is 7.5)
    return 1.0 if abs(scale - 1.0) <= SAME_RATE else scale


def moment_fps(video: Mapping) -> float:
    """A scene's frames a second of the moment filmed, from its video's metadata ("fps": as the file plays,
    "time_scale"): the rate BVH's frames and the viewer's frame step take; 0.0 where the file gives none."""
    fps = float(video.get("fps") or 0.0)
    scale = float(video.get("time_scale") or 1.0)
    return fps / scale if fps > 0 and scale > 0 and math.isfinite(scale) else fps


def speed_text(scale: float) -> str:
    """"a 4x slow motion", "an 8x slow motion", "a 30x time-lapse" (``scale``: :func:`time_scale`)."""
    times = f"{1 / scale if scale < 1 else scale:.3g}"
    whole = times.split(".")[0]
    article = "an" if whole.startswith("8") or whole in ("11", "18") else "a"  # (eight..., eleven, eighteen)
    return f"{article} {times}x {'slow motion' if scale < 1 else 'time-lapse'}"


__all__ = ["CAPTURE_TAG", "believable", "moment_fps", "speed_text", "tagged_capture_fps", "time_scale"]
