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
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from nvwa.errors import InputError
from nvwa.video.hdr import ToneMap
from nvwa.video.info import VideoInfo
from nvwa.video.repeats import Repeats
from nvwa.video.shown import deinterlaced, first_look, glance, moving_streams, pixel_aspect, shown, video_stream
from nvwa.video.speed import tagged_capture_fps
from nvwa.video.thinning import FrameRate, Thinning, frame_rate


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
    repeated: int = 0  # frames that repeated the picture before them, not analysed (``iter_frames(repeats=True)``)
    held: int = 0  # frames looked at again only as a picture held still for HOLD_S (not a new picture)
    looked: int = 0  # frames looked at (from --start to --end), ...
    pictures_s: float = 0.0  # ... over these seconds played, the first to the last


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
    repeats: bool = False,
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
    moment's frames; ``start_s`` and ``end_s`` count the seconds played. ``repeats``: a frame that repeats the
    picture before it (:mod:`nvwa.video.repeats`) is not yielded, nor counted by the thinning (``max_fps`` then
    goes by the frames' times, ``stride`` counts the new pictures), and ``stats.repeated`` counts it. Corrupt
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
        stats.decoded = stats.skipped_corrupt = stats.repeated = stats.held = stats.looked = 0
        same = Repeats() if repeats else None
        first_t = None
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
                first_t = t if first_t is None else first_t
                stats.looked, stats.pictures_s = stats.looked + 1, t - first_t
                if same is not None:
                    if same.repeated(frame, t):  # (not even a frame between: the same picture)
                        stats.repeated += 1
                        thinning.by_time()
                        continue
                    stats.held += same.held
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
