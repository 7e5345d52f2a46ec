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
import re
from collections.abc import Mapping

CAPTURE_TAG = "com.android.capture.fps"  # Android's MediaRecorder (MediaFormat.KEY_CAPTURE_RATE), in the file's metadata
SAME_RATE = 0.03  # a capture rate within 3% of the rate played is the video's own (a 240-fps video tagged 240,
# 29.97 played against 30 captured): real time
SLOWEST_CAPTURE_FPS = 1 / 3600  # a time-lapse of a frame an hour, at the most
FASTEST_CAPTURE_FPS = 100_000.0  # a high-speed camera's, at the most
FILE_FACTOR = (1.5, 1000.0, 100_000.0)  # the file's word is taken for a slow motion of 1.5x to 1,000x or a time-lapse
# of 1.5x to 100,000x: a phone's slow motion is 2x or more (60 fps played at 30), and a rate tagged 30 beside frames
# that come at 24 or 15 is a phone's ordinary video in low light (Samsung's tag their every video), not a slow one
_DECIMAL = re.compile(r"\s*\d+(\.\d*)?\s*")  # how Android writes it ("240.000000")


def believable(capture_fps: float) -> bool:
    """Whether ``capture_fps`` (frames/s) is a capture rate a camera has."""
    return math.isfinite(capture_fps) and SLOWEST_CAPTURE_FPS <= capture_fps <= FASTEST_CAPTURE_FPS


def tagged_capture_fps(*metadata: Mapping[str, str]) -> tuple[float, str]:
    """The capture rate the file states (the container's metadata, then the stream's: the first that holds
    :data:`CAPTURE_TAG`) and "", or 0.0 and "" where none states it, or 0.0 and a note where the stated value
    is not a capture rate (a damaged or hostile file's: "fast", "nan", 0, 1e30): then the video is read as
    it plays."""
    doubt = ""
    for tags in metadata:
        text = (tags or {}).get(CAPTURE_TAG)
        if text is None:
            continue
        value = float(text) if _DECIMAL.fullmatch(str(text)) else math.nan
        if believable(value):
            return value, ""
        doubt = doubt or (f"the file says it was filmed at {ascii(str(text)[:40])} frames a second ({CAPTURE_TAG}), "
                          "which is not a camera's rate: it is analysed at the speed it plays (--capture-fps gives the "
                          "rate it was filmed at)")  # (a file's text: printable, short)
    return 0.0, doubt


def believed_from_file(scale: float, variable: bool = False) -> bool:
    """Whether a file's capture rate, at ``scale`` (:func:`time_scale`) and beside frames that come at a steady
    rate (not ``variable``: a phone's slow motion and time-lapse are saved at one), is a slow motion's or a
    time-lapse's (:data:`FILE_FACTOR`)."""
    least, slowest, fastest = FILE_FACTOR
    return not variable and (least <= 1 / scale <= slowest or least <= scale <= fastest)


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


def times_text(factor: float) -> str:
    """A factor as a reader says it: "4" (3.99), "2.5", "12", "1,000"."""
    return f"{factor:.2g}" if factor < 10 else f"{factor:,.0f}"


def speed_text(scale: float) -> str:
    """"a 4x slow motion", "an 8x slow motion", "a 30x time-lapse" (``scale``: :func:`time_scale`)."""
    times = times_text(1 / scale if scale < 1 else scale)
    lead = times.split(",")[0].split(".")[0]
    article = "an" if lead.startswith("8") or lead in ("11", "18") else "a"  # (eight..., eleven, eighteen)
    return f"{article} {times}x {'slow motion' if scale < 1 else 'time-lapse'}"


def time_meaning(video: Mapping) -> dict:
    """What a file's times are, for the exports' metadata: the source video's seconds, or (a slow motion, a
    time-lapse) the moment's, with the ``time_scale`` that turns them into the video's (video s = s / it)."""
    scale = float(video.get("time_scale") or 1.0)
    if scale == 1.0:
        return {"time": "seconds of the source video"}
    return {"time": "seconds of the moment filmed (real time): the source video plays time_scale seconds of it a second",
            "time_scale": scale}


__all__ = ["CAPTURE_TAG", "believable", "believed_from_file", "moment_fps", "speed_text", "tagged_capture_fps",
           "time_meaning", "time_scale", "times_text"]
