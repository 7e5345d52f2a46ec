"""A film stored at a faster rate (24 pictures a second in 30 fps, 20 in 30, 24 in 60): its pictures timed an
even step apart, as filmed, not each at its first showing (nvwa.video.cadence); a recorder's dropped frames and
a variable-rate video's times left as they are."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import DATA, REPO

from nvwa.video.cadence import MIN_S, even_times, evenly_timed


def _film(pictures_s: float, fps: float, seconds: float, phase: float = 0.0):
    """A film's pictures (``pictures_s`` a second, the first ``phase`` of a frame in) as a ``fps`` video shows
    them: each first at the frame after its moment -> those frames' numbers, their times, and the pictures'
    true moments."""
    moments = np.arange(int(seconds * pictures_s)) / pictures_s + phase / fps
    frames = np.ceil(moments * fps - 1e-9).astype(np.int64)
    return frames, frames / fps, moments


@pytest.mark.parametrize("pictures_s, fps, late_ms", [(24, 30, 25.0), (20, 30, 16.7), (24, 60, 8.3), (25, 30, 26.7),
                                                      (24000 / 1001, 30000 / 1001, 25.0)])
def test_a_film_stored_at_a_faster_rate_is_timed_as_filmed(pictures_s, fps, late_ms):
    frames, shown, moments = _film(pictures_s, fps, 3.0)
    assert np.abs(shown - moments).max() * 1000 == pytest.approx(late_ms, abs=0.1)  # (first showings: this late)
    times, cadences = even_times(frames, shown)
    assert np.abs(times - moments).max() < 1e-9  # (the film's first picture shows at its moment: exactly)
    assert [(c.first, c.last) for c in cadences] == [(frames[0], frames[-1])]
    assert cadences[0].pictures_per_s == pytest.approx(pictures_s) and cadences[0].earliest_ms == pytest.approx(late_ms, abs=0.1)


def test_a_film_whose_pictures_fall_between_frames_is_timed_an_even_step_apart_within_a_frame_of_them():
    """Its pictures' moments a third of a frame after the frames' (or before): timed an even step apart, the
    step the film's, each within a frame of its first showing and of its moment, none before the video's
    first frame."""
    for phase in (1 / 3, -1 / 3):
        frames, shown, moments = _film(24, 30, 3.0, phase=phase)
        times, _ = even_times(frames, shown)
        assert np.diff(times) == pytest.approx(np.full(len(times) - 1, 1 / 24)) and times[0] >= shown[0]
        assert np.abs(times - shown).max() < 1 / 30 and np.abs(times - moments).max() < 1 / 30


def test_a_cut_between_two_cadences_and_a_held_picture_break_the_line():
    """24 pictures a second in 30 fps, then a cut to 20; and a picture held a quarter-second (looked at again
    only as held): each part timed on its own line (the first pictures after the cut may go on the line before,
    within a frame of their moments), the held frames where they were."""
    a, sa, ma = _film(24, 30, 2.0)
    b, sb, mb = _film(20, 30, 2.0)
    b, sb, mb = b + a[-1] + 1, sb + (a[-1] + 1) / 30, mb + (a[-1] + 1) / 30
    held = np.array([b[-1] + 8, b[-1] + 16])
    frames, shown = np.r_[a, b, held], np.r_[sa, sb, held / 30]
    times, cadences = even_times(frames, shown)
    assert [round(c.pictures_per_s, 6) for c in cadences] == [24, 20]
    assert np.abs(times[:len(a)] - ma).max() < 1e-9 and np.abs(times[len(a) + 3:-2] - mb[3:]).max() < 1e-9
    assert np.abs(times[len(a):-2] - mb).max() < 1 / 30
    assert (times[-2:] == shown[-2:]).all()


def test_frames_every_new_picture_dropped_frames_and_a_variable_rate_are_left_as_they_are():
    rng = np.random.default_rng(0)
    for frames, times in [
        (np.arange(90), np.arange(90) / 30),  # every frame a new picture
        (np.arange(0, 180, 2), np.arange(0, 180, 2) / 60),  # 30 pictures a second in 60 fps: already even
        (np.flatnonzero(rng.random(90) >= 1 / 3), None),  # a recorder dropping a third of its frames at random
        (np.r_[0:30, 31:60], None),  # one dropped frame (a line of 59 pictures in 60 frames, but one long step)
        (np.arange(90), np.cumsum(rng.normal(1 / 30, 0.004, 90))),  # a phone's variable rate, with no repeats
    ]:
        times = frames / 30 if times is None else times
        moved, cadences = even_times(frames, times)
        assert cadences == [] and np.array_equal(moved, times), frames
    frames, shown, _ = _film(24, 60, MIN_S - 0.05)  # a cadence with 11 steps of each length, but under MIN_S of it
    assert even_times(frames, shown)[1] == [] and len(even_times(*_film(24, 60, MIN_S + 0.1)[:2])[1]) == 1


def test_a_matroska_films_millisecond_times_and_a_clip_begun_mid_cadence():
    """A Matroska (or WebM) file's times are whole milliseconds (33, 34 ms at 30 fps): still one cadence, timed
    as filmed within the rounding. A clip cut from a film where a picture had shown for a frame already: its
    first picture's moment was before the video's first frame: the pictures timed an even step apart from that
    frame's time on (none before it), each within a frame of its moment."""
    frames, shown, moments = _film(24, 30, 30.0)
    times, cadences = even_times(frames, np.round(shown, 3))
    assert len(cadences) == 1 and cadences[0].pictures_per_s == pytest.approx(24, rel=1e-4)
    assert np.abs(times - moments).max() < 0.0011 and np.diff(times).min() > 1 / 24 - 0.0011
    for skip in (2, 3, 4):  # (the clip begins at the copy's frame 2, 3 or 4: moments before it)
        frames, shown, moments = _film(24, 30, 3.0)
        keep = frames >= skip
        f, t, m = frames[keep] - skip, shown[keep] - skip / 30, moments[keep] - skip / 30
        times, _ = even_times(f, t)
        assert times[0] == t[0] == 0.0 and np.diff(times) == pytest.approx(np.full(len(times) - 1, 1 / 24)), skip
        assert np.abs(times - m).max() < 1 / 30


