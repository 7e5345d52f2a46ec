"""Probe a video and stream its frames with the container's own timestamps.

Frames are decoded one packet at a time and handed on as they come: the whole video is never in
memory. Frames larger than ``max_side`` are downscaled by FFmpeg's scaler while converting to RGB,
which costs less than converting first and resizing after.

Frames are handed on as a player shows them: a phone filming upright stores its frames on their side
with a display rotation (its "rotate" tag, a display matrix), which players apply; so does this module.
Before, such a video's people lay on their side in every frame, and their bodies were dropped as never
standing upright. Pixels stored wider than tall (a sample aspect ratio: HDV, DV, broadcast) are
stretched to square ones as players do, so a person is as wide as they look; frames stored interlaced
are made whole, and HDR ones (a phone's HLG, HDR10's PQ) tone-mapped as an SDR screen shows them. Sizes
(:class:`VideoInfo`) and pixels are the shown ones throughout. Times are counted from the file's start, as
players count them: a camcorder's MPEG-TS (.MTS) file begins at 0.5-1.5 s. A slow motion's or a
time-lapse's frames carry the moment's times (:mod:`nvwa.video.speed`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from nvwa.errors import InputError
from nvwa.video.hdr import ToneMap
from nvwa.video.shown import deinterlaced, first_look, glance, moving_streams, pixel_aspect, shown, video_stream
from nvwa.video.speed import believable, believed_from_file, speed_text, tagged_capture_fps, time_scale
from nvwa.video.thinning import FrameRate, Thinning, frame_rate


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about its first video stream."""

    path: str
    width: int  # pixels, as shown (the display rotation applied)
    height: int  # pixels, as shown
    fps: float  # average frame rate (frames/s); 0.0 when the container does not say
    frame_count: int  # frames the container declares; 0 when unknown
    duration_s: float  # seconds; 0.0 when unknown
    codec: str
    rotate: int = 0  # degrees the stored frames are turned clockwise to be shown (0, 90, 180, 270): a phone's
    # portrait video is stored on its side with 90 (or 270); the frames handed on are turned already
    mirror: bool = False  # and then mirrored left to right (a display matrix that flips)
    pixel_aspect: float = 1.0  # a stored pixel's width over its height (HDV's 1440x1080 at 4:3 is shown 1920
    # wide); the frames handed on are stretched to square pixels, as players show them
    interlaced: bool = False  # its first frame is stored interlaced (two fields woven); the frames handed on are whole
    time_origin_s: float = 0.0  # the time the file starts at (an MPEG-TS's 1.4 s), taken off every frame's time so
    # the first frame is at 0 s, as players count (--start, --end and the scene's times are counted so)
    stream: int = 0  # the stream analysed (the file's numbering): not a cover picture, the largest of several
    video_streams: int = 1  # the file's moving video streams
    hdr: str = ""  # "PQ" or "HLG" where its first frame is HDR: the frames handed on are tone-mapped, as shown on SDR
    borders: tuple[int, int, int, int] = (0, 0, 0, 0)  # px cut off the shown frame (left, top, right, bottom): black
    # or blurred borders round the picture (:mod:`nvwa.video.picture`); width and height are the picture's
    capture_fps: float = 0.0  # the rate the camera filmed at, where the file says (Android's slow motion and
    # time-lapse) or --capture-fps gives it and it differs from the rate played; 0.0: analysed as it plays
    capture_from: str = ""  # who says so: "the file" or "--capture-fps"
    time_scale: float = 1.0  # seconds of the moment filmed per second played (0.25: a 4x slow motion): the frames'
    # times handed on are the moment's, and --max-fps counts its frames (:mod:`nvwa.video.speed`)
    capture_tag: float = 0.0  # the capture rate the file states (com.android.capture.fps), a camera's rate; else 0.0
    capture_doubt: str = ""  # why what the file says of its capture rate is not believed

    def how_shown(self, asked_by: str = "the file") -> str:
        """What is done to the stored frames to show them, for the progress line ("" where nothing): turned and
        stretched as ``asked_by`` asks (the file, or --rotate), deinterlaced and tone-mapped as the file says."""
        turned = " and ".join([f"turned {self.rotate} deg"] * bool(self.rotate) + ["mirrored"] * self.mirror
                              + [f"its {self.pixel_aspect:.3g}:1 pixels made square"] * (self.pixel_aspect != 1.0))
        return ((f", {turned} as {asked_by} asks" if turned else "") + ", deinterlaced" * self.interlaced
                + (f", HDR ({self.hdr}) tone-mapped" if self.hdr else ""))

    def how_fast(self) -> str:
        """The frame rate, for the progress line: "7.5 fps (filmed at 30 as the file says: a 4x slow motion, analysed
        in real time)"."""
        return f"{self.fps:.3g} fps" + (f" (filmed at {self.capture_fps:.4g} as {self.capture_from} says: "
                                        f"{speed_text(self.time_scale)}, analysed in real time)") * (self.time_scale != 1.0)

    def notes(self) -> list[str]:
        """What the summary says of the file itself."""
        w, h = self.whole_size()
        return ([(f"the file holds {self.video_streams} video streams: stream {self.stream}, the largest "
                  f"({w}x{h}), is the one analysed")] * (self.video_streams > 1)
                + [(f"the picture is {self.width}x{self.height} inside its {w}x{h} frame, with black or blurred borders "
                    "round it: the borders are left out (--borders keep analyses the whole frame)")] * any(self.borders)
                + [(f"the video is {speed_text(self.time_scale)}, filmed at {self.capture_fps:.4g} frames a second and "
                    f"played at {self.capture_fps * self.time_scale:.4g} ({self.capture_from} says): the scene runs in "
                    f"real time ({self.duration_s:.3g} s played are {self.duration_s * self.time_scale:.3g} s of it); "
                    "--start, --end and the times of cuts count the seconds played")] * (self.time_scale != 1.0)
                + [self.capture_doubt] * bool(self.capture_doubt))

    def filmed_at(self, capture_fps: float, played_fps: float = 0.0, asked_by: str = "the file",
                  variable: bool = False) -> VideoInfo:
        """This video's info with the camera's capture rate ``capture_fps`` (0: none; ``asked_by`` says it: the
        file, --capture-fps) against ``played_fps``, the frames' own rate as they play (0: the container's). The
        file's word is taken only for a slow motion or a time-lapse saved at a steady rate (not ``variable``:
        :func:`~nvwa.video.speed.believed_from_file`); the user's always."""
        if capture_fps and not believable(capture_fps) and asked_by != "the file":
            raise InputError(f"{asked_by} {capture_fps:g}", "is not a camera's rate (a frame an hour to 100,000 a second)")
        played = played_fps or self.fps
        scale = time_scale(played, capture_fps)
        doubt = self.capture_doubt if asked_by == "the file" and not self.capture_tag else ""  # (a tag that is no rate;
        # one that is, judged again here against the frames' measured rate)
        if asked_by == "the file" and scale != 1.0 and not believed_from_file(scale, variable):
            doubt = (f"the file says it was filmed at {capture_fps:.4g} frames a second and it plays at "
                     + (f"a varying rate (usually {played:.3g}): a rate that falls in low light is a phone's ordinary video"
                        if variable else f"{played:.4g}: {speed_text(scale)} is not a phone's")
                     + ", so it is analysed at the speed it plays (--capture-fps gives the rate it was filmed at)")
            scale = 1.0
        applied = scale != 1.0
        return replace(self, capture_fps=capture_fps if applied else 0.0, time_scale=scale,
                       capture_from=asked_by if applied else "", capture_doubt=doubt)

    def whole_size(self) -> tuple[int, int]:
        """The shown frame's (width, height), borders included."""
        left, top, right, bottom = self.borders
        return self.width + left + right, self.height + top + bottom

    def framed(self, borders: tuple[int, int, int, int]) -> VideoInfo:
        """This video's info with ``borders`` (left, top, right, bottom px of the shown frame) cut off; unchanged
        where they would leave less than a quarter of either side."""
        w, h = self.whole_size()
        left, top, right, bottom = (int(b) for b in borders)
        if min(borders) < 0 or w - left - right < w / 4 or h - top - bottom < h / 4:
            return self
        return replace(self, width=w - left - right, height=h - top - bottom, borders=(left, top, right, bottom))

    def cut(self) -> tuple[tuple[int, int], tuple[int, int, int, int]] | None:
        """Where there are borders: the shown frame's whole size and the borders, as :func:`~nvwa.video.shown.shown`
        takes them (the whole frame made RGB at its own size, the picture cut out, then scaled)."""
        return (self.whole_size(), self.borders) if any(self.borders) else None

    def turned(self, rotate: int) -> VideoInfo:
        """This video's info with its stored frames turned ``rotate`` degrees clockwise instead of as the
        file asks (and not mirrored): a video stored turned without saying so."""
        if rotate not in (0, 90, 180, 270):
            raise InputError(f"rotate={rotate}", "must be 0, 90, 180 or 270 (degrees clockwise)")
        w, h = self.whole_size()[::-1] if self.rotate in (90, 270) else self.whole_size()  # unturned
        w, h = (h, w) if rotate in (90, 270) else (w, h)
        return replace(self, width=w, height=h, rotate=rotate, mirror=False, borders=(0, 0, 0, 0))

    def scaled_size(self, max_side: int | None) -> tuple[int, int]:
        """(width, height) after downscaling so the longer side is at most ``max_side`` (even sizes)."""
        if not max_side or max(self.width, self.height) <= max_side:
            return self.width, self.height
        s = max_side / max(self.width, self.height)
        return max(2, int(round(self.width * s / 2)) * 2), max(2, int(round(self.height * s / 2)) * 2)


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame.

    ``image`` is (H, W, 3) uint8 RGB at the decoded (possibly downscaled) size, as a player shows the
    video (turned, pixels square); ``scale`` is decoded pixels per shown pixel, so intrinsics given for
    the shown size (:class:`VideoInfo`'s) are multiplied by it.
    """

    index: int  # position among the decoded frames, 0-based, before any stride
    timestamp_s: float  # presentation time from the container (a slow motion's x its time_scale: the moment's)
    image: np.ndarray = field(repr=False)
    scale: float = 1.0
    between: tuple = field(default=(), repr=False)  # the frames decoded since the last one yielded and not
    # analysed, as ``iter_frames(between=...)`` made them: FrameBetween
    glances: tuple = field(default=(), repr=False)  # (time played, number, 32x18 grey) of every frame decoded since the
    # last one yielded, this one last: what tells a cut to another shot (:class:`nvwa.video.cuts.ShotCuts`)


@dataclass(frozen=True)
class FrameBetween:
    """A frame decoded but not analysed (--stride, --max-fps): its decoder frame is held, and made RGB at the
    analysed frames' size, exactly as they are, then by the caller's function, only where :meth:`image` is
    asked for (the camera's motion follows a moving camera's frames between; a still one's are seldom
    converted, which costs 7.5 ms a 1768x994 VP9 frame)."""

    index: int
    timestamp_s: float
    _frame: object = field(repr=False)
    _size: tuple[int, int] = field(repr=False)
    _make: Callable[[np.ndarray], np.ndarray] = field(repr=False)

    _rotate: int = 0
    _mirror: bool = False
    _tone: ToneMap | None = None
    _cut: tuple | None = None

    def image(self) -> np.ndarray:
        return self._make(shown(self._frame, self._size, self._rotate, self._mirror, self._tone, self._cut))


@dataclass
class DecodeStats:
    """Counters filled while decoding (mutable on purpose: the decoder updates it as it goes)."""

    decoded: int = 0
    skipped_corrupt: int = 0
    yielded: int = 0


def _check_path(path: Path) -> None:
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a directory, not a video file")
    if path.stat().st_size == 0:
        raise InputError(path, "is empty (0 bytes)")


def _open(path: Path):
    import av  # imported here so `import nvwa` stays light

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.InvalidDataError as exc:
        raise InputError(path, f"is not a readable video ({exc.__class__.__name__}: {_first_line(exc)})") from exc
    except av.error.FFmpegError as exc:
        raise InputError(path, f"cannot be opened ({_first_line(exc)})") from exc
    if video_stream(container) is None:
        moving = moving_streams(container)
        why = ("has no video stream" if not container.streams.video else "has no video stream (only a cover picture)"
               if not moving else "has a video stream, but no decoder for its codec")
        container.close()
        raise InputError(path, why)
    return container


def _origin(container) -> Fraction:
    """The time the file starts at, in seconds, where it is after 0 (players count from it)."""
    start = container.start_time  # (microseconds)
    return Fraction(start, 1_000_000) if start and start > 0 else Fraction(0)


def _seconds(pts: int, time_base: Fraction, origin: Fraction) -> float:
    """A time in ticks as seconds from the file's start, rounded once (--start 2.1 meets the frame at 2.1 s)."""
    return float(pts * time_base - origin)


def _first_line(exc: BaseException) -> str:
    text = (getattr(exc, "strerror", None) or str(exc)).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Read the container header. Raises :class:`InputError` for anything that is not a video."""
    path = Path(path)
    _check_path(path)
    container = _open(path)
    try:
        stream = video_stream(container)
        cc = stream.codec_context
        if not cc.width or not cc.height:
            raise InputError(path, "is an animated WebP, which FFmpeg cannot decode (save it as MP4 or GIF)"
                             if cc.name == "webp" else "video stream has no frame size (no decodable frames)")
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        frames = int(stream.frames or 0)
        if frames == 0 and fps and duration:
            frames = int(round(fps * duration))
        aspect = pixel_aspect(stream)
        rotate, mirror, interlaced, hdr = first_look(container, stream)
        capture_fps, doubt = tagged_capture_fps(container.metadata, stream.metadata)  # a slow motion's, a time-lapse's
        # as shown, with square pixels: the side the pixels are long along drawn longer (never shorter: no detail lost)
        w, h = (round(cc.width * aspect), int(cc.height)) if aspect >= 1.0 else (int(cc.width), round(cc.height / aspect))
        w, h = (h, w) if rotate in (90, 270) else (w, h)
        return VideoInfo(str(path), w, h, fps, frames, duration, cc.name, rotate, mirror, aspect, interlaced,
                         float(_origin(container)), stream.index, len(moving_streams(container)), hdr,
                         capture_tag=capture_fps, capture_doubt=doubt).filmed_at(capture_fps)
    finally:
        container.close()


def _decoded(container, stream):
    """(frame, None) for each decoded frame, (None, the error's first line) for each corrupt packet."""
    import av

    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.InvalidDataError as exc:
            yield None, _first_line(exc)
            continue
        for frame in frames:
            yield frame, None


MAX_TIMED_PACKETS = 2_000_000  # packets whose times are read before decoding (18 hours at 30 fps; 16 MB)


def frame_times(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """The video's frame times (s, sorted, distinct: the decoder's own floats) from its packets, read without
    decoding (tens of ms for a clip of a few hundred frames), and its time base's tick (s). Empty where a
    packet carries no time (some AVIs, raw streams) or there are over MAX_TIMED_PACKETS (no time is spent
    on a hostile file of tiny packets: it is then thinned as a steady video)."""
    from array import array

    import av

    container = _open(Path(path))
    pts = array("q")
    try:
        stream = video_stream(container)
        base = stream.time_base or Fraction(1, 1)
        origin = _origin(container)
        for packet in container.demux(stream):
            if packet.pts is None and packet.size:
                return np.zeros(0), float(base)
            if packet.pts is not None and not packet.is_discard:  # (an edit list's cut frames are never shown)
                pts.append(packet.pts)
                if len(pts) > MAX_TIMED_PACKETS:
                    return np.zeros(0), float(base)
    except av.error.FFmpegError:  # a damaged file: the times read so far (decoding reports the damage itself)
        pass
    finally:
        container.close()
    ticks = np.unique(np.frombuffer(pts, dtype=np.int64))
    if not origin:  # as float(pts * time_base), bit for bit: each rounded once
        return ticks * base.numerator / base.denominator, float(base)
    return np.array([_seconds(int(p), base, origin) for p in ticks]), float(base)  # (a transport stream's: exact)


SEEK_BACK_S = (0.0, 2.0, 8.0, 32.0)  # how far before --start a seek is tried, then the next
MAX_BETWEEN = 3  # frames between two analysed ones that one carries, at most (the latest: all of a 60-fps
# video's at 15 fps, of --stride 4). Each holds its decoder frame (3.1 MB at 1080p, 12 at 4K) until the frame it
# rides on is done with: ~10 analysed frames are in flight on the CPU path (the GPU path asks for none: SAM 3's
# window holds 240), so cam03 (1080x1920, 60 fps) at --max-fps 15 peaked 89 MB higher


def iter_frames(
    path: str | os.PathLike,
    *,
    max_side: int | None = 1280,
    stride: int = 1,
    max_fps: float = 0.0,
    max_frames: int | None = None,
    stats: DecodeStats | None = None,
    rate: FrameRate | None = None,
    times: np.ndarray | None = None,
    between: Callable[[np.ndarray], np.ndarray] | None = None,
    rotate: int | None = None,
    info: VideoInfo | None = None,
    start_s: float = 0.0,
    end_s: float | None = None,
) -> Iterator[VideoFrame]:
    """Yield frames one at a time, RGB, downscaled to ``max_side``.

    ``stride`` keeps every n-th decoded frame; ``max_fps`` (0: no limit) fewer where the frames come faster
    (:class:`~nvwa.video.thinning.Thinning`: a steady 60-fps video every 2nd frame at 30, a variable-rate
    one by the rate of each stretch; ``rate``, else its packets' times, says which); ``max_frames`` caps
    the frames yielded; ``between`` (RGB image -> what is wanted of it): each frame carries the frames thinned
    out since the one before (:class:`FrameBetween`, the latest MAX_BETWEEN at most), made so if asked;
    ``times``: the packets' times (:func:`frame_times`) where the caller has read them;
    ``rotate`` (degrees clockwise) turns the stored frames so instead of as the file asks; ``info``: the file's
    :func:`probe_video` where the caller has it (each probe decodes a frame: 60 ms of Sports2D's); ``start_s`` and
    ``end_s`` keep the frames from ``start_s`` to before ``end_s`` (the decoder seeks to the keyframe before
    ``start_s`` where the packets say every frame's time, else decodes from the first frame; either way the
    frames keep the video's own numbers; an interlaced video's first frame after a seek may differ by a grey
    level or two from the same frame decoded from the start: the deinterlacer has no frame before it). A slow
    motion's or a time-lapse's frames (``info.time_scale``) carry the moment's times, and ``max_fps`` counts the
    moment's frames; ``start_s`` and ``end_s`` count the seconds played. Corrupt
    packets in the middle are skipped and counted in ``stats.skipped_corrupt``. Raises
    :class:`InputError` when the file cannot be opened or yields no decodable frame at all, and
    when it ends long before the length its container declares (a truncated file).
    """
    import av

    if stride < 1:
        raise InputError(f"stride={stride}", "must be at least 1")
    if not (start_s >= 0 and np.isfinite(start_s)) or (end_s is not None and not end_s > start_s):
        raise InputError(f"--start {start_s:g} --end {end_s:g}" if end_s is not None else f"--start {start_s:g}",
                         "the span must start at 0 s or later and end after it starts")
    path = Path(path)
    info = info or probe_video(path)  # (the caller's, where it has probed the file already)
    info = info if rotate is None else info.turned(rotate)
    stats = stats if stats is not None else DecodeStats()
    width, height = info.scaled_size(max_side)
    scale = width / info.width
    cut = info.cut()  # (a picture with borders: the whole frame converted, the picture cut out, then scaled)
    # every frame's time, read from the packets once (``times``: where the caller has read them): the rate
    # --max-fps thins by, and for --start a seek to the keyframe before it, each frame numbered by its place
    # among them (as decoding from the first frame numbers it)
    if rate is None and max_fps:
        times, tick = frame_times(path)
        rate = frame_rate(times, tick)
    elif times is None and start_s > 0:
        times = frame_times(path)[0]
    rate = FrameRate() if rate is None else rate
    moment = info.time_scale  # a slow motion's or a time-lapse's frames are handed on at the moment's times, and
    # --max-fps counts the moment's frames a second (the same moment stored to play in real time keeps the same frames)
    thinning = Thinning(rate.fps or info.fps, stride, max_fps * moment, rate.variable)
    tone = ToneMap(info.hdr)  # (HDR frames: made as an SDR screen shows them)
    times = times if times is not None and start_s > 0 else np.zeros(0)
    first = times[times >= start_s][:1]
    # seeks to the keyframe before --start, then further back where one lands past it (an MPEG-TS, which has
    # no index, lands on the keyframe after), then decoding from the first frame
    for back in ([b for b in SEEK_BACK_S if b < start_s] if len(first) else []) + [None]:
        seek = back is not None
        container = _open(path)
        stream = video_stream(container)
        stream.thread_type = "AUTO"  # frame threading: both cores decode
        time_base, origin = stream.time_base or Fraction(1, 1), _origin(container)
        last_t = -np.inf
        fallback_dt = 1.0 / info.fps if info.fps else 1.0 / 30.0
        decode_error: str | None = None
        skipped: list[FrameBetween] = []
        glances: list[tuple] = []
        stats.decoded = stats.skipped_corrupt = 0
        try:
            if seek:
                try:
                    container.seek(int((start_s - back + info.time_origin_s) / time_base), stream=stream, backward=True,
                                   any_frame=False)
                except av.error.FFmpegError:
                    continue  # (closed below) tried further back, at last decoded from the first frame
            for frame, error in deinterlaced(_decoded(container, stream)):
                if error is not None:  # a corrupt packet: skip it, keep going
                    stats.skipped_corrupt += 1
                    decode_error = error
                    continue
                if frame.pts is None:  # some AVIs carry no pts: step the clock by 1/fps
                    t = last_t + fallback_dt if np.isfinite(last_t) else 0.0
                else:
                    t = _seconds(frame.pts, frame.time_base or time_base, origin)  # (deinterlaced: its own time base)
                if t <= last_t:  # a repeated or out-of-order time would break filters downstream
                    stats.skipped_corrupt += 1
                    continue
                if seek and not np.isfinite(last_t) and t > first[0]:
                    break  # the seek landed past --start's first frame: tried further back
                last_t = t
                index = int(np.searchsorted(times, t)) if seek else stats.decoded
                stats.decoded += 1
                if t < start_s:  # before --start: decoded (the frames after depend on it), never made RGB
                    continue
                if end_s is not None and t >= end_s:  # (the frame at --end is the next span's first)
                    break
                glances.append((t, index, glance(frame, tone)))
                if not thinning.keep(t):
                    if between is not None:
                        skipped.append(FrameBetween(index, t * moment, frame, (width, height), between, info.rotate, info.mirror,
                                                    tone, cut))
                        del skipped[:-MAX_BETWEEN]
                    continue
                made = VideoFrame(index=index, timestamp_s=t * moment, image=shown(frame, (width, height), info.rotate, info.mirror, tone, cut),
                                  scale=scale, between=tuple(skipped), glances=tuple(glances))
                stats.yielded += 1
                yield made
                skipped, glances = [], []
                if max_frames is not None and stats.yielded >= max_frames:
                    return
            else:
                if seek and not np.isfinite(last_t):
                    continue  # the seek found no frame (an MPEG-TS has no index): tried further back
                break  # the whole file (from the seek) decoded
            if end_s is not None and last_t >= end_s:
                break  # --end reached
        except av.error.FFmpegError as exc:
            decode_error = _first_line(exc)
            if stats.decoded == 0:
                raise InputError(path, f"no decodable video frames ({decode_error})") from exc
            stats.skipped_corrupt += 1
            break
        finally:
            container.close()
    if (start_s or end_s is not None) and stats.decoded and not stats.yielded:
        span = f"from --start {start_s:g} s" + (f" to before --end {end_s:g} s" if end_s is not None else " on")
        raise InputError(path, f"has no frame {span}" + ("" if end_s is not None else f" (its last is at {last_t:.2f} s)"))
    if end_s is not None and last_t >= end_s:
        return  # (ended at --end: the file's own end was not reached, so not judged)
    _check_whole(path, info, stats, last_t, decode_error)


def _check_whole(path: Path, info: VideoInfo, stats: DecodeStats, last_t: float, decode_error: str | None) -> None:
    """After the last frame: an InputError if nothing decoded, or if the file ended long before the
    length it declares (cut short: its index intact, its data not)."""
    if stats.decoded == 0:
        detail = f" ({decode_error})" if decode_error else ""
        raise InputError(path, f"no decodable video frames{detail}")
    if info.duration_s > 0 and last_t + 1.0 < 0.9 * info.duration_s:
        raise InputError(path, f"is truncated: the container declares {info.duration_s:.1f} s, frames stop at {last_t:.1f} s")
