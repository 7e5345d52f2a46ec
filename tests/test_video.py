"""Probe + streaming decode: timestamps from the container, stride, downscale, and every bad input."""

from pathlib import Path

import numpy as np
import pytest

from conftest import DATA, make_video
from nvwa.errors import InputError
from nvwa.video import DecodeStats, iter_frames, probe_video


def test_probe_real_clip():
    info = probe_video(DATA / "vtest_4s.mp4")
    assert (info.width, info.height) == (768, 576)
    assert info.fps == pytest.approx(10.0)
    assert info.codec == "h264"


def test_frames_carry_container_timestamps_and_are_downscaled():
    frames = list(iter_frames(DATA / "sports2d_3s.mp4", max_side=400, max_frames=5))
    assert len(frames) == 5
    assert frames[0].image.shape == (224, 400, 3)  # 884x496 stored, even sizes
    assert frames[0].scale == pytest.approx(400 / 884)
    t = [f.timestamp_s for f in frames]
    assert np.allclose(np.diff(t), 1 / 30, atol=1e-3)


def test_stride_keeps_every_nth_frame_with_its_own_time():
    frames = list(iter_frames(DATA / "vtest_4s.mp4", stride=3, max_frames=4))
    assert [f.index for f in frames] == [0, 3, 6, 9]
    assert [round(f.timestamp_s, 3) for f in frames] == [0.0, 0.3, 0.6, 0.9]


def test_frames_thinned_out_ride_on_the_next_analysed_one_as_the_caller_made_them():
    """``between``: each analysed frame carries the frames decoded since the one before and not analysed,
    made by the caller's function from the very RGB an analysed frame would have (the camera's motion
    needs them grey exactly as the analysed ones, a grey level apart moved its corners), and only when
    asked for; the latest MAX_BETWEEN at most; without thinning, none."""
    from nvwa.video.decode import MAX_BETWEEN

    every = {f.index: f.image for f in iter_frames(DATA / "vtest_4s.mp4", max_side=320, max_frames=40)}
    made = []
    frames = list(iter_frames(DATA / "vtest_4s.mp4", max_side=320, stride=3, max_frames=4,
                              between=lambda image: made.append(image.shape) or image[::2, ::2].copy()))
    assert [[b.index for b in f.between] for f in frames] == [[], [1, 2], [4, 5], [7, 8]]
    assert not made  # none made before it is asked for
    for f in frames:
        for b in f.between:
            assert np.array_equal(b.image(), every[b.index][::2, ::2]) and b.timestamp_s < f.timestamp_s
    assert made == [every[0].shape] * 6
    far = list(iter_frames(DATA / "vtest_4s.mp4", max_side=320, stride=MAX_BETWEEN + 4, max_frames=2, between=np.copy))
    assert [b.index for b in far[1].between] == list(range(4, MAX_BETWEEN + 4))  # the latest ones
    assert all(not f.between for f in iter_frames(DATA / "vtest_4s.mp4", max_side=320, max_frames=5, between=np.copy))
    assert all(not f.between for f in iter_frames(DATA / "vtest_4s.mp4", max_side=320, stride=3, max_frames=3))


def test_decode_is_a_stream_not_a_list():
    it = iter_frames(DATA / "vtest_4s.mp4")
    first = next(it)
    assert first.index == 0  # a generator hands frames over before the file is read through
    it.close()


def test_variable_frame_rate_times_are_kept(tmp_path):
    import av

    path = tmp_path / "vfr.mkv"
    out = av.open(str(path), "w")
    s = out.add_stream("mjpeg", rate=1000)
    s.width, s.height, s.pix_fmt = 32, 32, "yuvj420p"
    s.codec_context.time_base = __import__("fractions").Fraction(1, 1000)
    pts = [0, 40, 50, 130, 140]
    for p in pts:
        f = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        f.pts = p
        f.time_base = s.codec_context.time_base
        for pk in s.encode(f):
            out.mux(pk)
    for pk in s.encode():
        out.mux(pk)
    out.close()
    t = [f.timestamp_s for f in iter_frames(path)]
    assert t == pytest.approx([0.0, 0.04, 0.05, 0.13, 0.14], abs=1e-3)