def test_cadences_of_long_steps_far_apart_are_found_whole_and_one_of_no_simple_step_is_left():
    """NTSC's 23.976 pictures a second in 30 fps and 59.94 in 60 (a long step every 16.7 s) over 2 minutes: one
    cadence each, every picture as filmed (no run cut up, where a run's end met untouched frames with a 6-ms
    step). 29 in 30 has no simple step (30/29 frames): left as it is, as random drops are."""
    for pictures_s, fps in ((24000 / 1001, 30), (60000 / 1001, 60)):
        frames, shown, moments = _film(pictures_s, fps, 120.0)
        times, cadences = even_times(frames, shown)
        assert len(cadences) == 1 and np.abs(times - moments).max() < 1e-9, (pictures_s, len(cadences))
    frames, shown, _ = _film(29, 30, 120.0)
    assert even_times(frames, shown)[1] == []


def test_the_people_and_the_cameras_track_are_timed_alike():
    """The observations' every analysed frame (the background's track) decides the cadence; a person seen on
    some of them gets those frames' times, and the track its own, so the camera's turn and the people stay
    together; --film-cadence shown leaves both as observed."""
    from nvwa.camera.background import CameraTrack
    from nvwa.observations import Observations, PersonObservations

    frames, shown, moments = _film(24, 30, 3.0)
    n = len(frames)
    track = CameraTrack(frames, shown, np.tile(np.eye(3), (n, 1, 1)), np.full(n, 50, np.int32), np.zeros(n, np.int8),
                        np.zeros(n, np.float32), np.tile(np.eye(3), (n, 1, 1)))
    rows = np.arange(10, 50)  # (a person seen from the 11th picture to the 50th)
    person = PersonObservations(3, frames[rows], shown[rows], np.zeros((40, 33, 2), np.float32),
                                np.zeros((40, 33, 3), np.float32), np.ones((40, 33), np.float32))
    obs = Observations({"width": 320, "height": 240, "fps": 30.0}, "blazepose33", "blazepose", "tracker", np.eye(3),
                       "default", {}, (person,), camera_track=track)
    timed, note = evenly_timed(obs)
    assert np.abs(timed.camera_track.timestamp_s - moments).max() < 1e-9
    assert np.abs(timed.people[0].timestamp_s - moments[rows]).max() < 1e-9
    assert np.array_equal(timed.people[0].frame_index, frames[rows]) and note.startswith("a film stored at a faster rate")
    assert np.array_equal(obs.camera_track.timestamp_s, shown)  # (the observations given are left as they were)


