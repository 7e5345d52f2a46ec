"""Files as cameras, recorders and editors write them: interlaced frames, a transport stream's start time,
several video streams, a song's cover picture. Each is shown as a player shows it."""

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA, make_video
from nvwa.errors import InputError
from nvwa.video import DecodeStats, check_complete, frame_times, iter_frames, probe_video

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from slow_motion import stretched_copy  # noqa: E402  the slow-motion bench's copies: the same packets, times stretched


def _woven(path: Path, *, scan: str | None) -> Path:
    """Six 256x144 frames of a white bar moving right, filmed at 60 moments a second: moment i shows it at x
    40+10i to 80+10i. ``scan`` "tff" or "bff": two moments woven into each frame as a camcorder stores them
    (FFmpeg's interlace filter: moment 2k in the first field, 2k+1 in the second; HD cameras put the top
    field first, DV the bottom), flagged interlaced; None: the same woven frames flagged whole. Lossless."""
    import av
    import av.filter

    fields = []  # moment 2k in the first field, 2k+1 in the second (the top field: the even rows)
    for i in range(12):
        image = np.zeros((144, 256, 3), np.uint8)
        image[:, 40 + 10 * i:80 + 10 * i] = 255
        top = (i % 2 == 0) == ((scan or "tff") == "tff")
        field = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[0 if top else 1::2]), format="rgb24")
        fields.append(field.reformat(format="yuv420p"))
        fields[-1].pts, fields[-1].time_base = i, Fraction(1, 60)
    graph = av.filter.Graph()
    source = graph.add_buffer(width=256, height=72, format="yuv420p", time_base=Fraction(1, 60))
    weave = graph.add("weave", "first_field=" + ("top" if (scan or "tff") == "tff" else "bottom"))
    flag, sink = graph.add("setfield", scan or "tff"), graph.add("buffersink")
    source.link_to(weave)
    weave.link_to(flag)
    flag.link_to(sink)
    graph.configure()
    woven = []
    for field in [*fields, None]:
        graph.push(field)
        while True:
            try:
                woven.append(sink.pull())
            except (BlockingIOError, av.error.EOFError):
                break
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 256, 144, "yuv420p"
        s.options = {"qp": "0", "threads": "1", **({"flags": "+ildct+ilme"} if scan else {})}
        for k, frame in enumerate(woven):
            frame = frame if scan else av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            frame.pts, frame.time_base = k, Fraction(1, 30)
            for packet in s.encode(frame):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    return path


def _combing(image: np.ndarray) -> float:
    """How far each row differs from the next (grey levels): two moments woven comb whatever moves."""
    grey = image.astype(np.float32).mean(axis=2)
    return float(np.abs(grey[0:-1:2] - grey[1::2]).mean())


@pytest.mark.parametrize("scan", ["tff", "bff"])
def test_frames_stored_interlaced_are_made_whole_as_players_show_them(tmp_path, scan):
    """Two moments woven into one frame (a camcorder's 1080i, DV, broadcast) comb everything that moves.
    Players make such frames whole; so does the decoder (FFmpeg's bwdif): each frame shows the bar whole at
    its first field's moment, one frame out for each frame in, at the same times. A frame stored whole is
    left as it is, even one that looks woven."""
    woven = _woven(tmp_path / "interlaced.mp4", scan=scan)
    whole = _woven(tmp_path / "progressive.mp4", scan=None)
    info = probe_video(woven)
    assert info.interlaced and not probe_video(whole).interlaced
    made, kept = list(iter_frames(woven, max_side=None)), list(iter_frames(whole, max_side=None))
    assert [f.timestamp_s for f in made] == [f.timestamp_s for f in kept] == pytest.approx(np.arange(6) / 30)
    assert [f.index for f in made] == list(range(6))
    for k, (a, b) in enumerate(zip(made, kept)):
        assert _combing(b.image) > 15  # as stored: 10 of 256 columns alternate between the two moments' bars
        assert _combing(a.image) < 0.1 * _combing(b.image), k
        rows = a.image[:, :, 0].astype(int)
        assert (rows[:, 45 + 20 * k] > 200).all() and (rows[:, 85 + 20 * k] < 60).all(), k  # moment 2k's bar
    # a frame thinned out (--stride) is made whole too, where the camera's motion asks for it
    thinned = list(iter_frames(woven, max_side=None, stride=2, between=lambda image: image))
    assert np.array_equal(thinned[1].between[0].image(), made[1].image)


