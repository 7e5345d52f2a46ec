"""Frames that show the picture before them again (a 24-fps film stored at 30, a screen recording, a webcam's
dropped frames): each picture is analysed at most once, at its first showing (nvwa.video.repeats)."""

from __future__ import annotations

import sys
from fractions import Fraction

import numpy as np
import pytest
from conftest import DATA, REPO, make_video

from nvwa.video import DecodeStats, iter_frames
from nvwa.video.repeats import (
    HOLD_S,
    LOOSE_GREY,
    MOVING_S,
    REPEAT_GREY,
    Repeats,
    analysed_count,
    repeats_note,
)


def _street(picture: int, size=(320, 240), step: int = 1) -> np.ndarray:
    """A textured still background with a small figure (12x24 px) walking ``step`` px a picture."""
    w, h = size
    image = np.random.default_rng(7).integers(40, 200, (h, w, 3), dtype=np.uint8)
    x = 20 + step * picture
    image[100:124, x:x + 12] = (250, 245, 240)  # (bright: 110 grey levels or so off the background)
    return image


def _frame(image: np.ndarray, fmt: str = "yuv420p"):
    import av

    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
    return frame if fmt == "rgb24" else frame.reformat(format=fmt)


def _figure_on_grey(x: int, contrast: int) -> np.ndarray:
    image = np.full((240, 320, 3), 100, np.uint8)
    image[100:124, x:x + 12] = 100 + contrast
    return image


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv420p10le", "nv12", "rgb24"])
def test_the_same_picture_again_is_a_repeat_and_a_figure_one_pixel_on_is_not(fmt):
    same = Repeats()
    assert not same.repeated(_frame(_street(0), fmt), 0.0)  # (the first frame is new)
    assert same.repeated(_frame(_street(0), fmt), 1 / 30)
    noisy = _street(0).astype(np.int16) + np.random.default_rng(1).integers(-6, 7, (240, 320, 3))  # codec noise
    assert same.repeated(_frame(np.clip(noisy, 0, 255).astype(np.uint8), fmt), 2 / 30)
    assert not same.repeated(_frame(_street(1), fmt), 3 / 30)  # the figure a pixel on
    assert same.repeated(_frame(_street(1), fmt), 4 / 30)
    assert not same.repeated(_frame(_street(1)[:120], fmt), 5 / 30)  # (another size: new)


def test_where_the_scene_moves_a_coarsely_re_encoded_repeat_is_still_a_repeat():
    """A picture shown again comes out of a coarse encoder up to ~34 grey levels off in a block (x264 at CRF 28).
    Where the last half-second's new pictures (6 at least) differed by ~120 (a figure walking 10 px a picture), a
    frame 30 off is a repeat (under a quarter of that, and under LOOSE_GREY); 20 off, too, where they differed by
    ~220 (up to LOOSE_GREY only). Before 6 pictures are seen, or where the scene moves a pixel a picture (~27 a
    picture), it is new, as everywhere (REPEAT_GREY)."""
    def coarse(image, off):  # (a 16x16 patch ``off`` grey levels off: a coarse encoder's picture shown again)
        out = image.astype(np.int16)
        out[40:56, 40:56] += off
        return np.clip(out, 0, 255).astype(np.uint8)

    for step, pictures, off, repeat in ((10, 6, 30, True), (10, 5, 30, False), (1, 8, 20, False), (10, 6, 40, False)):
        same = Repeats()
        for k in range(pictures + 1):
            assert not same.repeated(_frame(_street(k, step=step)), k / 30)
        assert same.repeated(_frame(coarse(_street(pictures, step=step), off)), (pictures + 1) / 30) == repeat, (step, pictures, off)
    assert REPEAT_GREY < 30 < LOOSE_GREY < 40


def _waving(k: int, x: int | None = None) -> np.ndarray:
    """A grey scene: a figure at ``x`` (or standing at 150) whose limb waves 2 px either way (50 grey levels)."""
    image = np.full((240, 320, 3), 100, np.uint8)
    left = 150 if x is None else x
    image[100:124, left:left + 12] = 250
    arm = 170 + round(2 * float(np.sin(k * 2 * np.pi / 15)))
    image[104:110, arm:arm + 20] = 150
    return image


def test_once_the_scene_slows_small_moves_are_seen_again_within_half_a_second():
    """A figure walks 10 px a picture, then stands and waves a limb (moves of ~12-25 grey levels a frame, under
    the walk's loose rule). The rule is the walk's for at most MOVING_S: from then on the waving is seen as it is
    without the walk before it (it was seen only at the hold's looks, 4 a second, for as long as it went on)."""
    walk = [_waving(0, x=20 + 10 * k) for k in range(10)]
    waving = [_waving(k) for k in range(45)]

    def new(pictures):
        same = Repeats()
        return [k for k, image in enumerate(pictures) if not same.repeated(_frame(image), k / 30)]

    after = [k - 10 for k in new(walk + waving) if k >= 10]
    alone = new(waving)
    assert [k for k in after if k >= MOVING_S * 30 + 1] == [k for k in alone if k >= MOVING_S * 30 + 1]
    assert len(alone) > 10