def test_corrupt_frames_in_the_middle_are_skipped_and_counted(tmp_path):
    path = make_video(tmp_path / "c.mkv", n=10, corrupt={3, 4})
    stats = DecodeStats()
    frames = list(iter_frames(path, stats=stats))
    assert len(frames) == 8
    assert stats.skipped_corrupt == 2
    assert [round(f.timestamp_s, 2) for f in frames] == [0.0, 0.1, 0.2, 0.5, 0.6, 0.7, 0.8, 0.9]


def _bad(tmp_path: Path, kind: str) -> Path:
    if kind == "missing":
        return tmp_path / "nope.mp4"
    if kind == "directory":
        d = tmp_path / "adir.mp4"
        d.mkdir()
        return d
    if kind == "empty":
        p = tmp_path / "empty.mp4"
        p.write_bytes(b"")
        return p
    if kind == "text":
        p = tmp_path / "notes.mp4"
        p.write_text("this is a text file, not a video\n" * 50)
        return p
    if kind == "truncated":
        data = (DATA / "vtest_4s.mp4").read_bytes()
        p = tmp_path / "truncated.mp4"
        p.write_bytes(data[: len(data) // 2])
        return p
    if kind == "no-frames":
        return make_video(tmp_path / "allbad.mkv", n=6, corrupt=set(range(6)))
    raise AssertionError(kind)


BAD = {
    "missing": "no such file",
    "directory": "is a directory",
    "empty": "is empty",
    "text": "not a readable video",
    "truncated": "not a readable video",
    "no-frames": "no decodable video frames",
}


@pytest.mark.parametrize("max_fps", [0, 30])  # 30: the packets' times are read first
@pytest.mark.parametrize("kind", list(BAD))
def test_bad_inputs_raise_one_line_error_naming_the_file(tmp_path, kind, max_fps):
    path = _bad(tmp_path, kind)
    with pytest.raises(InputError) as err:
        for _ in iter_frames(path, max_fps=max_fps):
            pass
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(str(path))
    assert BAD[kind] in msg


def test_truncated_file_with_index_up_front_is_caught(tmp_path):
    """A file whose index survived but whose data stops early decodes fewer frames than it declares."""
    import av

    src = DATA / "vtest_4s.mp4"
    fast = tmp_path / "fast.mp4"
    with av.open(str(src)) as inp, av.open(str(fast), "w", options={"movflags": "faststart"}) as out:
        s_in = inp.streams.video[0]
        s_out = out.add_stream_from_template(s_in)
        for pk in inp.demux(s_in):
            if pk.dts is None:
                continue
            pk.stream = s_out
            out.mux(pk)
    data = fast.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.5)])
    with pytest.raises(InputError, match="truncated|no decodable|not a readable"):
        for _ in iter_frames(cut):
            pass


def test_frames_read_ahead_on_a_thread_are_the_same_and_errors_and_early_stops_are_clean():
    """read_ahead: the same frames in the same order; a truncated file's error raised where it would
    have been; stopping after two frames ends the decoding thread."""
    import threading

    from nvwa.video import read_ahead

    clip = DATA / "vtest_4s.mp4"
    direct = [f.image for f in iter_frames(clip, max_frames=12)]
    ahead = [f.image for f in read_ahead(iter_frames(clip, max_frames=12), ahead=2)]
    assert len(ahead) == 12 and all(np.array_equal(a, b) for a, b in zip(direct, ahead))
    gen = read_ahead(iter_frames(clip), ahead=2)
    next(gen), next(gen)
    gen.close()
    assert not any(t.name == "decode" and t.is_alive() for t in threading.enumerate())

    def broken():
        yield from iter_frames(clip, max_frames=3)
        raise InputError(str(clip), "ends early")

    got = []
    with pytest.raises(InputError, match="ends early"):
        for f in read_ahead(broken()):
            got.append(f)
    assert len(got) == 3


def _kept(times, fps, stride=1, max_fps=30.0, tick=0.0):
    from nvwa.video.thinning import Thinning, frame_rate

    thinning = Thinning(fps, stride, max_fps, frame_rate(times, tick).variable)
    return np.array([i for i, t in enumerate(times) if thinning.keep(t)])


