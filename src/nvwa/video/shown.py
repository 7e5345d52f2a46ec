"""How a player shows a decoded frame, and a glance at it: a phone filming upright stores its frames on their
side with a display matrix that players apply, some videos store pixels wider than tall (a sample
aspect ratio) that players stretch square, and a camcorder's or a broadcast's interlaced frames weave two
moments 1/50 or 1/60 s apart, which players make whole again. The frames handed on
(:mod:`nvwa.video.decode`) are the ones shown: whole, turned, mirrored where the matrix flips, pixels square.
Which stream is shown is chosen here too: not a cover picture, and the largest where a file holds several.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nvwa.video.hdr import ToneMap, hdr_kind, side_data, transfer_code

# A display matrix's 2x2 part, each entry's sign (FFmpeg's m[0], m[1], m[3], m[4]) -> how a player shows the
# stored frame: turned clockwise by so many degrees, then mirrored left to right or not. The eight are
# FFmpeg's own player's (its command line's autorotation), checked frame by frame against it.
_SHOWN = {(1, 0, 0, 1): (0, False), (0, 1, -1, 0): (90, False), (-1, 0, 0, -1): (180, False), (0, -1, 1, 0): (270, False),
          (-1, 0, 0, 1): (0, True), (0, 1, 1, 0): (90, True), (1, 0, 0, -1): (180, True), (0, -1, -1, 0): (270, True)}
_TURNS = {90: "ROTATE_90_CLOCKWISE", 180: "ROTATE_180", 270: "ROTATE_90_COUNTERCLOCKWISE"}


def orientation(frame) -> tuple[int, bool]:
    """How a player shows a decoded frame, from its display matrix: (degrees turned clockwise, mirrored).
    A matrix that is not a quarter turn (a tilt, a degenerate one) is left unapplied, as if absent."""
    matrix = next((raw for name, raw in side_data(frame) if name.endswith("DISPLAYMATRIX")), None)
    if matrix is None or len(matrix) != 36:
        return 0, False
    a, b, c, d = np.frombuffer(matrix, dtype="<i4").astype(np.float64)[[0, 1, 3, 4]]
    # each column by its own length, as FFmpeg reads the turn (a column longer than the other scales the
    # picture: FFmpeg's MP4 muxer writes that as the pixels' aspect, which :func:`pixel_aspect` reads)
    first, second = np.hypot(a, c), np.hypot(b, d)
    if not (first > 0 and second > 0):
        return 0, False
    m = np.array([a / first, b / second, c / first, d / second])
    signs = np.round(m)
    if np.abs(m - signs).max() > 0.1:  # more than ~6 degrees off a quarter turn
        return 0, False
    return _SHOWN.get(tuple(int(x) for x in signs), (0, False))


def pixel_aspect(stream) -> float:
    """A stored pixel's width over its height (the stream's sample aspect ratio); 1.0 where it is unset,
    not a number or outside 1/4 to 4 (no video has such pixels: a broken header's)."""
    for owner in (stream, stream.codec_context):
        try:
            ratio = owner.sample_aspect_ratio
            aspect = float(ratio) if ratio else 0.0
        except (AttributeError, ValueError, ZeroDivisionError):
            continue
        if 0.25 <= aspect <= 4.0:
            return aspect
    return 1.0


def moving_streams(container) -> list:
    """The file's video streams that move: not a cover picture (which a song or a podcast carries as a
    one-frame video stream)."""
    import av

    cover = int(getattr(getattr(av.stream, "Disposition", None), "attached_pic", 1024))
    return [s for s in container.streams.video if not int(s.disposition) & cover]


def video_stream(container):
    """The video stream to analyse, or None: of the streams that move and that FFmpeg can decode, the one with
    the most pixels, the first of those that tie (a security camera's recording can hold a small preview
    stream, its default, beside the main one)."""
    moving = [s for s in moving_streams(container) if s.codec_context is not None]  # (None: no decoder for it)
    sized = [s for s in moving if s.codec_context.width and s.codec_context.height]  # (a size unread: not ranked)
    return max(sized, key=lambda s: s.codec_context.width * s.codec_context.height, default=moving[0] if moving else None)


def first_look(container, stream) -> tuple[int, bool, bool, str]:
    """The stream's first frame that decodes, looked at: its display rotation (degrees clockwise, mirrored),
    whether it is stored interlaced and whether it is HDR ("PQ", "HLG" or ""); (0, False, False, "") where none
    decodes within a few packets (the decoding proper then says what is wrong). A frame that does not say its
    transfer is HDR where the stream says so (an MP4's colour box tagged PQ over a bitstream that is not)."""
    tagged = transfer_code(stream.codec_context)  # (read before decoding, which may overwrite it)
    frame = first_decoded(container, stream, 64)
    if frame is None:
        return 0, False, False, ""
    return (*orientation(frame), bool(frame.interlaced_frame), hdr_kind(frame, tagged))


def first_decoded(container, stream, max_packets: int, skip_damaged: bool = True):
    """The first frame ``stream`` decodes from where ``container`` stands, within ``max_packets`` packets; a
    damaged packet is passed over (``skip_damaged``) or ends the look. None where no frame comes (FFmpeg's
    errors included)."""
    import av

    try:
        for n, packet in enumerate(container.demux(stream)):
            if n >= max_packets:
                return None
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                if skip_damaged:
                    continue
                return None
            for frame in frames:
                return frame
    except av.error.FFmpegError:
        return None
    return None


def deinterlaced(decoded: Iterator[tuple]) -> Iterator[tuple]:
    """(frame, error) pairs as :func:`nvwa.video.decode._decoded` makes them, with every frame stored
    interlaced made whole as a player makes it (FFmpeg's bwdif, one frame out for each frame in, at its first
    field's moment); frames stored whole pass as they are, and nothing is filtered until a frame is stored
    interlaced. The filter holds one frame back to look at the next, so frames come one late, the last
    at the end. A frame's time is then in its own time base (``frame.time_base``), not the stream's.

    Two moments woven into one frame comb whatever moves, a leg or an arm by a few pixels a line: measured
    on the lab's views made 1080i (README), the person's joints came out 6 mm worse by PA-MPJPE on cam03, and
    as good as the whole frames' again deinterlaced."""
    import av
    import av.filter

    graph = sink = None
    shape = None
    for frame, error in decoded:
        if frame is None:
            yield frame, error
            continue
        if graph is None and not frame.interlaced_frame:
            yield frame, None
            continue
        if shape != (frame.width, frame.height, frame.format.name):  # (the first, or the size changed midway)
            if graph is not None:
                yield from ((f, None) for f in _drained(graph, sink, flush=True))
            graph, shape = av.filter.Graph(), (frame.width, frame.height, frame.format.name)
            source = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                                      time_base=frame.time_base)
            bwdif, sink = graph.add("bwdif", "mode=send_frame:parity=auto:deint=interlaced"), graph.add("buffersink")
            source.link_to(bwdif)
            bwdif.link_to(sink)
            graph.configure()
        graph.push(frame)
        yield from ((f, None) for f in _drained(graph, sink))
    if graph is not None:
        yield from ((f, None) for f in _drained(graph, sink, flush=True))