def test_a_faint_edge_a_pixel_on_is_seen_once_it_has_moved_further():
    """A 4x4 block across an edge one pixel on differs by a quarter of its contrast: 100 grey levels are seen at
    once; 30 are not, and the frames after are compared with the same last new picture, so 2 pixels more are."""
    same = Repeats()
    assert not same.repeated(_frame(_figure_on_grey(50, 100)), 0.0)
    assert not same.repeated(_frame(_figure_on_grey(51, 100)), 1 / 30)
    assert not same.repeated(_frame(_figure_on_grey(50, 30)), 2 / 30)
    assert same.repeated(_frame(_figure_on_grey(51, 30)), 3 / 30)
    assert not same.repeated(_frame(_figure_on_grey(52, 30)), 4 / 30)


def test_a_picture_held_long_is_analysed_again_every_quarter_second():
    """A still scene (or a stalled recording): nothing changes, and it is looked at again every HOLD_S, so a
    person standing still is not left unseen."""
    same, picture = Repeats(), _frame(_street(0))
    fresh = [t for t in np.arange(60) / 30 if not same.repeated(picture, float(t))]
    assert np.diff(fresh) == pytest.approx(np.full(len(fresh) - 1, 8 / 30))  # the first frame HOLD_S on
    assert 8 / 30 >= HOLD_S > 7 / 30 and len(fresh) == 8


def _film_at(tmp_path, shown, fps, name="copy.mp4", **kw):
    return make_video(tmp_path / name, len(shown), size=(320, 240), fps=fps, codec="libx264",
                      frame_fn=lambda k: _street(shown[k]), options={"crf": "18", "threads": "1"}, **kw)