@pytest.mark.parametrize("fps", [10, 24, 29.97, 30.2, 31, 34, 50, 59.94, 60, 90, 120, 240])
@pytest.mark.parametrize("time_base", [None, 1e-3, 1 / 600, 1 / 90000])
def test_a_steady_video_keeps_every_nth_frame_exactly_whatever_its_time_base(fps, time_base):
    """At --max-fps 30 a steady video keeps frames 0, n, 2n, ... with n from its container's rate: it is told
    steady where its times are rounded to a millisecond (a 34-fps clip's steps are 29 and 30 ms), jitter (a
    phone's clock: 0.7 ms, at most 4% of a step) or skip a dropped frame; --stride 3 on top."""
    from nvwa.video.thinning import frame_rate, frame_step

    n = int(fps * 4)
    t = np.arange(n) / fps
    if time_base:
        t = np.round(t / time_base) * time_base
    jittered = np.sort(np.arange(n) / fps + np.random.default_rng(int(fps)).normal(0, min(7e-4, 0.04 / fps), n))
    dropped = np.delete(np.arange(n) / fps, [n // 4, n // 2, n // 2 + 2, 3 * n // 4])
    assert not any(frame_rate(x, time_base or 0.0).variable for x in (t, jittered, dropped))
    for stride in (1, 3):
        step = frame_step(fps, stride, 30.0)
        assert np.array_equal(_kept(t, fps, stride, tick=time_base or 0.0), np.arange(0, n, step))
    assert np.array_equal(_kept(jittered, fps), np.arange(0, n, frame_step(fps, 1, 30.0)))
    assert np.array_equal(_kept(t, fps, 1, 0.0), np.arange(n))  # --max-fps 0: every frame


@pytest.mark.parametrize("stretches, analysed", [
    ([(60, 1.0), (30, 1.0), (60, 1.0)], [30, 30, 30]),
    ([(60, 0.5), (30, 5.0)], [30, 30]),  # averaging 32.7 fps: the average's step of 2 made the 30-fps stretch 15
    ([(30, 5.0), (60, 0.5)], [30, 30]),
    ([(60, 1.0), (24, 2.0)], [30, 24]),
    ([(120, 1.0), (60, 1.0)], [30, 30]),
    ([(30, 1.0), (15, 1.0), (30, 1.0)], [30, 15, 30])])
def test_each_stretch_of_a_variable_rate_video_is_analysed_at_up_to_max_fps(stretches, analysed):
    """A variable-rate video (told so by stretches of 3 steps or more at another rate) is analysed at up to
    30 fps in each stretch, where its rate turns too (the steps there: the stretch's own or 1/30 s)."""
    from nvwa.video.thinning import frame_rate

    t, start = [], 0.0
    for fps, seconds in stretches:
        t.append(start + np.arange(int(fps * seconds)) / fps)
        start += seconds
    t = np.concatenate(t)
    assert frame_rate(t).variable
    kept = t[_kept(t, (len(t) - 1) / (t[-1] - t[0]))]
    start = 0.0
    for (fps, seconds), rate in zip(stretches, analysed):
        inside = kept[(kept >= start) & (kept < start + seconds - 1e-9)]
        assert len(inside) == pytest.approx(rate * seconds, abs=1)
        start += seconds
    steps = np.diff(kept)
    assert np.isclose(steps[:, None], [1 / 30] + [1 / r for r in analysed]).any(axis=1).all()


def test_a_variable_rate_video_is_analysed_at_up_to_max_fps_in_each_stretch(tmp_path):
    """A phone's clip at 60 fps, then 30 in low light, then 60 (a real file, 1/90000 time base, 0.5 ms of
    jitter): each stretch is analysed at 30 fps, where its rate turns too; every n-th frame from the
    container's average (50 fps: every 2nd) analysed the 30-fps stretch at 15."""
    import av

    rng = np.random.default_rng(1)
    t = np.r_[np.arange(60) / 60, 1 + np.arange(30) / 30, 2 + np.arange(60) / 60] + rng.uniform(-5e-4, 5e-4, 150)
    path = tmp_path / "phone.mp4"
    out = av.open(str(path), "w")
    s = out.add_stream("mjpeg", rate=45)
    s.width, s.height, s.pix_fmt = 32, 32, "yuvj420p"
    s.codec_context.time_base = __import__("fractions").Fraction(1, 90000)
    for i, ti in enumerate(t):
        f = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i, np.uint8), format="rgb24")
        f.pts, f.time_base = int(round(ti * 90000)), s.codec_context.time_base
        for pk in s.encode(f):
            out.mux(pk)
    for pk in s.encode():
        out.mux(pk)
    out.close()
    info = probe_video(path)
    assert 45 < info.fps < 55  # the container's average: 150 frames in 3 s
    frames = list(iter_frames(path, max_fps=30))
    times = np.array([f.timestamp_s for f in frames])
    steps = np.diff(times)
    assert len(frames) == 90 and (np.abs(steps - 1 / 30) < 0.002).all()
    assert ((times > 0.99) & (times < 1.98)).sum() == 30  # the 30-fps stretch: its every frame
    assert [f.index for f in iter_frames(path, stride=2)] == list(range(0, 150, 2))  # --stride alone: by position
    assert len(list(iter_frames(path))) == 150


