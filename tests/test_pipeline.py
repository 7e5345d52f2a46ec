"""End to end with the real BlazePose model on short real clips (tests/data, see LICENSES.md there)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import DATA, REPO, make_video
from nvwa.pipeline import Pipeline, PipelineConfig
from nvwa.scene import SCENE_VERSION, load_scene


def _run(body, out, clip):
    """Process a clip with the session's one BlazePose backend; (events, output dir)."""
    return list(Pipeline(PipelineConfig(), body=body).run(DATA / clip, out)), out


@pytest.fixture(scope="module")
def vtest_scene(blazepose, tmp_path_factory):
    return _run(blazepose, tmp_path_factory.mktemp("vtest"), "vtest_4s.mp4")


@pytest.fixture(scope="module")
def sports_scene(blazepose, tmp_path_factory):
    return _run(blazepose, tmp_path_factory.mktemp("sports"), "sports2d_3s.mp4")


def test_progress_events_count_every_frame_then_complete(vtest_scene):
    events, _ = vtest_scene
    frames = [e for e in events if e.stage == "frame"]
    assert events[0].stage == "probe" and events[-1].stage == "complete"
    assert [e.done for e in frames] == list(range(1, 41))
    assert all(e.total == 40 for e in frames)


def test_grounded_event_carries_floor_gravity_camera_pose_and_supports(vtest_scene):
    events, out = vtest_scene
    stages = [e.stage for e in events]
    assert stages.index("grounded") < stages.index("smoothed") < stages.index("complete")  # phase 3 needs the floor
    g = next(e for e in events if e.stage == "grounded").data
    # gravity from the vanishing points of the mall's edges, the floor's height from the feet
    assert g["floor"]["method"] == "gravity" and g["floor"]["inliers"] >= 8
    assert g["calibration"]["vanishing_points"]["vertical_votes"] >= 20
    assert g["calibration"]["intrinsics"] == "vanishing points" and g["metric_scale"]["people"] >= 3
    assert np.allclose(np.asarray(g["gravity_cam"]), -np.asarray(g["floor"]["normal_cam"]))
    cam = g["camera"]
    assert cam["height_m"] > 1.0 and cam["pitch_deg"] > 0  # vtest's camera is mounted high, looking down
    M = np.asarray(cam["world_from_camera"])
    summary, arrays = load_scene(out)
    assert np.allclose(M[:3, :3], arrays["R_world_from_cam"]) and np.allclose(M[:3, 3], arrays["t_world_from_cam"])
    assert set(g["people"]) == {str(p) for p in arrays["person_ids"]}
    assert summary["camera"]["pitch_deg"] == pytest.approx(cam["pitch_deg"])


def test_several_small_people_are_found_and_tracked(vtest_scene):
    events, out = vtest_scene
    summary, arrays = load_scene(out)
    people = summary["people"]
    # The first 4 s of vtest.avi show 3-4 people walking, 60-120 px tall.
    assert len(people) >= 3
    long_tracks = [p for p in people if p["frames"] >= 20]
    assert len(long_tracks) >= 2  # at least two people kept one id for 2 s or more
    assert max(np.bincount(np.concatenate([arrays[f"person/{i}/frame_index"] for i in arrays["person_ids"]]))) >= 3


def _lowest_foot(j):
    return j[:, [7, 8, 10, 11], 1].min(axis=1)  # ankles and feet, world Y


def test_feet_stand_on_the_floor(vtest_scene):
    _, out = vtest_scene
    _, arrays = load_scene(out)
    everyone = np.concatenate([_lowest_foot(arrays[f"person/{pid}/joints_world"]) for pid in arrays["person_ids"]])
    assert 0.0 <= np.median(everyone) < 0.08  # on the floor, mostly
    assert everyone.min() > -0.005  # and never through it
    for pid in arrays["person_ids"]:
        j = arrays[f"person/{pid}/joints_world"]
        assert abs(np.median(_lowest_foot(j))) < 0.25, pid  # each person; depth from one camera is noisy
        assert np.median(j[:, 15, 1] - _lowest_foot(j)) > 1.0  # heads well above feet: people stand up (+Y)