def test_times_count_from_the_files_start_as_players_count_them(tmp_path):
    """A transport stream's clock starts after 0. Its frames' times are counted from the file's start, as a
    player shows them, so the scene starts at 0 s and --start 1 is one second in."""
    import av

    path = make_video(tmp_path / "clip.ts", 20, codec="libx264")  # MPEG-TS, by its name
    with av.open(str(path)) as c:
        assert c.start_time > 0  # (PyAV's muxer: 0.2 s; FFmpeg's command line 1.4 s)
    info = probe_video(path)
    assert info.time_origin_s == pytest.approx(0.2, abs=0.05)
    frames = list(iter_frames(path))
    assert len(frames) == 20 and frames[0].timestamp_s == pytest.approx(0.0, abs=1e-6)
    assert np.allclose([f.timestamp_s for f in frames], np.arange(20) / 10)
    times, _ = frame_times(path)
    assert np.array_equal(times, [f.timestamp_s for f in frames])  # the packets' times, the same floats
    span = list(iter_frames(path, start_s=1.0, end_s=1.5))  # (one keyframe: the seek finds no frame, so
    assert [f.index for f in span] == [10, 11, 12, 13, 14]  # it is decoded from the first frame)
    assert all(np.array_equal(f.image, frames[f.index].image) for f in span)
    check_complete(path)  # the file is whole: its end is judged on the same clock, by the packets read
    # a keyframe every 5 frames, B-frames (its clock starts at 0.2 s): a transport stream's seek lands on the
    # keyframe after its target, so it is tried 2 s further back, not from the first frame
    path = make_video(tmp_path / "gop5.ts", 100, codec="libx264", options={"g": "5", "keyint_min": "5", "sc_threshold": "0"})
    assert probe_video(path).time_origin_s == pytest.approx(0.2, abs=0.05)
    whole, stats = {f.index: f for f in iter_frames(path)}, DecodeStats()
    span = list(iter_frames(path, start_s=8.1, end_s=8.5, stats=stats))
    assert [f.index for f in span] == [81, 82, 83, 84] and 6 <= stats.decoded <= 30  # (from the first: 86)
    assert all(f.timestamp_s == whole[f.index].timestamp_s and np.array_equal(f.image, whole[f.index].image) for f in span)


def _two_streams(path: Path) -> Path:
    """A recording with a small preview stream first (its default) and the main stream second, as some
    security cameras write: the preview grey 50, the main grey 200."""
    import av

    with av.open(str(path), "w") as out:
        streams = []
        for w, h in ((64, 36), (256, 144)):
            s = out.add_stream("libx264", rate=10)
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
            s.options = {"threads": "1"}
            streams.append(s)
        for i in range(10):
            for s, grey in zip(streams, (50, 200)):
                frame = av.VideoFrame.from_ndarray(np.full((s.height, s.width, 3), grey, np.uint8), format="rgb24")
                frame.pts = i
                for packet in s.encode(frame):
                    out.mux(packet)
        for s in streams:
            for packet in s.encode():
                out.mux(packet)
    return path


def test_of_several_video_streams_the_largest_is_analysed_and_the_summary_says_so(tmp_path):
    """A file with a 64x36 preview stream before its 256x144 main stream: the main one is analysed (before,
    the first, and people of a few pixels were looked for in it), and the summary says which."""
    path = _two_streams(tmp_path / "nvr.mkv")
    info = probe_video(path)
    assert (info.width, info.height, info.stream, info.video_streams) == (256, 144, 1, 2)
    assert info.notes() == ["the file holds 2 video streams: stream 1, the largest (256x144), is the one analysed"]
    frames = list(iter_frames(path, max_side=None))
    assert len(frames) == 10 and all(f.image.shape == (144, 256, 3) for f in frames)
    assert abs(int(frames[5].image.mean()) - 200) <= 3
    assert len(frame_times(path)[0]) == 10
    assert probe_video(make_video(tmp_path / "one.mp4", 3)).notes() == []


def test_a_song_with_a_cover_picture_is_not_a_video(tmp_path):
    """A song or a podcast carries its cover as a one-frame video stream: one line says so (before: "is
    truncated: the container declares 2.0 s, frames stop at 0.0 s")."""
    import av

    path = tmp_path / "song.mp4"
    with av.open(str(path), "w") as out:
        audio, cover = out.add_stream("aac", rate=44100), out.add_stream("mjpeg")
        cover.width, cover.height, cover.pix_fmt = 64, 48, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        picture = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 100, np.uint8), format="rgb24")
        for packet in [*cover.encode(picture.reformat(format="yuvj420p")), *cover.encode()]:
            out.mux(packet)
        for i in range(40):
            sound = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            sound.sample_rate, sound.pts = 44100, i * 1024
            for packet in audio.encode(sound):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    for read in (probe_video, lambda p: list(iter_frames(p)), frame_times):
        with pytest.raises(InputError, match=r"song.mp4: has no video stream \(only a cover picture\)$"):
            read(path)