def test_a_steady_video_with_a_webcams_clock_or_stray_frames_is_analysed_whole():
    """A minute of 30-fps webcam video in milliseconds, its frames 2-5 ms early or late (or a tenth of them
    12 ms late): steady, every frame kept (told variable by any 3 steps off the median, it lost 5-19% of
    them). Five stray extra frames put its average at 30.5 fps, over 30 by 1%: its usual rate (the median
    time 10 frames take) is still 30, every frame kept, not every 2nd."""
    from nvwa.video.thinning import frame_rate

    rng = np.random.default_rng(7)
    clean = np.arange(1800) / 30
    for t in [*(clean + rng.normal(0, j, 1800) for j in (0.002, 0.003, 0.005)), clean + 0.012 * (rng.random(1800) < 0.1)]:
        t = np.unique(np.round(t * 1000) / 1000)
        rate = frame_rate(t, 0.001)
        assert not rate.variable and rate.fps == pytest.approx(30, abs=0.1) and len(_kept(t, 30.0, tick=0.001)) == len(t)
    strays = np.sort(np.r_[clean[:300], (np.array([50, 100, 150, 200, 250]) + 0.5) / 30])
    rate = frame_rate(strays)
    assert not rate.variable and rate.fps == pytest.approx(30) and len(_kept(strays, rate.fps)) == 305


def test_a_variable_rate_is_seen_in_a_time_base_of_one_frame():
    """An AVI or MP4 timed in whole 60-fps frames (1/60 s), falling to 30 fps for a second: each step is 1
    or 2 ticks, so no rounding allowance of a tick and a half may hide it; told variable, kept at 30 fps."""
    from nvwa.video.thinning import frame_rate

    t = np.r_[np.arange(0, 60), np.arange(60, 120, 2), np.arange(120, 180)] / 60
    rate = frame_rate(t, 1 / 60)
    assert rate.variable and round(rate.slowest) == 30 and round(rate.fastest) == 60
    kept = t[_kept(t, 50.0, tick=1 / 60)]
    assert np.allclose(np.diff(kept), 1 / 30)


def test_packet_times_are_the_decoders_own_and_a_file_without_them_is_steady(tmp_path):
    """The times read before decoding are the decoded frames' to the bit (the progress total counts the
    frames kept of them); a stream whose packets carry no times gives none (thinned by position)."""
    from nvwa.video import frame_times

    t, tick = frame_times(DATA / "vtest_4s.mp4")
    assert t.tolist() == [f.timestamp_s for f in iter_frames(DATA / "vtest_4s.mp4", max_side=64)] and tick > 0
    import av

    raw = tmp_path / "raw.h264"  # an elementary stream: no container, no times
    with av.open(str(raw), "w", format="h264") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            for packet in s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), format="rgb24")):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    assert len(frame_times(raw)[0]) == 0 and len(list(iter_frames(raw, max_fps=30))) == 10


def _sports_frames(n: int) -> list[np.ndarray]:
    import av

    with av.open(str(DATA / "sports2d_3s.mp4")) as c:
        return [f.to_ndarray(format="rgb24") for _, f in zip(range(n), c.decode(video=0))]