def test_a_24_fps_film_stored_at_30_is_analysed_once_a_picture_at_its_first_showing(tmp_path):
    """Every 5th frame shows the picture before again (x264 at CRF 18, so a repeat is not bit for bit the
    same): each picture is yielded once, with its first showing's number and time; --repeated-frames keep
    (``repeats=False``) yields every frame."""
    shown = [int(k * 24 // 30) for k in range(60)]  # 0 0 1 2 3 4 4 5 ... (k * 24/30, rounded down)
    video = _film_at(tmp_path, shown, 30)
    stats = DecodeStats()
    frames = list(iter_frames(video, max_fps=30, stats=stats, repeats=True))
    first = [k for k in range(60) if k == 0 or shown[k] != shown[k - 1]]
    assert [f.index for f in frames] == first and len(first) == 48
    assert [f.timestamp_s for f in frames] == pytest.approx([k / 30 for k in first])
    assert (stats.repeated, stats.looked, stats.yielded, stats.held) == (12, 60, 48, 0)
    assert stats.pictures_s == pytest.approx(59 / 30)
    assert sum(len(f.glances) for f in frames) == 60  # (the cuts' look sees every frame, repeats too)
    assert repeats_note(stats.repeated, stats.held, stats.looked, stats.pictures_s).startswith(
        "12 of 60 frames show the picture before them again (a film stored at a faster rate, a screen recording, a still "
        "scene); its pictures change 24 times a second: each picture is analysed at most once")
    every = DecodeStats()
    assert [f.index for f in iter_frames(video, max_fps=30, stats=every)] == list(range(60)) and every.repeated == 0


def test_a_film_in_matroska_whose_times_are_whole_milliseconds_is_analysed_a_picture_at_a_time_at_max_fps_30(tmp_path):
    """A Matroska file's times are whole milliseconds: its 30-fps frames 33 and 34 ms apart. Once a repeat had
    the frames' times thin them, 33 ms read as 30.3 fps, over --max-fps 30, and every 2nd picture was left out
    (55 of 72 analysed); a frame is never counted shorter than the video's own."""
    shown = [int(k * 24 // 30) for k in range(90)]
    video = _film_at(tmp_path, shown, 30, name="copy.mkv")
    frames = list(iter_frames(video, max_fps=30, repeats=True))
    assert [f.index for f in frames] == [k for k in range(90) if k == 0 or shown[k] != shown[k - 1]]
    assert {round(f.timestamp_s, 3) for f in frames} == {round(f.timestamp_s, 6) for f in frames}  # (whole ms)


def test_a_30_fps_picture_in_a_60_fps_screen_recording_is_each_analysed_once_at_max_fps_30(tmp_path):
    """A recorder at 60 fps a little off the picture's 30: each picture is shown twice, now and then three
    times. Every 2nd frame, as --max-fps 30 keeps of a 60-fps video, analysed those shown three times twice;
    with the repeats left out, the frames' times thin them, and each picture is analysed once."""
    shown = [int(k * 29 / 60) for k in range(120)]  # 29 pictures a second recorded at 60: a picture thrice every second
    video = _film_at(tmp_path, shown, 60)
    frames = list(iter_frames(video, max_fps=30, repeats=True))
    assert [shown[f.index] for f in frames] == sorted(set(shown))
    naive = [shown[f.index] for f in iter_frames(video, max_fps=30)]  # (every 2nd frame: 2 pictures twice)
    assert len(naive) == 60 and len(set(naive)) == len(set(shown)) == 58


@pytest.mark.parametrize("fps", [Fraction(32), Fraction(61, 2)])
def test_a_repeat_in_a_video_a_little_over_max_fps_leaves_its_thinning_at_every_2nd_frame(tmp_path, fps):
    """A steady 32- or 30.5-fps video at --max-fps 30 is analysed at every 2nd frame; one repeated picture (a
    still opening) makes the thinning go by the frames' times from then on, and it still keeps every 2nd frame."""
    shown = [0, 0, *range(1, 63)]
    video = _film_at(tmp_path, shown, fps)
    kept = [f.index for f in iter_frames(video, max_fps=30, repeats=True)]
    assert 30 <= len(kept) <= 33 and kept[0] == 0 and 1 not in kept, kept


def test_the_progress_counts_the_frames_a_run_with_repeats_will_analyse():
    """As the share analysed so far says, never under those done; not known (0) where the run is well past it,
    as where a damaged index lists half the frames; at most --max-frames."""
    assert analysed_count(10, 12, 24, 180) == 90 and analysed_count(95, 95, 190, 180) == 95
    assert analysed_count(120, 150, 300, 150) == 0  # (the index said 150 frames: 300 are there, 150 analysed so far)
    assert analysed_count(10, 12, 24, 180, cap=50) == 50 and analysed_count(0, 0, 0, 180) == 0


def test_a_doubled_clip_gives_the_scene_of_the_clip_itself(blazepose, tmp_path):
    """Sports2D's 3 s, each frame shown twice in a 60-fps file (losslessly, so the pictures are the clip's): the
    same people, at the same times, to the bit, as the clip stored once at 30 fps; the summary says how many
    frames repeated and how often the pictures change. --repeated-frames keep analyses all 180."""
    sys.path.insert(0, str(REPO / "bench"))
    from repeated_frames import repeated_copy

    from nvwa.config import VideoConfig
    from nvwa.pipeline import Pipeline, PipelineConfig
    from nvwa.scene import load_scene

    once = repeated_copy(DATA / "sports2d_3s.mp4", tmp_path / "once.mp4", crf=0)
    twice = repeated_copy(DATA / "sports2d_3s.mp4", tmp_path / "twice.mp4", [k // 2 for k in range(180)], rate=60, crf=0)
    for video in (once, twice):
        list(Pipeline(PipelineConfig(), body=blazepose).run(video, tmp_path / video.stem))
    (_, a), (summary, b) = load_scene(tmp_path / "once"), load_scene(tmp_path / "twice")
    assert b["person_ids"].tolist() == a["person_ids"].tolist() and len(a["person_ids"]) == 2
    for pid in a["person_ids"].tolist():
        for key in ("timestamp_s", "root_world", "joints_world", "local_rotations"):
            assert np.array_equal(b[f"person/{pid}/{key}"], a[f"person/{pid}/{key}"]), (pid, key)
        assert np.array_equal(b[f"person/{pid}/frame_index"], 2 * a[f"person/{pid}/frame_index"])
    assert summary["stats"]["repeated_frames"] == 90
    assert "90 of 180 frames show the picture before them again (a film stored at a faster rate, a screen recording, a " \
           "still scene); its pictures change 30 times a second" in " ".join(summary["stats"]["notes"])
    every = Pipeline(PipelineConfig(VideoConfig(repeated_frames="keep", max_fps=0)), body=blazepose)
    obs = next(e for e in every.observe(twice) if e.stage == "observed").data["observations"]
    assert obs.stats["frames"] == 180 and obs.stats["repeated_frames"] == 0
    # every frame asked for, each picture once: the progress counts the 90 analysed, not the 180 it expected
    events = list(Pipeline(PipelineConfig(VideoConfig(max_fps=0)), body=blazepose).observe(twice))
    steps = [e for e in events if e.stage == "frame"]
    assert events[0].total == 180 and steps[-1].done == steps[-1].total == 90
    assert all(abs(e.total - 90) <= 9 for e in steps[5:]), sorted({e.total for e in steps})  # (the decoder runs ahead)
