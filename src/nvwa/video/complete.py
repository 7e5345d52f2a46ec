"""Whether an upload is whole: a file cut short whose index is intact opens and decodes its first frames fine,
and is found out only at its end."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from nvwa.errors import InputError
from nvwa.video.decode import _open, _origin, _seconds, probe_video
from nvwa.video.shown import video_stream


def check_complete(path: str | os.PathLike, max_packets: int = 600) -> None:
    """Raise InputError when the file ends long before the length its container declares: decode from
    the last keyframe before 95% of the duration to the end (a few dozen packets in a usual file; at most
    ``max_packets``, beyond which it is taken as complete). Catches an upload cut short whose index is
    intact (a faststart MP4 cut in half opens and decodes its first frames fine)."""
    import av

    path = Path(path)
    info = probe_video(path)
    if info.duration_s <= 0:
        return
    container = _open(path)
    try:
        stream = video_stream(container)
        time_base, origin = stream.time_base or Fraction(1, 1), _origin(container)
        last_t = last_packet_t = -1.0
        damaged = False
        try:
            container.seek(int((origin + Fraction(0.95 * info.duration_s)) / time_base), stream=stream, backward=True,
                           any_frame=False)
            for n, packet in enumerate(container.demux(stream)):
                if n >= max_packets:
                    return
                if packet.pts is not None:
                    last_packet_t = max(last_packet_t, _seconds(packet.pts, time_base, origin))
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    damaged = True
                    continue
                for frame in frames:
                    if frame.pts is None:  # some AVIs carry no times: nothing to judge by
                        return
                    last_t = max(last_t, _seconds(frame.pts, time_base, origin))
        except av.error.FFmpegError:
            pass  # judged by how far the frames got
    finally:
        container.close()
    if last_t < 0 and not damaged:  # whole packets and no frame: a seek to no keyframe (an MPEG-TS has no index)
        last_t = last_packet_t
    if last_t + 1.0 < 0.9 * info.duration_s:
        reached = f"frames stop at {last_t:.1f} s" if last_t >= 0 else "no frame decodes near its end"
        raise InputError(path, f"is truncated: the container declares {info.duration_s:.1f} s, {reached}")


__all__ = ["check_complete"]
