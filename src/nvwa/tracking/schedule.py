"""When the people tracker's detector passes run, and which of them are full: a pass every ``detect_every``
frames and ``detect_every_s`` apart (0.09 s by default: a 60-fps video is searched every 6th frame, as often
as a 30-fps one every 3rd; 0: by count alone); a full canvas on one pass used in ``full_pass_every`` and at
most every ``full_pass_every_s`` seconds of video where asked, the coarse canvas on those between. A 30-fps
video is searched every 0.1 s, three times as often as a 10-fps one; at 0.3 s its large people are proposed
as often as before, its small ones at a 10-fps video's pace. With nobody tracked every frame is searched, a
full pass among them every 0.3 s (a 10-fps video's at frames 0, 3, 6..., coarse between)."""

from __future__ import annotations

SLACK_S = 5e-4  # s: timestamps' rounding (a 10-fps video's 0.3 after 0.6 is 0.29999...)


class PassSchedule:
    """The detector passes of one video, as the tracker schedules and uses them."""

    def __init__(self, config):
        self.config = config  # a TrackerConfig
        self.last_pass: tuple[int, float | None] | None = None  # the frame number and time of the last scheduled pass
        self.passes_used = 0  # the passes whose proposals were used
        self.last_full_s: float | None = None  # the time of the last full pass used

    def due(self, frame_no: int, timestamp_s: float | None) -> bool:
        """Is the frame ``frame_no`` at ``timestamp_s`` (s) one for a pass: ``detect_every`` frames and, where
        asked, ``detect_every_s`` after the last (a frame of unknown time is not)? With seconds off, time plays
        no part: every ``detect_every`` frames."""
        if self.last_pass is None:
            return True
        frame, t = self.last_pass
        if frame_no - frame < self.config.detect_every:
            return False
        if self.config.detect_every_s <= 0:
            return True
        return timestamp_s is not None and timestamp_s - t >= self.config.detect_every_s - SLACK_S

    def scheduled(self, frame_no: int, timestamp_s: float | None) -> None:
        self.last_pass = (frame_no, timestamp_s)

    def full(self, timestamp_s: float | None) -> bool:
        """Is a pass at ``timestamp_s``, the next one used, full: one in ``full_pass_every`` and, where asked,
        ``full_pass_every_s`` after the last full one (a frame of unknown time is)?"""
        c = self.config
        if self.passes_used % c.full_pass_every:
            return False
        return (c.full_pass_every_s <= 0 or timestamp_s is None or self.last_full_s is None
                or timestamp_s - self.last_full_s >= c.full_pass_every_s - SLACK_S)

    def used(self, timestamp_s: float | None, full: bool | None) -> None:
        """A pass's proposals were used at ``timestamp_s``; ``full``: it was full (None: the proposer has no such thing)."""
        self.passes_used += 1
        if full and timestamp_s is not None:
            self.last_full_s = timestamp_s