@pytest.mark.parametrize("rotation, turns", [(-90, 1), (90, -1), (180, 2)])
def test_a_phone_video_stored_on_its_side_is_handed_on_as_players_show_it(tmp_path, rotation, turns):
    """A phone filming upright stores its frames on their side with a display rotation (ffprobe: "rotation
    of -90.00 degrees"), which players apply. Its frames come out as shown: the upright file's very pixels,
    at the shown size (before, its people lay on their side and were dropped as never standing upright)."""
    frames = _sports_frames(4)  # real people, 884x496
    upright = make_video(tmp_path / "upright.mp4", 4, size=(884, 496), fps=30, codec="libx264",
                         frame_fn=frames.__getitem__, lossless=True)
    stored = [np.ascontiguousarray(np.rot90(f, turns)) for f in frames]  # turned back by the player
    side = make_video(tmp_path / "side.mp4", 4, size=stored[0].shape[1::-1], fps=30, codec="libx264",
                      frame_fn=stored.__getitem__, lossless=True, display_rotation=rotation)
    info = probe_video(side)
    assert (info.width, info.height, info.rotate, info.mirror) == (884, 496, (-rotation) % 360, False)
    assert probe_video(upright).rotate == 0
    shown = [f.image for f in iter_frames(side, max_side=None)]
    assert [f.shape for f in shown] == [(496, 884, 3)] * 4
    assert all(np.array_equal(a.image, b) for a, b in zip(iter_frames(upright, max_side=None), shown))
    small = list(iter_frames(side, max_side=400))
    assert small[0].image.shape == (224, 400, 3) and small[0].scale == pytest.approx(400 / 884)
    for a, b in zip(iter_frames(upright, max_side=400), small):  # the scaler's rounding differs by direction
        assert np.abs(a.image.astype(int) - b.image).max() <= 3
    # a frame thinned out (--stride, --max-fps) is turned too where the camera's motion asks for it
    thinned = list(iter_frames(side, max_side=None, stride=2, between=lambda image: image))
    assert np.array_equal(thinned[1].between[0].image(), shown[1])


U = 65536  # 1.0 in a display matrix's 16.16 fixed point