def test_a_stream_with_no_decoder_here_and_an_animated_webp_are_one_line(tmp_path):
    """A video stream FFmpeg has no decoder for (an animated JPEG XL: PyAV's FFmpeg has none) crashed the probe
    (AttributeError on its missing codec context); FFmpeg reads an animated WebP's stream but cannot decode
    it (before: "video stream has no frame size"). Each is one line now, for the probe and the decoding."""
    import av

    jxl = Path(__file__).parent / "data" / "sports2d_3frames_jpegxl.jxl"
    with av.open(str(jxl)) as container:  # (the fixture is what it is meant to be: a video stream, no decoder)
        assert [s.type for s in container.streams] == ["video"] and container.streams.video[0].codec_context is None
    webp = tmp_path / "moving.webp"
    with av.open(str(webp), "w", format="webp") as out:
        stream = out.add_stream("libwebp_anim", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuva420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 60 * i, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame.reformat(format="yuva420p")))
        out.mux(stream.encode())
    for path, why in ((jxl, r"has a video stream, but no decoder for its codec$"),
                      (webp, r"is an animated WebP, which FFmpeg cannot decode \(save it as MP4 or GIF\)$")):
        for read in (probe_video, lambda p: list(iter_frames(p))):
            with pytest.raises(InputError, match=path.name + ": " + why):
                read(path)


def test_a_ten_bit_frame_is_glanced_at_from_its_brightness_plane_as_an_eight_bit_one():
    """Every decoded frame is looked at for cuts. A phone's HEVC is 10-bit: converting a 4K one to grey cost
    4-5 ms a frame of the decoding loop; its brightness plane is read as an 8-bit frame's is, and the
    thumbnail is the 8-bit frame's within a grey level (before, full-range grey: 6-8 levels off)."""
    import av

    from nvwa.video.shown import glance

    rng = np.random.default_rng(0)
    picture = np.repeat(np.repeat(rng.integers(0, 255, (18, 32, 3), dtype=np.uint8), 24, axis=0), 24, axis=1)  # 768x432
    frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
    eight = glance(frame.reformat(format="yuv420p")).astype(int)
    for name in ("yuv420p10le", "yuv422p10le", "yuv420p12le"):
        wide = frame.reformat(format=name)
        assert wide.format.name == name and np.abs(glance(wide).astype(int) - eight).max() <= 1, name


def test_a_slow_motion_is_analysed_in_real_time_as_the_moment_it_filmed(tmp_path):
    """A phone's slow motion plays its capture slower (Android tags the rate it filmed at): its frames carry
    the moment's times, and --max-fps counts the moment's frames a second, so the same moment stored to
    play 4x slower keeps the same frames at the same times. Before, they were 4x apart in time."""
    clip = DATA / "sports2d_3s.mp4"  # 90 frames at 30 fps
    whole = list(iter_frames(clip, max_side=160, max_fps=30))
    slow = stretched_copy(clip, tmp_path / "slow.mp4", 4, capture_fps=30)  # filmed at 30, plays at 7.5
    info = probe_video(slow)
    assert (info.fps, info.capture_fps, info.capture_from, info.time_scale) == (7.5, 30.0, "the file", 0.25)
    assert info.notes() == ["the video is a 4x slow motion, filmed at 30 frames a second and played at 7.5 (the file "
                            "says): the scene runs in real time (12 s played are 3 s of it); --start, --end and the "
                            "times of cuts count the seconds played"]
    frames = list(iter_frames(slow, max_side=160, max_fps=30))
    assert [f.index for f in frames] == [f.index for f in whole] == list(range(90))
    assert np.allclose([f.timestamp_s for f in frames], [f.timestamp_s for f in whole], atol=1e-9)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(frames, whole))
    assert [f.index for f in iter_frames(slow, max_side=160, max_fps=15)] == list(range(0, 90, 2))  # the moment's 15 fps
    # --start and --end count the seconds played (as a player shows them): 4 s played is the moment's 1 s
    span = list(iter_frames(slow, max_side=160, start_s=4.0, end_s=6.0, info=info))
    assert [f.index for f in span] == list(range(30, 45)) and span[0].timestamp_s == pytest.approx(1.0)
    # the same copy untagged plays as it is stored, unless the rate it was filmed at is given (--capture-fps)
    plain = stretched_copy(clip, tmp_path / "plain.mp4", 4)
    assert probe_video(plain).time_scale == 1.0 and probe_video(plain).notes() == []
    assert list(iter_frames(plain, max_side=160))[1].timestamp_s == pytest.approx(4 / 30)
    given = probe_video(plain).filmed_at(30, asked_by="--capture-fps")
    assert given.time_scale == 0.25 and "(--capture-fps says)" in given.notes()[0]
    assert np.allclose([f.timestamp_s for f in iter_frames(plain, max_side=160, info=given)], [f.timestamp_s for f in whole])
    # filmed at 240, played at 30: an 8x slow motion, analysed at the moment's 30 fps (every 8th frame)
    fast = stretched_copy(clip, tmp_path / "fast.mp4", 1, capture_fps=240)
    assert "an 8x slow motion" in probe_video(fast).notes()[0]
    kept = list(iter_frames(fast, max_side=160, max_fps=30))
    assert [f.index for f in kept] == list(range(0, 90, 8)) and kept[1].timestamp_s == pytest.approx(1 / 30)
    # a time-lapse: a frame every 2 s played at 30 fps; and a video tagged with its own rate is real time
    lapse = probe_video(stretched_copy(clip, tmp_path / "lapse.mp4", 1, capture_fps=0.5))
    assert lapse.time_scale == pytest.approx(60) and "a 60x time-lapse" in lapse.notes()[0]
    assert probe_video(stretched_copy(clip, tmp_path / "own.mp4", 1, capture_fps=29.97)).time_scale == 1.0


