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


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_inputs_raise_one_line_error_naming_the_file(tmp_path, kind):
    path = _bad(tmp_path, kind)
    with pytest.raises(InputError) as err:
        for _ in iter_frames(path):
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