@pytest.mark.parametrize("abcd, rotate", [((-1, 0, 0, 1), 0), ((0, 1, 1, 0), 90), ((1, 0, 0, -1), 180), ((0, -1, -1, 0), 270)])
def test_a_display_matrix_that_mirrors_is_applied_as_ffmpeg_shows_it(tmp_path, abcd, rotate):
    """A display matrix may also mirror the picture. Each such matrix is shown as FFmpeg's own command line
    shows it (checked against ffmpeg 9.0.2's autorotation: turned clockwise by ``rotate``, then mirrored)."""
    frames = _sports_frames(2)
    a, b, c, d = abcd
    stored = [np.ascontiguousarray(np.rot90(f[:, ::-1], rotate // 90)) for f in frames]  # undone: unmirrored, turned back
    video = make_video(tmp_path / "mirrored.mp4", 2, size=stored[0].shape[1::-1], fps=30, codec="libx264",
                       frame_fn=stored.__getitem__, lossless=True)
    # set_display_matrix writes FFmpeg's layout: a, b, u / c, d, v / x, y, w
    _with_matrix(video, tmp_path / "m.mp4", [a * U, b * U, 0, c * U, d * U, 0, 0, 0, 1 << 30])
    upright = make_video(tmp_path / "upright.mp4", 2, size=(884, 496), fps=30, codec="libx264",
                         frame_fn=frames.__getitem__, lossless=True)
    info = probe_video(tmp_path / "m.mp4")
    assert (info.width, info.height, info.rotate, info.mirror) == (884, 496, rotate, True)
    shown = [f.image for f in iter_frames(tmp_path / "m.mp4", max_side=None)]
    assert len(shown) == 2 and all(np.array_equal(f.image, g) for f, g in zip(iter_frames(upright, max_side=None), shown))


def test_a_quarter_turn_that_also_scales_is_the_turn(tmp_path):
    """FFmpeg reads a display matrix's turn from each column on its own; the columns' lengths scale the
    picture, which its MP4 muxer writes as the pixels' aspect (ffmpeg 9.0.2: [0, 1, -2, 0] is "rotation of
    -90.00 degrees" with "SAR 2:1"). Both are applied, as a player shows it: turned, and twice as tall."""
    import cv2

    frames = _sports_frames(2)
    stored = [np.ascontiguousarray(np.rot90(f)) for f in frames]
    video = make_video(tmp_path / "side.mp4", 2, size=(496, 884), fps=30, codec="libx264", frame_fn=stored.__getitem__, lossless=True)
    upright = make_video(tmp_path / "upright.mp4", 2, size=(884, 496), fps=30, codec="libx264", frame_fn=frames.__getitem__, lossless=True)
    _with_matrix(video, tmp_path / "m.mp4", [0, U, 0, -2 * U, 0, 0, 0, 0, 1 << 30])
    info = probe_video(tmp_path / "m.mp4")
    assert (info.width, info.height, info.rotate, info.mirror, info.pixel_aspect) == (884, 992, 90, False, 2.0)
    for f, g in zip(iter_frames(tmp_path / "m.mp4", max_side=None), iter_frames(upright, max_side=None)):
        assert f.image.shape == (992, 884, 3)
        assert np.abs(cv2.resize(f.image, (884, 496), interpolation=cv2.INTER_AREA).astype(int) - g.image).mean() < 2


@pytest.mark.parametrize("matrix", [[0] * 9, [46341, 46341, 0, -46341, 46341, 0, 0, 0, 1 << 30]], ids=["degenerate", "45-deg"])
def test_a_display_matrix_that_is_no_quarter_turn_leaves_the_frames_as_stored(tmp_path, matrix):
    """A hostile or odd matrix (all zeros; a 45-degree tilt) is not applied: the frames as stored, no crash."""
    video = make_video(tmp_path / "plain.mp4", 3, size=(64, 48), fps=10, codec="libx264")
    _with_matrix(video, tmp_path / "m.mp4", matrix)
    info = probe_video(tmp_path / "m.mp4")
    assert (info.width, info.height, info.rotate, info.mirror) == (64, 48, 0, False)
    assert [f.image.shape for f in iter_frames(tmp_path / "m.mp4")] == [(48, 64, 3)] * 3


def _with_matrix(src: Path, dst: Path, matrix: list[int]) -> None:
    """``src``'s packets as they are, in a new file whose stream carries ``matrix`` as its display matrix."""
    import av

    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        s = o.add_stream_from_template(i.streams.video[0])
        s.set_display_matrix(matrix)
        for packet in i.demux(i.streams.video[0]):
            if packet.dts is not None:
                packet.stream = s
                o.mux(packet)


def test_pixels_stored_wider_than_tall_are_shown_square_as_players_show_them(tmp_path):
    """HDV and DV store wide pixels (a sample aspect ratio: 1440x1080 shown 1920 wide). The frames come
    out stretched to square pixels, so a person is as wide as they look (not 3/4 of it), at the shown size."""
    from fractions import Fraction

    import cv2

    frames = _sports_frames(3)  # 884x496, stored squeezed to 663 wide with 4:3 pixels
    squeezed = [cv2.resize(f, (663, 496), interpolation=cv2.INTER_AREA) for f in frames]
    video = make_video(tmp_path / "hdv.mp4", 3, size=(663, 496), fps=30, codec="libx264",
                       frame_fn=squeezed.__getitem__, lossless=True, pixel_aspect=Fraction(4, 3))
    info = probe_video(video)
    assert (info.width, info.height, info.pixel_aspect) == (884, 496, pytest.approx(4 / 3))
    shown = [f.image for f in iter_frames(video, max_side=None)]
    assert [f.shape for f in shown] == [(496, 884, 3)] * 3
    assert all(np.abs(f.astype(int) - g).mean() < 4 for f, g in zip(shown, frames))  # the original, less the squeeze's blur
    # turned as well (a phone's rotation on wide pixels): the stretch is the stored frame's, then the turn
    sideways = [np.ascontiguousarray(np.rot90(f)) for f in squeezed]  # 496 wide, 663 tall: its pixels now tall
    video = make_video(tmp_path / "both.mp4", 3, size=(496, 663), fps=30, codec="libx264",
                       frame_fn=sideways.__getitem__, lossless=True, display_rotation=-90, pixel_aspect=Fraction(3, 4))
    info = probe_video(video)
    assert (info.width, info.height, info.rotate, info.pixel_aspect) == (884, 496, 90, 0.75)  # stretched tall, turned
    assert all(np.abs(f.image.astype(int) - g).mean() < 4 for f, g in zip(iter_frames(video, max_side=None), frames))
    assert probe_video(DATA / "vtest_4s.mp4").pixel_aspect == 1.0


def test_a_pixel_aspect_that_is_unset_or_absurd_leaves_the_frames_as_stored(tmp_path):
    """An unset sample aspect ratio (0/1, as most files have) is square pixels; one outside 1/4-4 is a broken
    header's (the stream's, else the codec's, is read), and a file that has one is decoded as stored."""
    from fractions import Fraction
    from types import SimpleNamespace

    from nvwa.video.shown import pixel_aspect

    def stream(own, codec):
        return SimpleNamespace(sample_aspect_ratio=own, codec_context=SimpleNamespace(sample_aspect_ratio=codec))

    for own, codec, want in ((None, None, 1.0), (Fraction(0), Fraction(0), 1.0), (Fraction(1000), None, 1.0),
                             (Fraction(1, 1000), Fraction(1, 1000), 1.0), (None, Fraction(4, 3), 4 / 3),
                             (Fraction(1000), Fraction(3, 4), 0.75), (Fraction(16, 11), Fraction(3, 4), 16 / 11)):
        assert pixel_aspect(stream(own, codec)) == pytest.approx(want), (own, codec)
    video = make_video(tmp_path / "unset.mp4", 2, size=(64, 48), fps=10, codec="libx264", pixel_aspect=Fraction(0))
    info = probe_video(video)
    assert (info.width, info.height, info.pixel_aspect) == (64, 48, 1.0)
    assert [f.image.shape for f in iter_frames(video)] == [(48, 64, 3)] * 2


def test_rotate_turns_the_stored_frames_whatever_the_file_says(tmp_path):
    """--rotate: for a video stored turned without saying so (or saying it wrongly), the user's turn of the
    stored frames instead of the file's; 0 leaves them as stored."""
    from dataclasses import replace

    frames = _sports_frames(2)
    upright = make_video(tmp_path / "upright.mp4", 2, size=(884, 496), fps=30, codec="libx264",
                         frame_fn=frames.__getitem__, lossless=True)
    stored = [np.ascontiguousarray(np.rot90(f)) for f in frames]  # on its side, nothing said
    unsaid = make_video(tmp_path / "unsaid.mp4", 2, size=(496, 884), fps=30, codec="libx264",
                        frame_fn=stored.__getitem__, lossless=True)
    said = make_video(tmp_path / "said.mp4", 2, size=(496, 884), fps=30, codec="libx264",
                      frame_fn=stored.__getitem__, lossless=True, display_rotation=-90)
    assert replace(probe_video(unsaid).turned(90), path="") == replace(probe_video(said), path="")
    assert (probe_video(said).turned(0).width, probe_video(said).turned(0).height) == (496, 884)
    want = [f.image for f in iter_frames(upright, max_side=None)]
    assert all(np.array_equal(f.image, g) for f, g in zip(iter_frames(unsaid, max_side=None, rotate=90), want))
    as_stored = [f.image for f in iter_frames(unsaid, max_side=None)]
    assert all(np.array_equal(f.image, g) for f, g in zip(iter_frames(said, max_side=None, rotate=0), as_stored))
    with pytest.raises(InputError, match="rotate=45: must be 0, 90, 180 or 270"):
        next(iter_frames(unsaid, rotate=45))


def test_start_and_end_keep_the_frames_of_that_span_with_their_own_numbers_and_times():
    """--start/--end: one shot of an edited video, a moment of a long one. The frames from --start to before
    --end (the frame at --end is the next span's first), numbered and timed as in the whole video; --stride
    counts from the span's first frame; a span past the video's end or ending before it starts is one line."""
    frames = list(iter_frames(DATA / "vtest_4s.mp4", start_s=1.0, end_s=2.0))  # 10 fps
    assert [f.index for f in frames] == list(range(10, 20))
    assert np.allclose([f.timestamp_s for f in frames], np.arange(10, 20) / 10)
    whole = {f.index: f.image for f in iter_frames(DATA / "vtest_4s.mp4", max_frames=20)}
    assert all(np.array_equal(f.image, whole[f.index]) for f in frames)
    assert [f.index for f in iter_frames(DATA / "vtest_4s.mp4", start_s=1.0, end_s=2.0, stride=3)] == [10, 13, 16, 19]
    assert [f.index for f in iter_frames(DATA / "vtest_4s.mp4", start_s=3.75)] == [38, 39]
    with pytest.raises(InputError, match=r"vtest_4s.mp4: has no frame from --start 9 s on \(its last is at 3.90 s\)"):
        list(iter_frames(DATA / "vtest_4s.mp4", start_s=9.0))
    for start, end in ((2.0, 2.0), (2.0, 1.0), (-1.0, None), (float("nan"), None)):
        with pytest.raises(InputError, match="the span must start at 0 s or later and end after it starts"):
            next(iter_frames(DATA / "vtest_4s.mp4", start_s=start, end_s=end))


def _keyframe_every_10(tmp_path) -> Path:
    """6 s of real people at 10 fps, a keyframe every 10 frames."""
    import av

    path = tmp_path / "gop10.mp4"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 884, 496, "yuv420p"
        s.options = {"g": "10", "keyint_min": "10", "sc_threshold": "0", "bf": "0"}
        for i, image in enumerate(_sports_frames(60)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            for packet in s.encode(frame):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    return path


def test_start_seeks_to_the_keyframe_before_it_and_keeps_the_videos_own_numbers(tmp_path):
    """A moment of a long video is not decoded from its first frame: where the packets say every frame's
    time, the decoder seeks to the keyframe before --start (here a keyframe every 10 frames) and numbers each
    frame by its place among them: the same frames, numbers, times and pixels as decoding the whole file."""
    path = _keyframe_every_10(tmp_path)
    whole = {f.index: f for f in iter_frames(path, max_side=400)}
    stats = DecodeStats()
    part = list(iter_frames(path, max_side=400, start_s=3.05, end_s=5.0, stats=stats))
    assert [f.index for f in part] == list(range(31, 50))
    assert stats.decoded == 21  # frames 30-50: from the keyframe at 3.0 s (not the first frame) to the one at --end
    for f in part:
        assert f.timestamp_s == whole[f.index].timestamp_s and np.array_equal(f.image, whole[f.index].image)


def test_a_seek_that_lands_past_start_is_tried_further_back_then_from_the_first_frame(tmp_path, monkeypatch):
    """Some containers seek coarsely (an MPEG-TS lands on the keyframe after): where the first frame after the
    seek is later than --start's first, the seek is tried 2, 8 and 32 s further back, and at last the file is
    decoded from its first frame (no frame of the span lost); where seeking fails, from the first frame."""
    from nvwa.video import decode

    opened = decode._open

    class Coarse:  # a container whose seeks land 1.5 s past where they were asked to
        def __init__(self, path, fail):
            self._c, self._fail = opened(path), fail

        def __getattr__(self, name):
            return getattr(self._c, name)

        def seek(self, offset, stream, **kw):
            if self._fail:
                raise decode_error("seeking is not supported")
            self._c.seek(offset + int(1.5 / stream.time_base), stream=stream, **kw)

    import av

    def decode_error(message):
        return av.error.FFmpegError(0, message)

    path = _keyframe_every_10(tmp_path)
    whole = {f.index: f for f in iter_frames(path, max_side=200)}
    for fail in (False, True):
        monkeypatch.setattr(decode, "_open", lambda path, fail=fail: Coarse(path, fail))
        stats = DecodeStats()
        part = list(iter_frames(path, max_side=200, start_s=3.05, end_s=5.0, stats=stats))
        # landing past --start, the seek is tried 2 s further back (frames 20-50); where seeking fails, frames 0-50
        assert [f.index for f in part] == list(range(31, 50)) and stats.decoded == (51 if fail else 31)
        assert all(np.array_equal(f.image, whole[f.index].image) for f in part)
