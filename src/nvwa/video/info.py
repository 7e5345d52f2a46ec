"""What a video file is, as a player shows it: its size, rate, turn, pixels, borders, HDR and its own clock
(:class:`VideoInfo`, from :func:`nvwa.video.decode.probe_video`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from nvwa.errors import InputError
from nvwa.video.speed import believable, believed_from_file, speed_text, time_scale


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


__all__ = ["VideoInfo"]