def test_nobody_stands_below_the_floor_when_one_stands_on_a_box(sports_scene):
    """Sports2D: a woman walks on the ground; a man stands on a utility box (a raised surface)."""
    _, out = sports_scene
    _, arrays = load_scene(out)
    medians = [np.median(_lowest_foot(arrays[f"person/{pid}/joints_world"])) for pid in arrays["person_ids"]]
    assert min(abs(m) for m in medians) < 0.1  # the woman walks on the floor
    assert min(medians) > -0.15  # and the man is not sunk under it


def test_scene_file_schema(vtest_scene):
    _, out = vtest_scene
    summary, a = load_scene(out)
    assert summary["version"] == SCENE_VERSION
    assert summary["skeleton"]["joint_names"][10] == "left_foot"
    assert a["K"].shape == (3, 3) and a["R_world_from_cam"].shape == (3, 3) and a["t_world_from_cam"].shape == (3,)
    assert np.allclose(a["R_world_from_cam"] @ a["R_world_from_cam"].T, np.eye(3))
    R, t = a["R_world_from_cam"], a["t_world_from_cam"]
    for pid in a["person_ids"]:
        T = len(a[f"person/{pid}/frame_index"])
        assert a[f"person/{pid}/timestamp_s"].shape == (T,)
        assert np.all(np.diff(a[f"person/{pid}/timestamp_s"]) > 0)
        assert a[f"person/{pid}/joints_world"].shape == (T, 24, 3)
        assert a[f"person/{pid}/local_rotations"].shape == (T, 24, 4)
        assert a[f"person/{pid}/keypoints_2d"].shape == (T, 33, 2)
        assert a[f"person/{pid}/bone_lengths"].shape == (24,)
        assert a[f"person/{pid}/rest_directions"].shape == (24, 3)
        assert a[f"person/{pid}/foot_contact"].shape == (T, 2)
        # the rig in the file reproduces its own joints: FK of (rotations, root, rest pose) = joints_world
        from nvwa.rig.skeleton import forward_kinematics
        fk = forward_kinematics(a[f"person/{pid}/local_rotations"], a[f"person/{pid}/root_world"],
                                a[f"person/{pid}/bone_lengths"], a[f"person/{pid}/rest_directions"])
        assert np.allclose(fk, a[f"person/{pid}/joints_world"], atol=1e-9)
        # camera and world joints are one set of points in two frames
        assert np.allclose(a[f"person/{pid}/joints_cam"] @ R.T + t, a[f"person/{pid}/joints_world"], atol=1e-9)
        # 2D keypoints lie in the stored video's pixels
        kp = a[f"person/{pid}/keypoints_2d"]
        assert np.median(kp[..., 0]) < 768 and np.median(kp[..., 1]) < 576


def test_two_people_of_the_sports_clip_keep_two_ids(sports_scene):
    _, out = sports_scene
    summary, _ = load_scene(out)
    people = summary["people"]
    assert len(people) == 2, people  # two ids, no more: nobody was split into two tracks
    first = min(people, key=lambda p: p["first_s"])
    assert first["frames"] >= 0.9 * 90  # the man is there from the start and keeps his id
    later = max(people, key=lambda p: p["first_s"])
    assert later["last_s"] >= 2.9  # the woman, once she walks in, keeps hers to the end


def test_joints_project_back_onto_the_people(sports_scene):
    """Camera-frame joints, projected with K, land near the 2D keypoints they came from."""
    _, out = sports_scene
    _, a = load_scene(out)
    K = a["K"]
    for pid in a["person_ids"]:
        j = a[f"person/{pid}/joints_cam"]
        kp = a[f"person/{pid}/keypoints_2d"]
        proj = (j @ K.T)[..., :2] / (j @ K.T)[..., 2:]
        hips_2d = (kp[:, 23] + kp[:, 24]) / 2
        err = np.linalg.norm(proj[:, 0] - hips_2d, axis=-1)
        height_px = np.ptp(kp[:, :, 1], axis=1)
        assert np.median(err / height_px) < 0.15