def _jitter(person) -> float:
    """The mean change of the root's speed from one frame to the next (m/s): a stutter's."""
    t, root = np.asarray(person.timestamp_s), np.asarray(person.root_world)
    return float(np.abs(np.diff(np.linalg.norm(np.diff(root, axis=0), axis=1) / np.diff(t))).mean())


def test_a_24_fps_film_stored_at_30_is_timed_as_the_film_stored_at_24(blazepose, tmp_path):
    """Sports2D's 3 s as a film: its 90 frames as the pictures of a 24-fps film, stored losslessly at 24 fps
    and, every 4th picture shown twice, at 30. The 30-fps copy's people are timed as the 24-fps copy's, each
    picture as filmed, and the walker's speed changes from frame to frame as the film's does, where timed at
    their first showings it stutters; --film-cadence shown times each at its first showing. (The tracker, which
    runs on the first showings' times, makes other choices on a few frames: the poses are not the same.)"""
    sys.path.insert(0, str(REPO / "bench"))
    from repeated_frames import repeated_copy

    from nvwa.observations import load_observations
    from nvwa.pipeline import Pipeline, PipelineConfig
    from nvwa.reconstruct import ReconstructConfig, reconstruct
    from nvwa.scene import load_scene

    at24 = repeated_copy(DATA / "sports2d_3s.mp4", tmp_path / "at24.mp4", rate=24, crf=0)
    at30 = repeated_copy(DATA / "sports2d_3s.mp4", tmp_path / "at30.mp4", [k * 24 // 30 for k in range(113)], rate=30, crf=0)
    for video in (at24, at30):
        list(Pipeline(PipelineConfig(), body=blazepose).run(video, tmp_path / video.stem))
    (_, a), (summary, b) = load_scene(tmp_path / "at24"), load_scene(tmp_path / "at30")
    assert b["person_ids"].tolist() == a["person_ids"].tolist() and len(a["person_ids"]) == 2
    for pid in a["person_ids"].tolist():
        assert np.allclose(b[f"person/{pid}/timestamp_s"], a[f"person/{pid}/timestamp_s"], atol=1e-9), pid
    assert ("a film stored at a faster rate, its pictures analysed 24 times a second (3.73 s of it, from 0 s): timed an "
            "even step apart, as filmed, each up to 25 ms before its first showing") in " ".join(summary["grounding"]["warnings"])
    obs = load_observations(tmp_path / "at30")
    even, shown = reconstruct(obs), reconstruct(obs, ReconstructConfig(film_cadence="shown"))
    film = {q.person_id: q for q in reconstruct(load_observations(tmp_path / "at24")).people}
    first = {p.person_id: p for p in obs.people}
    for q in shown.people:  # (at their first showings: as observed)
        assert np.array_equal(q.timestamp_s, first[q.person_id].timestamp_s[np.isin(first[q.person_id].frame_index, q.frame_index)])
    assert not any("a film stored" in w for w in shown.grounding["warnings"])
    walker = max(film, key=lambda pid: film[pid].timestamp_s[0])  # (comes in later; the jumper is there from the start)
    steady, stutter = (_jitter(next(q for q in s.people if q.person_id == walker)) for s in (even, shown))
    assert steady < 1.15 * _jitter(film[walker]) < 1.15 * stutter, (steady, _jitter(film[walker]), stutter)