def _drained(graph, sink, flush: bool = False) -> Iterator:
    """The frames the filter has ready (all it holds where ``flush``)."""
    import av

    if flush:
        graph.push(None)
    while True:
        try:
            yield sink.pull()
        except (BlockingIOError, av.error.EOFError):
            return


_LUMA_FIRST = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p", "yuv411p",
               "yuv410p", "nv12", "nv21", "gray"}  # 8-bit formats whose first plane is the picture's brightness


_LUMA_FIRST_16 = {"yuv420p10le": 2, "yuv422p10le": 2, "yuv444p10le": 2, "yuv420p12le": 4, "yuv422p12le": 4,
                  "yuv444p12le": 4, "gray10le": 2, "gray12le": 4, "p010le": 8}  # ... in 16-bit words: the shift to 8 bits


def glance(frame, tone: ToneMap | None = None) -> np.ndarray:
    """A decoded frame as a 32x18 grey thumbnail (as stored, not turned), from its brightness plane read
    every few pixels (~0.1 ms a 1080p frame; converting the frame to RGB first costs ~2.5 ms, a 4K 10-bit
    frame to grey 4-5 ms: a phone's HEVC, every frame of which is looked at); an HDR frame's greys as ``tone``
    maps them (the cuts' dark frames and pictures are then an SDR frame's)."""
    import cv2

    step = max(1, min(frame.height // 72, frame.width // 128))
    return cv2.resize(np.ascontiguousarray(luma(frame, step, tone)), (32, 18), interpolation=cv2.INTER_AREA)


def luma(frame, step: int = 1, tone: ToneMap | None = None) -> np.ndarray:
    """A decoded frame's brightness as 8-bit greys (as stored, not turned), every ``step``-th pixel both ways,
    read off its brightness plane where it has one (a view of it where it is 8-bit); an HDR frame's as ``tone``
    maps them, where given."""
    name = frame.format.name
    if name in _LUMA_FIRST or name in _LUMA_FIRST_16:
        plane, wide = frame.planes[0], name in _LUMA_FIRST_16
        grey = np.frombuffer(plane, "<u2" if wide else np.uint8).reshape(plane.height, plane.line_size // (1 + wide))
        small = grey[::step, :plane.width:step]
        if not wide:
            return small
        if tone is not None and tone.kind(frame):
            return tone.luma_table(frame)[small >> (_LUMA_FIRST_16[name] - 2)]  # (the 10-bit code's)
        return (small >> _LUMA_FIRST_16[name]).astype(np.uint8)
    # (RGB, paletted: rarer, and converted whole)
    return frame.to_ndarray(width=max(1, frame.width // step), height=max(1, frame.height // step), format="gray")


def shown(frame, size: tuple[int, int], rotate: int, mirror: bool, tone: ToneMap | None = None,
          cut: tuple | None = None) -> np.ndarray:
    """A decoded frame as RGB at ``size`` (width, height as shown), turned and mirrored as the file asks, an HDR
    frame tone-mapped by ``tone`` (:mod:`nvwa.video.hdr`). ``cut`` ((width, height) of the whole shown frame,
    (left, top, right, bottom) borders: :meth:`VideoInfo.cut`): the whole frame is made RGB at its own size, the
    picture inside the borders cut out, and that scaled to ``size`` (scaled first, the frame's edge between
    border and picture would fall inside a pixel and leave a sliver of bar: a straight edge the frame long)."""
    if cut is not None:
        import cv2

        (w, h), (left, top, right, bottom) = cut
        picture = shown(frame, (w, h), rotate, mirror, tone)[top:h - bottom, left:w - right]
        if picture.shape[1::-1] == tuple(size):
            return np.ascontiguousarray(picture)
        return cv2.resize(picture, tuple(size), interpolation=cv2.INTER_AREA)
    w, h = size[::-1] if rotate in (90, 270) else size
    if tone is not None and tone.kind(frame):
        image = tone.image(frame, (w, h))
    else:
        image = frame.to_ndarray(width=w, height=h, format="rgb24")
    if rotate or mirror:
        import cv2

        image = cv2.rotate(image, getattr(cv2, _TURNS[rotate])) if rotate else image
        image = cv2.flip(image, 1) if mirror else image
    return image


__all__ = ["deinterlaced", "first_decoded", "first_look", "glance", "moving_streams", "orientation", "pixel_aspect", "shown", "video_stream"]