def test_cli_end_to_end_writes_scene_and_table(models_dir, tmp_path):
    r = subprocess.run([sys.executable, "-m", "nvwa", "process", str(DATA / "vtest_4s.mp4"), "-o", str(tmp_path),
                        "--models-dir", str(models_dir), "--max-frames", "20", "--stride", "2"],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "time per stage" in r.stderr and "fps end to end" in r.stderr
    s = json.loads((tmp_path / "scene.json").read_text())
    assert s["stats"]["frames"] == 20
    assert s["stats"]["options"]["stride"] == 2


def test_a_video_gives_the_same_scene_whatever_the_process_saw_before(vtest_scene, sports_scene, blazepose, tmp_path):
    """Models are shared by every job of a process: the landmarkers' tracking state must not leak from
    one video into the next (it did: vtest after Sports2D put feet 0.9 m off the floor)."""
    sports_scene  # the shared backend has now seen the Sports2D clip after vtest
    _, again = _run(blazepose, tmp_path, "vtest_4s.mp4")
    _, first = vtest_scene
    _, a = load_scene(first)
    _, b = load_scene(again)
    assert a["person_ids"].tolist() == b["person_ids"].tolist()
    for pid in a["person_ids"].tolist():
        assert np.array_equal(a[f"person/{pid}/joints_world"], b[f"person/{pid}/joints_world"])


def test_malloc_arenas_are_bounded_once_a_pipeline_exists(blazepose):
    """The pipeline's threads share two malloc arenas on glibc (peak RSS, see nvwa.memory), unless the
    user set MALLOC_ARENA_MAX themselves."""
    import os
    import platform

    from nvwa import memory
    from nvwa.pipeline import Pipeline

    if platform.libc_ver()[0] != "glibc" or "MALLOC_ARENA_MAX" in os.environ:
        pytest.skip("not glibc, or MALLOC_ARENA_MAX set by the environment: nothing for nvwa to bound")
    Pipeline(body=blazepose)
    assert memory._done and memory.bound_malloc_arenas() is True


def test_numpys_blas_runs_on_one_thread_while_the_models_run_and_as_before_after(blazepose):
    """The run's own threads keep the cores busy while the models run; BLAS's threads would only wait for
    them. Limited while observing, as the caller had it again after (the generator done)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from nvwa.config import VideoConfig

    def blas():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas()
        if not before or max(before.values()) < 2:
            pytest.skip("no BLAS library here runs on two threads: nothing to limit")
        pipe = Pipeline(PipelineConfig(VideoConfig(max_frames=3)), body=blazepose)
        during = [blas() for ev in pipe.observe(DATA / "vtest_4s.mp4") if ev.stage == "frame"]
        assert during and all(set(d.values()) == {1} for d in during)
        assert blas() == before


def test_a_run_of_one_video_closes_its_models_before_reconstruction_with_the_same_scene(blazepose, models_dir):
    """`nvwa process` and the spine bench run one video: its models (MediaPipe's graph, the networks' threads,
    the detector; ~140 MB) are closed once the video is observed, before reconstruction allocates its own.
    The scene is the one a pipeline that keeps its models makes; a closed pipeline says so if asked again."""
    from nvwa.body.blazepose import BlazePoseBody, BlazePoseConfig
    from nvwa.config import VideoConfig
    from nvwa.models import blazepose_task_path

    config = PipelineConfig(VideoConfig(max_frames=20))
    kept = list(Pipeline(config, body=blazepose).run(DATA / "vtest_4s.mp4"))[-1].data["scene"]
    own = BlazePoseBody(BlazePoseConfig(str(blazepose_task_path(models_dir))))
    pipe = Pipeline(config, body=own)

    def models_open():  # the graph, the detector, and the landmark network's threads (made on its first crop)
        return own._prober is not None and pipe.proposer is not None and own.network._pool is not None

    open_while = {}  # each stage: were the models open while it was first reported (a frame: the last frame)?
    for ev in pipe.run(DATA / "vtest_4s.mp4", close_models=True):
        if ev.stage == "frame":
            open_while["frame"] = models_open()
        else:
            open_while.setdefault(ev.stage, models_open())
    closed = ev.data["scene"]
    open_while.pop("probe")  # before the first frame: the network's threads are not made yet
    assert open_while.pop("frame")  # observing: open
    assert own.network._pool is None and own.tracking_network._pool is None
    assert "complete" in open_while and not any(open_while.values())  # reconstructing: closed
    assert [p.person_id for p in closed.people] == [p.person_id for p in kept.people] and kept.people
    for a, b in zip(closed.people, kept.people):
        np.testing.assert_array_equal(a.joints_world, b.joints_world)
    with pytest.raises(RuntimeError, match="closed"):
        next(iter(pipe.observe(DATA / "vtest_4s.mp4")))
    pipe.close()  # a second close is a no-op


def test_observing_hands_free_memory_back_every_hundred_frames(blazepose, monkeypatch):
    """The threads' freed crops and buffers are handed back to the system while a video is observed (a
    long video's RSS would otherwise grow with the holes they leave), not only before reconstruction."""
    import nvwa.pipeline as pipeline
    from nvwa.config import VideoConfig

    assert pipeline.TRIM_EVERY_FRAMES == 100
    monkeypatch.setattr(pipeline, "TRIM_EVERY_FRAMES", 4)
    frames, trims = [], []  # the frame events seen; the frame events seen at each hand-back
    monkeypatch.setattr(pipeline, "give_back_free_memory", lambda: trims.append(len(frames)) or True)
    for ev in Pipeline(PipelineConfig(VideoConfig(max_frames=14)), body=blazepose).observe(DATA / "vtest_4s.mp4"):
        if ev.stage == "frame":
            frames.append(ev.done)
    assert frames[-1] == 14 and trims == [3, 7, 11]  # as frames 4, 8 and 12 are done, before their events


def test_a_60_fps_video_is_analysed_at_30_unless_asked_for_every_frame(blazepose, tmp_path):
    """Phones film at 60 fps and more; the body model's poses are no better for the frames in between
    (the lab views: PA-MPJPE 83.5 / 89.7 mm at 30 fps against 86.1 / 89.1 at 60), and each costs a pose per
    person. By default a faster video keeps every n-th frame (the smallest step to <= 30 fps), at the frames'
    own times; ``--max-fps 0`` keeps every frame, and a 30-fps video is never thinned."""
    import av

    from nvwa.config import VideoConfig

    with av.open(str(DATA / "sports2d_3s.mp4")) as c:  # real people, re-timed: the same pixels at 60 fps
        frames = [f.to_ndarray(width=640, height=360, format="rgb24") for _, f in zip(range(15), c.decode(video=0))]  # odd: 8 of 15
    video = make_video(tmp_path / "sixty.mp4", len(frames), size=(640, 360), fps=60, codec="libx264",
                       frame_fn=frames.__getitem__)

    def observed(config):
        events = list(Pipeline(PipelineConfig(config), body=blazepose).observe(video))
        return events[0], events[-1].data["observations"]

    probe, obs = observed(VideoConfig())
    assert "one frame in 2 analysed (30 fps)" in probe.message
    assert probe.total == 8 and obs.stats["frames"] == 8 and obs.stats["decoded_frames"] == 15
    assert obs.options["stride"] == 2 and obs.options["max_fps"] == 30 and not obs.options["variable_rate"]
    ticks = np.unique(np.concatenate([p.timestamp_s for p in obs.people])) * 60  # in 60-fps frames
    assert len(ticks) >= 6 and np.allclose(ticks, np.round(ticks)) and set(np.round(ticks) % 2) == {0}
    probe, every = observed(VideoConfig(max_fps=0))
    assert "analysed" not in probe.message and every.stats["frames"] == 15 and every.options["stride"] == 1
    ticks = np.unique(np.concatenate([p.timestamp_s for p in every.people])) * 60
    assert len(ticks) >= 12 and np.allclose(ticks, np.round(ticks)) and set(np.round(ticks) % 2) == {0, 1}


def test_a_slow_motion_gives_the_scene_of_the_moment_it_filmed(sports_scene, blazepose, tmp_path):
    """The clip stored to play 4x slower, as Android tags a slow motion (filmed at 30 fps, played at 7.5): the
    same people at the same real times, the replay's frames at the rate it was filmed at, and the summary says
    so. Read as it played, the jumper's motion took 4x as long (Sports2D so stored lost his landing to a
    second id); an untagged copy is read so, unless --capture-fps gives the rate."""
    sys.path.insert(0, str(REPO / "bench"))
    import pygltflib
    from slow_motion import stretched_copy

    from nvwa.config import VideoConfig
    from nvwa.export import export_scene
    from nvwa.export.bvh import frame_time

    events, out = sports_scene
    whole, arrays = events[-1].data["scene"], load_scene(out)[1]
    slow = stretched_copy(DATA / "sports2d_3s.mp4", tmp_path / "slow.mp4", 4, capture_fps=30)
    events = list(Pipeline(PipelineConfig(), body=blazepose).run(slow, tmp_path / "slow"))
    scene, (summary, slowed) = events[-1].data["scene"], load_scene(tmp_path / "slow")
    assert events[0].message.startswith("884x496 h264, 7.5 fps (filmed at 30 as the file says: a 4x slow motion, "
                                        "analysed in real time)")
    assert [n for n in scene.stats["notes"] if n.startswith("the video is a 4x slow motion")]
    assert summary["video"]["time_scale"] == 0.25 and summary["video"]["capture_fps"] == 30
    assert slowed["person_ids"].tolist() == arrays["person_ids"].tolist() == [p.person_id for p in whole.people]
    for pid in arrays["person_ids"].tolist():  # (x 0.25 is exact: the same times, so the same scene to the bit)
        for key in ("timestamp_s", "frame_index", "root_world", "joints_world", "local_rotations"):
            assert np.array_equal(slowed[f"person/{pid}/{key}"], arrays[f"person/{pid}/{key}"]), (pid, key)
    export_scene(scene, tmp_path / "slow", ["glb", "bvh"])
    extras = pygltflib.GLTF2().load(str(tmp_path / "slow" / "scene.glb")).scenes[0].extras
    assert extras["fps"] == 30 and extras["time_scale"] == 0.25 and extras["time"].startswith("seconds of the moment")
    assert frame_time(scene) == pytest.approx(1 / 30)
    timing = json.loads((tmp_path / "slow" / "bvh" / "timing.json").read_text())  # BVH's frame 0: the moment's, the video's
    assert timing["time_scale"] == 0.25 and timing["time"].startswith("seconds of the moment")
    woman = timing["files"][f"person_{whole.people[-1].person_id}.bvh"]
    assert woman["video_start_s"] == pytest.approx(4 * woman["start_s"]) and woman["start_s"] > 0.5
    # untagged, it plays as stored unless the rate it was filmed at is given
    plain = stretched_copy(DATA / "sports2d_3s.mp4", tmp_path / "plain.mp4", 4)
    probe = next(iter(Pipeline(PipelineConfig(VideoConfig(capture_fps=30)), body=blazepose).observe(plain)))
    assert "(filmed at 30 as --capture-fps says: a 4x slow motion, analysed in real time)" in probe.message


def test_a_zoom_while_filming_is_followed_and_the_focal_stays_the_first_frames(vtest_scene, blazepose, tmp_path):
    """The street clip zoomed in as it plays (each frame the centre 1/z of the picture, z 1 -> 1.2, as a phone's
    pinch zoom): the zoom is followed frame by frame, and the people are moved onto the first frame's pixels
    through it, within 8 px of where the unzoomed clip has them (the zoomed frames show them 16-45 px away;
    before, the zoom was taken for a turn of a fixed focal and nobody was moved: they grew with the zoom and
    were placed nearer); the scene, its GLB and the viewer's video camera keep each frame's focal. (What it
    does to the world is bench/zoom.py's, against the lab view's truth.)"""
    import pygltflib

    sys.path.insert(0, str(REPO / "bench"))
    from zoom import zoomed_copy

    from nvwa.camera.motion import camera_motion, stabilised
    from nvwa.export import export_scene

    video = zoomed_copy(DATA / "vtest_4s.mp4", tmp_path / "zoom.mp4", lambda u: 1 + 0.2 * u)  # (40 frames at 10 fps)
    events = list(Pipeline(PipelineConfig(), body=blazepose).run(video, tmp_path / "zoom"))
    scene, unzoomed = events[-1].data["scene"], vtest_scene[0][-1].data["scene"]
    obs, plain = events[-1].data["observations"], vtest_scene[0][-1].data["observations"]
    assert [m for m in scene.grounding["warnings"] if m.startswith("the camera zoomed (1.00x to 1.2")]
    assert scene.grounding["camera_zoom"][0] == 1.0 and scene.grounding["camera_zoom"][1] == pytest.approx(1.2, abs=0.02)
    assert "camera_zoom" not in unzoomed.grounding
    motion = camera_motion(obs.camera_track, obs.K_observed)
    moved = {p.person_id: p for p in stabilised(obs, obs.camera_track, motion, obs.K_observed).people}

    def centre(p, frames):  # (T, 2) px: the median of the keypoints at those frames
        return np.nanmedian(np.asarray(p.keypoints_2d)[np.isin(p.frame_index, frames)], axis=1)
    placed = []  # (px from the unzoomed clip's person through the zoom, as the zoomed frames show them)
    for p in obs.people:
        for q in plain.people:
            late = np.intersect1d(q.frame_index, p.frame_index)
            late = late[late >= 25]  # zoomed 1.13x and more
            if len(late) >= 5:
                placed.append((np.median(np.linalg.norm(centre(moved[p.person_id], late) - centre(q, late), axis=1)),
                               np.median(np.linalg.norm(centre(p, late) - centre(q, late), axis=1))))
    same = [(d, raw) for d, raw in placed if d < 8.0]  # the same person, where the first frame's camera saw them
    assert len(same) >= 3 and all(raw > 10.0 for _, raw in same), placed
    followed = scene.camera_focal_px / scene.K[0, 0]  # each analysed frame's zoom
    assert np.abs(followed - (1 + 0.2 * scene.camera_timestamp_s * 10 / 39)).max() < 0.02
    assert np.array_equal(load_scene(tmp_path / "zoom")[1]["camera_focal_px"], scene.camera_focal_px)
    export_scene(scene, tmp_path / "zoom", ["glb"])
    camera = pygltflib.GLTF2().load(str(tmp_path / "zoom" / "scene.glb")).cameras[0].extras["zoom_at"]
    assert len(camera["times_s"]) == len(camera["zoom"]) == len(scene.camera_timestamp_s)
    assert np.allclose(camera["zoom"], followed, atol=1e-5)
    assert unzoomed.camera_focal_px is None  # (a camera that did not zoom: none kept)


def test_a_phone_video_stored_on_its_side_gives_the_upright_videos_scene(blazepose, tmp_path):
    """A phone filming upright stores its frames on their side with a display rotation that players apply
    (most phone videos). Not applied, its people lay on their side in every frame and were dropped as "never
    standing upright" (the lab's cam03 so stored came out empty): the same frames stored either way now give
    the same scene, at the size players show. Stored on its side without saying so, its people lie on
    their side: the summary says which --rotate stands them up, and with it the scene is the upright one."""
    import av

    from nvwa.config import VideoConfig

    with av.open(str(DATA / "sports2d_3s.mp4")) as c:  # real people, 884x496
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    stored = [np.ascontiguousarray(np.rot90(f)) for f in frames]  # on its side, 496x884; the player turns it back
    runs = {}
    for name, imgs, rotation, rotate in (("upright", frames, None, "auto"), ("side", stored, -90, "auto"),
                                         ("unsaid", stored, None, "auto"), ("unsaid_turned", stored, None, "90")):
        video = make_video(tmp_path / f"{name}.mp4", len(imgs), size=imgs[0].shape[1::-1], fps=30, codec="libx264",
                           frame_fn=imgs.__getitem__, lossless=True, display_rotation=rotation)
        events = list(Pipeline(PipelineConfig(VideoConfig(rotate=rotate)), body=blazepose).run(video, tmp_path / name))
        runs[name] = (events[0], events[-1].data["scene"].stats.get("notes", []), *load_scene(tmp_path / name))
    (_, notes, summary, a), (probe_side, notes_side, summary_side, b) = runs["upright"], runs["side"]
    assert probe_side.message.startswith("884x496 h264, turned 90 deg as the file asks")
    assert summary_side["video"]["width"] == 884 and summary_side["video"]["height"] == 496
    assert summary_side["video"]["rotate"] == 90 and summary["video"]["rotate"] == 0
    assert len(a["person_ids"]) == 2, "both people of the clip"
    probe_unsaid, notes_unsaid, *_ = runs["unsaid"]
    assert probe_unsaid.message.startswith("496x884 h264, 30 fps")
    assert [n for n in notes_unsaid if "--rotate 90 stands them up" in n]
    assert not [n for n in notes + notes_side if "--rotate" in n]
    probe_turned, _, summary_turned, c = runs["unsaid_turned"]
    assert probe_turned.message.startswith("884x496 h264, turned 90 deg as --rotate asks")
    for other in (b, c):
        assert a["person_ids"].tolist() == other["person_ids"].tolist()
        for key in ("K", "R_world_from_cam", "t_world_from_cam"):
            assert np.array_equal(a[key], other[key]), key
        for pid in a["person_ids"].tolist():
            assert np.array_equal(a[f"person/{pid}/joints_world"], other[f"person/{pid}/joints_world"])


def test_an_edited_video_says_where_it_cuts_and_each_shot_is_analysed_on_its_own(blazepose, tmp_path):
    """A clip cut from Sports2D's field to vtest's square (real frames) is two cameras, and a scene is one's:
    the summary says where it cuts and the --start/--end of each shot, and the scene is the shot with the most
    of the people's time (the square's, whose 10-fps pictures shown thrice are each analysed once), as analysed
    from the cut on: its people and camera. Analysed from the cut on, the frames keep their own times and
    nothing is said of cuts."""
    import av
    import cv2

    from nvwa.config import VideoConfig

    with av.open(str(DATA / "sports2d_3s.mp4")) as c:
        frames = [cv2.resize(f.to_ndarray(format="rgb24"), (640, 360)) for _, f in zip(range(45), c.decode(video=0))]
    with av.open(str(DATA / "vtest_4s.mp4")) as c:  # 10 fps: each frame thrice at 30 (each analysed once)
        frames += [cv2.resize(f.to_ndarray(format="rgb24"), (640, 360)) for _, f in zip(range(30), c.decode(video=0)) for _ in range(3)]
    video = make_video(tmp_path / "edited.mp4", len(frames), size=(640, 360), fps=30, codec="libx264", frame_fn=frames.__getitem__)
    scenes = {}
    for name, config in (("whole", VideoConfig()), ("second", VideoConfig(start_s=1.5))):
        events = list(Pipeline(PipelineConfig(config), body=blazepose).run(video, tmp_path / name))
        scenes[name] = (events[0], events[-1].data["scene"])
    (_, whole), (probe, second) = scenes["whole"], scenes["second"]
    assert whole.stats["cuts_s"] == [1.5] and whole.stats["cuts_frame"] == [45]
    assert [n for n in whole.stats["notes"] if n.startswith("the video cuts to another shot at 1.5 s")
            and n.endswith("analyse each of the 2 on its own with --end 1.5; --start 1.5")]
    assert [n for n in whole.grounding["warnings"] if n.startswith("the scene is the video's shot from 1.5 s to the end")]
    assert probe.message.endswith(", from 1.5 s on") and probe.total == 90
    assert second.stats["cuts_s"] == [] and not [n for n in second.stats["notes"] if "cuts" in n]
    for scene in (whole, second):
        assert scene.people and min(float(p.timestamp_s[0]) for p in scene.people) >= 1.5
    assert len(whole.people) == len(second.people)
    assert whole.t_world_from_cam[1] == pytest.approx(second.t_world_from_cam[1], rel=0.15)  # the camera's height


def test_a_still_picture_says_why_its_people_are_left_out_and_how_to_keep_them(blazepose, tmp_path):
    """A user tries a photo (one frame of vtest's walkers, a PNG): everyone found is seen for less than
    --min-person-s, so the scene is empty; the summary says so and how to keep them, and with it they are
    posed on the floor."""
    from nvwa.reconstruct import ReconstructConfig

    still = DATA / "vtest_frame81_walkers.png"
    events = list(Pipeline(PipelineConfig(), body=blazepose).run(still, tmp_path / "default"))
    scene = events[-1].data["scene"]
    assert not scene.people and events[-1].message == "no people found: the scene is empty"
    said = [w for w in scene.grounding["warnings"] if "none seen for --min-person-s (1 s)" in w]
    assert said and said[0].endswith("(--min-person-s 0 keeps everyone found, as for a still picture)")
    found = int(said[0].split()[0])
    events = list(Pipeline(PipelineConfig(reconstruct=ReconstructConfig(min_person_s=0)), body=blazepose).run(still, tmp_path / "kept"))
    scene = events[-1].data["scene"]
    assert 3 <= len(scene.people) <= found
    assert not [w for w in scene.grounding["warnings"] if "--min-person-s" in w]


def test_a_phone_clip_whose_rate_falls_in_low_light_is_analysed_at_30_fps_throughout(blazepose, tmp_path):
    """A phone films at 60 fps and drops to 30 when the light falls: 12 frames at 60, 10 at 30, 12 at 60
    (real people, re-timed; 1/90000 time base). Each stretch is analysed at up to 30 fps (every 2nd frame of
    the 60s, every frame of the 30s), not every 2nd frame throughout from the container's 45-fps average.
    The packets' times, read before decoding, tell it apart and give the progress its exact total."""
    from fractions import Fraction

    import av

    from nvwa.config import VideoConfig

    t = np.r_[np.arange(12) / 60, 0.2 + np.arange(10) / 30, 0.2 + 10 / 30 + np.arange(12) / 60]
    video = tmp_path / "phone.mp4"
    with av.open(str(DATA / "sports2d_3s.mp4")) as c, av.open(str(video), "w") as out:
        s = out.add_stream("libx264", rate=45)
        s.width, s.height, s.pix_fmt = 640, 360, "yuv420p"
        s.codec_context.time_base = Fraction(1, 90000)
        for ti, f in zip(t, c.decode(video=0)):
            g = av.VideoFrame.from_ndarray(f.to_ndarray(width=640, height=360, format="rgb24"), format="rgb24")
            g.pts, g.time_base = int(round(ti * 90000)), s.codec_context.time_base
            for pk in s.encode(g):
                out.mux(pk)
        for pk in s.encode():
            out.mux(pk)
    events = list(Pipeline(PipelineConfig(VideoConfig()), body=blazepose).observe(video))
    obs = events[-1].data["observations"]
    assert "a varying rate (30 to 60 fps) analysed at up to 30 fps" in events[0].message
    assert obs.options["variable_rate"] and obs.options["stride"] == 2  # (the average's step, for a steady video)
    analysed = obs.camera_track.timestamp_s
    assert obs.stats["frames"] == len(analysed) == events[0].total == 22 and obs.people  # 6 + 10 + 6
    assert ((analysed > 0.25) & (analysed < 0.45)).sum() >= 5  # the 30-fps stretch: every frame (15 fps would keep 3)
    assert (np.abs(np.diff(analysed) - 1 / 30) < 0.002).all()  # where the rate turns too
    assert [ev.total for ev in events if ev.stage == "frame"] == [22] * 22


@pytest.mark.parametrize("fps, stride, max_fps, kept", [
    (10, 1, 30, 1), (29.97, 1, 30, 1), (30.2, 1, 30, 1), (59.94, 1, 30, 2), (60, 1, 30, 2), (50, 1, 30, 2),
    (40, 1, 30, 2), (120, 1, 30, 4), (240, 1, 30, 8), (60, 3, 30, 3), (240, 3, 30, 8), (60, 1, 0, 1),
    (0, 1, 30, 1), (60, 1, 60, 1), (60, 1, 25, 3)])
def test_the_frames_kept_bring_a_video_to_at_most_max_fps(fps, stride, max_fps, kept):
    from nvwa.config import VideoConfig

    assert VideoConfig(stride=stride, max_fps=max_fps).stride_for(fps) == kept
