"""Video probe and streaming decode (PyAV)."""

from nvwa.video.ahead import read_ahead
from nvwa.video.complete import check_complete
from nvwa.video.decode import DecodeStats, VideoFrame, VideoInfo, frame_times, iter_frames, probe_video
from nvwa.video.picture import picture_borders

__all__ = ["DecodeStats", "VideoFrame", "VideoInfo", "check_complete", "frame_times", "iter_frames", "picture_borders", "probe_video", "read_ahead"]