@pytest.mark.parametrize("tag", ["fast", "nan", "0", "-30", "1e30", "inf", "\x1b[31m240"])
def test_a_capture_rate_no_camera_has_is_not_believed_and_said_so(tmp_path, tag):
    """The file's capture rate is the file's word: one that is not a rate (a damaged or hostile file's) leaves
    the video as it plays, and the summary says what it said, printable."""
    import av

    clip = stretched_copy(DATA / "sports2d_3s.mp4", tmp_path / "clip.mp4", 1)
    tagged = tmp_path / "tagged.mp4"
    with av.open(str(clip)) as inp, av.open(str(tagged), "w", options={"movflags": "use_metadata_tags"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        out.metadata["com.android.capture.fps"] = tag
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    info = probe_video(tagged)
    assert (info.capture_fps, info.time_scale) == (0.0, 1.0)
    assert len(info.notes()) == 1 and info.notes()[0].startswith("the file says it was filmed at ")
    assert "which is not a camera's rate: it is analysed at the speed it plays" in info.notes()[0]
    assert "\x1b" not in info.notes()[0] and ("\\x1b" in info.notes()[0]) == (tag.startswith("\x1b"))  # (shown escaped)
    assert stretched_copy(clip, tmp_path / "then.mp4", 1).exists()  # (a file without the tag: nothing said)
    from nvwa.video.speed import CAPTURE_TAG, tagged_capture_fps

    assert tagged_capture_fps({CAPTURE_TAG: tag}, {CAPTURE_TAG: "120.000000"}) == (120.0, "")  # (the stream's, where believable)
    given = info.filmed_at(7.5, asked_by="--capture-fps").notes()  # (the user's rate stands; the file's word is not repeated)
    assert len(given) == 1 and given[0].startswith("the video is a 4x time-lapse, filmed at 7.5 frames a second")


def test_a_capture_rate_near_the_rate_played_or_beside_a_varying_rate_is_a_phones_ordinary_video(tmp_path):
    """Samsung's phones tag their every video with the rate they film at (30), and in low light its frames come
    slower (15-24 fps): that is no slow motion. The file's word is taken for a slow motion or a time-lapse of
    1.5x and more (a phone's are 2x and more) saved at a steady rate, and up to a 1,000x slow motion; the
    user's --capture-fps always."""
    clip = stretched_copy(DATA / "sports2d_3s.mp4", tmp_path / "dim.mp4", 1.25, capture_fps=30)  # plays at 24
    info = probe_video(clip)
    assert (info.capture_tag, info.capture_fps, info.time_scale) == (30.0, 0.0, 1.0)
    assert info.notes() == ["the file says it was filmed at 30 frames a second and it plays at 24: a 1.2x slow motion "
                            "is not a phone's, so it is analysed at the speed it plays (--capture-fps gives the rate it "
                            "was filmed at)"]
    assert list(iter_frames(clip, max_side=160, info=info))[1].timestamp_s == pytest.approx(1.25 / 30)
    assert info.filmed_at(30, 24, "--capture-fps").time_scale == 0.8  # (the user's word)
    varying = info.filmed_at(60, 30, variable=True)  # 2x, but its frames come at a varying rate
    assert varying.time_scale == 1.0 and "a varying rate (usually 30): a rate that falls in low light" in varying.notes()[0]
    assert info.filmed_at(60, 30).time_scale == 0.5  # the same, steady: a 2x slow motion
    assert [n[:33] for n in info.filmed_at(60, 30).notes()] == ["the video is a 2x slow motion, fi"]  # (the probe's doubt
    # about its own look, at the container's rate, is judged again against the frames' measured rate, not kept)
    assert info.filmed_at(30_001, 30).time_scale == 1.0 and "a 1,000x slow motion is not a phone's" in info.filmed_at(30_001, 30).notes()[0]
