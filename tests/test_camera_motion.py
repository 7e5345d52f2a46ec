"""A handheld camera: its rotation from the background (real pixels of vtest, turned by known rotations),
the focal from the turning, the motion class, bad pictures (a cut, a bare wall, people covering the view,
a rolling-shutter wobble), and the whole pipeline on a virtual handheld clip: the camera per frame in
scene.npz and the GLB, the people where the static clip puts them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import DATA
from scipy.spatial.transform import Rotation

from nvwa.camera.background import LOST, OK, BackgroundMotion, work_gray
from nvwa.camera.motion import angles_deg, camera_motion, focal_from_rotation, rotation_misfit
from nvwa.video.decode import FrameBetween, VideoFrame

W, H, F = 640, 480, 700.0
K = np.array([[F, 0, W / 2], [0, F, H / 2], [0, 0, 1.0]])


@pytest.fixture(scope="module")
def scene_image():
    """A real street frame (vtest), large enough to turn a 640x480 camera about in."""
    import av
    import cv2

    with av.open(str(DATA / "vtest_4s.mp4")) as c:
        img = next(c.decode(video=0)).to_ndarray(format="rgb24")
    return cv2.resize(img, (W * 3 // 2, H * 3 // 2), interpolation=cv2.INTER_AREA)


def view(image: np.ndarray, R: np.ndarray) -> np.ndarray:
    """What a 640x480 camera (focal F) turned by R from straight at the picture's centre sees of it."""
    import cv2

    h, w = image.shape[:2]
    Ks = np.array([[F, 0, w / 2], [0, F, h / 2], [0, 0, 1.0]])
    return cv2.warpPerspective(image, K @ R.T @ np.linalg.inv(Ks), (W, H), flags=cv2.INTER_LINEAR)


def turning(n: int = 60, pan: float = 8.0, tilt: float = 2.0, roll: float = 2.0) -> np.ndarray:
    t = np.linspace(0, 1, n)
    ang = np.column_stack([pan * np.sin(2.2 * t), tilt * np.sin(3.1 * t + 0.4) - tilt * np.sin(0.4), roll * t])
    ang += 0.1 * np.sin(2 * np.pi * 4 * t)[:, None]  # a hand's shake
    return Rotation.from_euler("YXZ", ang, degrees=True).as_matrix()


def follow(frames, boxes=None) -> BackgroundMotion:
    bm = BackgroundMotion(K)
    for i, img in enumerate(frames):
        bm.add(VideoFrame(i, i / 30.0, img), [] if boxes is None else boxes[i])
    return bm


def errors_deg(track, R_true: np.ndarray, Kr: np.ndarray = K) -> np.ndarray:
    motion = camera_motion(track, Kr)
    true = np.einsum("ji,njk->nik", R_true[0], R_true)
    return angles_deg(np.einsum("nji,njk->nik", motion.R_first_from_frame, true)), motion


def test_a_turning_camera_is_followed_and_its_focal_found(scene_image):
    R = turning()
    track = follow([view(scene_image, r) for r in R]).track()
    err, motion = errors_deg(track, R)
    assert motion.kind == "rotating" and not motion.warnings
    assert np.median(err) < 0.2 and err.max() < 0.5, (np.median(err), err.max())
    f = focal_from_rotation(track.H_raw_first_from_frame, W, H)
    assert f == pytest.approx(F, rel=0.05)
    # the rotation is still right when the focal used differs from the one the models had
    Kf = K.copy()
    Kf[0, 0] = Kf[1, 1] = f
    assert np.median(errors_deg(track, R, Kf)[0]) < 0.3


def test_a_still_camera_is_static_and_never_turns(scene_image):
    rng = np.random.default_rng(0)
    still = view(scene_image, np.eye(3))
    frames = [np.clip(still + rng.normal(0, 2, still.shape), 0, 255).astype(np.uint8) for _ in range(30)]
    motion = camera_motion(follow(frames).track(), K)
    assert motion.kind == "static" and np.allclose(motion.R_first_from_frame, np.eye(3)) and motion.still
    assert camera_motion(follow(frames).track(), K, "moving").kind == "rotating"  # --camera moving: followed anyway


def test_a_zooming_camera_is_followed_turn_and_zoom(scene_image):
    """A phone's pinch zoom while it pans: each frame's focal is the first's times z (1x to 1.4x). Taken for a
    fixed focal, the zoom was a turn of a few degrees and the people grew nearer; now each frame's zoom is
    found within 1% and its turn within 0.3 deg, and --camera static looks for neither. A camera that only
    turns, or stands still, has no zoom."""
    import cv2

    n = 40
    zoom = 1 + 0.4 * np.linspace(0, 1, n) ** 1.5
    R = turning(n, pan=4.0, tilt=1.0, roll=1.0)
    h, w = scene_image.shape[:2]
    Ks = np.array([[F, 0, w / 2], [0, F, h / 2], [0, 0, 1.0]])
    frames = [cv2.warpPerspective(scene_image, K @ np.diag([z, z, 1]) @ r.T @ np.linalg.inv(Ks), (W, H),
                                  flags=cv2.INTER_LINEAR) for z, r in zip(zoom, R)]
    track = follow(frames).track()
    err, motion = errors_deg(track, R)
    assert motion.zoom is not None and np.abs(motion.zoom / zoom - 1).max() < 0.01, np.abs(motion.zoom / zoom - 1).max()
    assert np.median(err) < 0.15 and err.max() < 0.3, (np.median(err), err.max())
    assert any(w.startswith("the camera zoomed (1.00x to 1.40x") for w in motion.warnings) and not motion.still
    H_zoomed = motion.homographies(K)  # the first frame's pixels <- each frame's: a corner moves as the picture does
    corner = np.array([50.0, 60.0, 1.0])
    truth = K @ R[0].T @ R[-1] @ np.diag([1 / zoom[-1], 1 / zoom[-1], 1]) @ np.linalg.inv(K) @ corner
    moved = H_zoomed[-1] @ corner
    assert np.allclose(moved[:2] / moved[2], truth[:2] / truth[2], atol=1.5)
    # the identity rules (who is who across a gap) place people where the first frame shows them: with the zoom
    # taken out too
    from nvwa.camera.motion import track_for_identities
    from nvwa.tracking.seen import _in_first

    placed = _in_first(corner[None, :2], np.array([track.frame_index[-1]]), track_for_identities(track, motion, K))[0]
    assert np.allclose(placed, truth[:2] / truth[2], atol=1.5)
    off = np.linalg.norm(_in_first(corner[None, :2], np.array([track.frame_index[-1]]), track)[0] - truth[:2] / truth[2])
    assert off > 50  # (74 px: a corner of a 640x480 picture at 1.4x)
    assert camera_motion(track, K, "static").zoom is None
    assert track_for_identities(track, camera_motion(track, K, "static"), K, "static") is None  # (a tripod, said: as the frame shows them)
    turned_only = follow([view(scene_image, r) for r in R]).track()
    assert camera_motion(turned_only, K).zoom is None and track_for_identities(turned_only, camera_motion(turned_only, K), K) is turned_only


def _track_of(H_raw: np.ndarray, H_turn: np.ndarray | None = None):
    from nvwa.camera.background import CameraTrack

    n = len(H_raw)
    return CameraTrack(np.arange(n), np.arange(n) / 30.0, H_raw if H_turn is None else H_turn, np.full(n, 50, np.int32),
                       np.zeros(n, np.int8), np.zeros(n, np.float32), H_raw)


def test_a_wide_pan_under_a_wrong_focal_is_no_zoom_and_a_damaged_track_no_crash():
    """A fixed-focal pan of 45-50 deg, its homographies read under a focal 20-60% off (the reconstruction's
    first look has the default focal): no zoom, though a zoom halves the misfit such a K leaves. A zoom past
    8x is not followed (said so); NaN and zero homographies (a damaged file's) neither crash nor zoom."""
    n = 40
    R = Rotation.from_euler("y", np.linspace(0, 50, n)[:, None], degrees=True).as_matrix()
    Kt = np.array([[1000.0, 0, 960], [0, 1000.0, 540], [0, 0, 1]])
    H = Kt @ R @ np.linalg.inv(Kt)
    for f in (640.0, 800.0, 1500.0, 1600.0):
        Kw = Kt.copy()
        Kw[0, 0] = Kw[1, 1] = f
        assert camera_motion(_track_of(H), Kw).zoom is None, f
    zoom = np.linspace(1, 10, n)  # a pinch to 10x
    Hz = Kt @ (np.diag([1, 1, 1.0])[None] * np.stack([np.diag([1 / z, 1 / z, 1]) for z in zoom])) @ np.linalg.inv(Kt)
    motion = camera_motion(_track_of(Hz), Kt)
    assert motion.zoom is None and "the camera seems to zoom past 8x: the zoom is not followed" in motion.warnings
    assert camera_motion(_track_of(Hz[:25]), Kt).zoom.max() == pytest.approx(zoom[24], rel=0.01)  # (6.5x: followed)
    for bad in (np.nan, np.inf, 0.0):
        damaged = Hz[:25].copy()
        damaged[7] = bad
        still = np.tile(np.eye(3), (25, 1, 1))
        motion = camera_motion(_track_of(damaged, still), Kt)
        assert motion.zoom is not None and np.isfinite(motion.zoom).all() and motion.zoom[7] == 1.0
        assert camera_motion(_track_of(np.full((5, 3, 3), bad), still[:5]), Kt).zoom is None
    from nvwa.observations import _camera_unfit

    damaged = Hz[:25].copy()
    damaged[3] = np.nan  # (a saved track so damaged is refused when loaded, in one line)
    assert _camera_unfit(_track_of(damaged)) == "H_first_from_frame holds values that are not finite numbers"


def test_people_are_masked_out_of_the_background(scene_image):
    """A 'person' (a textured patch moving against the turn) in every frame: their box keeps them out."""
    R = turning(40)
    frames, boxes = [], []
    rng = np.random.default_rng(1)
    patch = rng.integers(0, 255, (200, 120, 3), dtype=np.uint8)
    for i, r in enumerate(R):
        img = view(scene_image, r)
        x = 100 + 8 * i
        img[150:350, x:x + 120] = patch
        frames.append(img)
        boxes.append([np.array([x, 150, x + 120, 350], float)])
    err, _ = errors_deg(follow(frames, boxes).track(), R)
    assert np.median(err) < 0.25 and err.max() < 0.6


@pytest.mark.parametrize("bad", ["cut", "bare_wall", "covered", "wobble"])
def test_bad_pictures_never_give_nan_or_a_camera_that_flies_off(scene_image, bad):
    """A shot cut, a textureless wall, people covering the view, a rolling-shutter wobble: where it loses
    the background it says so and keeps the last good pose; nothing is NaN; the camera stays within a
    few degrees of the truth (or of the last good pose)."""
    import cv2

    R = turning(40)
    frames = [view(scene_image, r) for r in R]
    boxes = None
    if bad == "cut":  # the second half another scene (the picture flipped and shifted)
        frames[20:] = [np.ascontiguousarray(np.roll(f[::-1, ::-1], 200, axis=1)) for f in frames[20:]]
    elif bad == "bare_wall":
        frames[10:25] = [np.full_like(frames[0], 200) for _ in range(15)]
    elif bad == "covered":
        boxes = [[np.array([20, 10, W - 20, H - 10], float)] if 10 <= i < 25 else [] for i in range(len(frames))]
    else:  # each row shifted by a sine that changes frame to frame
        rows = np.arange(H, dtype=np.float32)
        for i, f in enumerate(frames):
            mx = np.tile(np.arange(W, dtype=np.float32), (H, 1)) + 2.0 * np.sin(rows / 40 + i)[:, None]
            my = np.tile(rows[:, None], (1, W))
            frames[i] = cv2.remap(f, mx, my, cv2.INTER_LINEAR)
    track = follow(frames, boxes).track()
    assert np.isfinite(track.H_first_from_frame).all() and np.isfinite(track.H_raw_first_from_frame).all()
    motion = camera_motion(track, K)
    assert np.isfinite(motion.R_first_from_frame).all()
    turn = angles_deg(motion.R_first_from_frame)
    assert turn.max() < 15  # no camera flying off (the truth turns by at most ~9 degrees)
    if bad == "wobble":
        err, _ = errors_deg(track, R)
        assert np.median(err) < 0.5
    else:
        assert (track.status == LOST).any() and any("lost" in w for w in motion.warnings)
        lost = np.flatnonzero(track.status == LOST)
        assert np.allclose(motion.R_first_from_frame[lost[0]], motion.R_first_from_frame[lost[0] - 1], atol=1e-6)


class _Decoded:
    """Shaped as the decoder's frame where :class:`FrameBetween` reads it."""

    def __init__(self, rgb: np.ndarray):
        self.rgb = rgb

    def to_ndarray(self, width: int, height: int, format: str) -> np.ndarray:
        assert (width, height, format) == (self.rgb.shape[1], self.rgb.shape[0], "rgb24")
        return self.rgb


def follow_at_stride(frames, step: int = 2) -> BackgroundMotion:
    """Every ``step``-th frame analysed, the ones between riding on it, through the scene thread's own step."""
    from nvwa.scene_thread import SceneLines, scene_of
    from nvwa.timing import StageTimer

    bm, lines, timer = BackgroundMotion(K), SceneLines(), StageTimer()
    for i in range(0, len(frames), step):
        between = tuple(FrameBetween(j, j / 30.0, _Decoded(frames[j]), frames[j].shape[1::-1], work_gray)
                        for j in range(max(0, i - step + 1), i))
        scene_of(VideoFrame(i, i / 30.0, frames[i], between=between), [], lines, bm, None, timer)
    return bm


def test_a_moving_camera_is_followed_through_the_frames_not_analysed(scene_image):
    """At a stride, a turning camera's frames between the analysed ones are followed too (a frame's step at a
    time, not a stride's), without rows of their own: from the third analysed frame on (the camera is
    known to move once two rows are in) each analysed frame gets exactly the homographies a run on every
    frame but the second gives it."""
    R = turning(31)
    frames = [view(scene_image, r) for r in R]
    bm = follow_at_stride(frames)
    track, ref = bm.track(), follow([frames[0], *frames[2:]]).track()
    assert list(track.frame_index) == list(range(0, 31, 2)) and bm.between_frames == 14  # 3, 5, ..., 29
    at = [0, *range(1, 30, 2)]  # the reference's rows of frames 0, 2, 4, ..., 30
    assert np.array_equal(track.H_raw_first_from_frame, ref.H_raw_first_from_frame[at])
    assert np.array_equal(track.H_first_from_frame, ref.H_first_from_frame[at])
    err, motion = errors_deg(track, R[::2])
    assert motion.kind == "rotating" and np.median(err) < 0.2 and err.max() < 0.5


def test_a_still_camera_is_not_followed_between_analysed_frames(scene_image):
    """A still camera's frames between are never looked at (their cost is a handheld clip's only): the
    track is the one the analysed frames alone give."""
    rng = np.random.default_rng(0)
    still = view(scene_image, np.eye(3))
    frames = [np.clip(still + rng.normal(0, 2, still.shape), 0, 255).astype(np.uint8) for _ in range(30)]
    bm = follow_at_stride(frames, 3)
    assert bm.between_frames == 0
    assert np.array_equal(bm.track().H_raw_first_from_frame, follow(frames[::3]).track().H_raw_first_from_frame)


def test_a_picture_lost_between_analysed_frames_marks_the_next_one_lost(scene_image):
    """A shot cut on a frame not analysed: the next analysed frame, which matches the new picture, is marked
    lost (the cut is said, and the camera keeps its last good pose there), as every frame analysed would say."""
    R = turning(40)
    frames = [view(scene_image, r) for r in R]
    frames[11:] = [np.ascontiguousarray(np.roll(f[::-1, ::-1], 200, axis=1)) for f in frames[11:]]
    track = follow_at_stride(frames).track()
    assert [int(i) for i in track.frame_index[track.status == LOST]] == [12]
    assert track.status[list(track.frame_index).index(14)] == OK
    motion = camera_motion(track, K)
    assert any("lost" in w for w in motion.warnings) and np.isfinite(motion.R_first_from_frame).all()


def test_a_lost_frame_between_outranks_a_keyframe_on_the_next_analysed_one(scene_image):
    """The next analysed frame's row keeps the worse of its own status and its frames between': a keyframe
    taken on it must not hide that the picture was lost just before (the warning counts lost frames)."""
    from nvwa.camera.background import KEYFRAME

    bm = BackgroundMotion(K)
    img = view(scene_image, np.eye(3))
    bm.add(VideoFrame(0, 0.0, img), [])
    own = bm._step
    bm._between_status = LOST  # as a frame between that lost the picture leaves it
    bm._step = lambda *a: (KEYFRAME, *own(*a)[1:])  # the analysed frame itself begins a keyframe
    bm.add(VideoFrame(2, 2 / 30.0, img), [])
    assert bm.rows[-1][5] == LOST and bm._between_status == OK
    bm._step = lambda *a: (KEYFRAME, *own(*a)[1:])
    bm.add(VideoFrame(4, 4 / 30.0, img), [])
    assert bm.rows[-1][5] == KEYFRAME  # nothing lost between: its own status


@pytest.fixture(scope="module")
def handheld_run(blazepose, tmp_path_factory):
    """vtest's first 4 s as a virtual handheld clip (known rotation, true K), processed end to end."""
    from nvwa.camera.virtual import write_videos
    from nvwa.pipeline import Pipeline, PipelineConfig
    from nvwa.reconstruct import ReconstructConfig

    tmp = tmp_path_factory.mktemp("handheld")
    import av

    with av.open(str(DATA / "vtest_4s.mp4")) as c:
        w, h = c.streams.video[0].width, c.streams.video[0].height
    f = 1.1 * w
    Kfull = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]])
    Kc, R, pan, _ = write_videos(DATA / "vtest_4s.mp4", tmp / "static.mp4", tmp / "handheld.mp4", 4.0, Kfull, seed=3)
    Ktext = f"{Kc[0, 0]},{Kc[1, 1]},{Kc[0, 2]},{Kc[1, 2]}"
    config = PipelineConfig(reconstruct=ReconstructConfig(K=Ktext))
    *_, done = Pipeline(config, body=blazepose).run(tmp / "handheld.mp4", tmp / "out")
    return done.data["scene"], tmp / "out", R, tmp


def test_the_pipeline_follows_a_handheld_camera_and_stores_it_per_frame(handheld_run):
    import av

    from nvwa.scene.schema import read_scene

    scene, out, R_true, tmp = handheld_run
    summary = json.loads((out / "scene.json").read_text())
    assert summary["camera_motion"] == "rotating"
    z = np.load(out / "scene.npz")
    with av.open(str(tmp / "handheld.mp4")) as c:
        s = c.streams.video[0]
        stamps = [float(fr.pts * s.time_base) for fr in c.decode(video=0)]
    assert z["camera_timestamp_s"].shape == (len(stamps),)
    assert np.allclose(z["camera_timestamp_s"], stamps, atol=1e-6)
    assert z["camera_R_world_from_cam"].shape == (len(stamps), 3, 3) and z["camera_t_world_from_cam"].shape == (len(stamps), 3)
    assert np.allclose(z["camera_R_world_from_cam"][0], z["R_world_from_cam"], atol=1e-9)  # R_world_from_cam: frame 0's
    Rw = z["camera_R_world_from_cam"]
    est = np.einsum("ji,njk->nik", Rw[0], Rw)
    true = np.einsum("ji,njk->nik", R_true[0], R_true[: len(Rw)])
    err = angles_deg(np.einsum("nji,njk->nik", est, true))
    assert np.median(err) < 0.5 and err.max() < 2.0, (np.median(err), err.max())
    back = read_scene(out)
    assert back.camera_motion == "rotating" and np.allclose(back.camera_R_world_from_cam, Rw)
    # joints_cam: each frame's own camera (the world joints seen through that frame's pose)
    p = scene.people[0]
    # each frame's camera by its nearest time: a frame moved through in a gap has an interpolated time
    # (1e-16 s off its camera's, where a sorted search can land on the next camera)
    i = np.abs(scene.camera_timestamp_s[None, :] - np.asarray(p.timestamp_s)[:, None]).argmin(axis=1)
    Rc, tc = scene.camera_R_world_from_cam[i], scene.camera_t_world_from_cam[i]
    assert np.allclose(np.einsum("tkj,tji->tki", p.joints_world - tc[:, None], Rc), p.joints_cam, atol=1e-6)


def test_the_glb_camera_is_animated_for_a_handheld_camera_only(handheld_run, sports_export):
    from test_export import Glb

    scene, out, _, _ = handheld_run
    from nvwa.export import ExportConfig, export_scene

    export_scene(scene, out, ["glb"], ExportConfig(body="capsule"))
    glb = Glb(out / "scene.glb")
    cam = glb.by_name["camera"]
    targets = [(c["target"]["node"], c["target"]["path"]) for c in glb.json["animations"][0]["channels"]]
    assert (cam, "rotation") in targets and (cam, "translation") in targets
    i = len(scene.camera_timestamp_s) // 2
    q = glb.sample(float(scene.camera_timestamp_s[i]))[cam]["rotation"]
    want = Rotation.from_matrix(scene.camera_R_world_from_cam[i] @ np.diag([1.0, -1.0, -1.0]))
    assert (Rotation.from_quat(q) * want.inv()).magnitude() < 1e-3
    static_scene, static_out = sports_export
    assert static_scene.camera_motion == "static"
    assert np.allclose(static_scene.camera_R_world_from_cam, static_scene.R_world_from_cam)
    still = Glb(static_out / "scene.glb")
    assert all(c["target"]["node"] != still.by_name["camera"] for c in still.json["animations"][0]["channels"])


def test_the_pipeline_follows_a_handheld_camera_through_the_frames_it_does_not_analyse(handheld_run, blazepose,
                                                                                      monkeypatch):
    """--stride 2 on the handheld clip: its camera is followed through the frames between too (from the third
    analysed frame, once it is seen to move), stored per analysed frame, and as right as every frame's. Its
    people's tracker is told each analysed frame stands for two of the video's (it looks at their colours
    after as many of the video's frames as with every frame)."""
    import nvwa.pipeline as pipeline
    from nvwa.config import VideoConfig
    from nvwa.pipeline import Pipeline, PipelineConfig
    from nvwa.reconstruct import ReconstructConfig

    steps, tracker = [], pipeline.PeopleTracker
    monkeypatch.setattr(pipeline, "PeopleTracker", lambda *a, **k: steps.append(k.get("frame_step")) or tracker(*a, **k))

    _, out, R_true, tmp = handheld_run
    Ktext = json.loads((out / "scene.json").read_text())["intrinsics"]["K"]
    Ktext = f"{Ktext[0][0]},{Ktext[1][1]},{Ktext[0][2]},{Ktext[1][2]}"
    config = PipelineConfig(video=VideoConfig(stride=2), reconstruct=ReconstructConfig(K=Ktext))
    *_, done = Pipeline(config, body=blazepose).run(tmp / "handheld.mp4", tmp / "out_stride2")
    z = np.load(tmp / "out_stride2" / "scene.npz")
    analysed = len(z["camera_timestamp_s"])
    assert analysed == (len(R_true) + 1) // 2 and steps == [2]
    summary = json.loads((tmp / "out_stride2" / "scene.json").read_text())
    # from the third analysed frame on, every step of this turning clip moves (a step or two of the shake may not)
    assert summary["camera_motion"] == "rotating" and analysed - 4 <= summary["stats"]["camera_frames_between"] <= analysed - 2
    Rw = z["camera_R_world_from_cam"]
    est = np.einsum("ji,njk->nik", Rw[0], Rw)
    true = np.einsum("ji,njk->nik", R_true[0], R_true[::2][: len(Rw)])
    err = angles_deg(np.einsum("nji,njk->nik", est, true))
    assert np.median(err) < 0.5 and err.max() < 2.0, (np.median(err), err.max())


def test_camera_static_option_keeps_the_scene_of_a_static_camera(handheld_run):
    """--camera static on the handheld clip: no motion looked for, the same pose every frame."""
    from nvwa.observations import load_observations
    from nvwa.reconstruct import ReconstructConfig, reconstruct

    _, out, _, _ = handheld_run
    obs = load_observations(out)
    scene = reconstruct(obs, ReconstructConfig(camera="static", K=None))
    assert scene.camera_motion == "static"
    assert np.allclose(scene.camera_R_world_from_cam, scene.R_world_from_cam)


def test_a_small_turn_too_flat_for_a_focal_still_rules_one_out(scene_image):
    """A hand-held turn of ~3 deg (as on handheld_kids_bed, where real pictures make the minimum too flat
    for the turning's own focal): a focal 35% short makes the homographies far from rotations, and a cue
    that says it is not believed (:func:`calibrate_camera`'s ``misfit``); the true one fits about as well
    as the best of the grid."""
    R = turning(pan=3.0, tilt=1.0, roll=1.0)
    track = follow([view(scene_image, r) for r in R]).track()
    Hr = track.H_raw_first_from_frame
    assert rotation_misfit(Hr, W, H, F) < 1.2
    assert rotation_misfit(Hr, W, H, 0.65 * F) > 2.0
    assert rotation_misfit(Hr[:1], W, H, F) is None  # one frame: nothing turned


def _clip_frames(name: str, n: int, size=(640, 360), repeat: int = 1) -> list[np.ndarray]:
    import av
    import cv2

    with av.open(str(DATA / name)) as c:
        frames = [cv2.resize(f.to_ndarray(format="rgb24"), size, interpolation=cv2.INTER_AREA)
                  for _, f in zip(range(n), c.decode(video=0))]
    return [f for f in frames for _ in range(repeat)]


def _cuts_of(images: list[np.ndarray], fps: float = 30.0, stride: int = 1, mixed: list | None = None) -> list[tuple[float, int]]:
    """ShotCuts over frames analysed every ``stride``-th, each carrying the glances of the frames decoded
    since the last (as :func:`iter_frames` hands them on); with ``stride`` 1, frames without glances (a
    caller that makes its own frames: its pictures are looked at)."""
    from nvwa.video.cuts import ShotCuts, _grey

    cuts = ShotCuts()
    for i in range(0, len(images), stride):
        seen = tuple((k / fps, k, _grey(images[k])) for k in range(max(0, i - stride + 1), i + 1)) if stride > 1 else ()
        cuts.add(VideoFrame(index=i, timestamp_s=i / fps, image=images[i], glances=seen))
    found = cuts.finish()
    if mixed is not None:  # (the frames of each dissolve that show both shots)
        mixed.extend(cuts.mixed)
    return found


def test_a_cut_from_one_shot_to_another_is_found_and_nothing_else():
    """An edited video cuts between cameras; a scene is one camera's. Real frames: Sports2D's field, then vtest's
    square (10 fps, each frame thrice): one cut, at the new shot's first frame. A frame of the other shot for
    one frame only (a flash cut), someone's dark coat filling most of the view for 0.3 s, the lights
    dimmed to half from a frame on: the picture comes back (or is the same picture), no cut."""
    sports, square = _clip_frames("sports2d_3s.mp4", 60), _clip_frames("vtest_4s.mp4", 20, repeat=3)
    assert _cuts_of(sports + square) == [(2.0, 60)]
    assert _cuts_of(sports) == [] and _cuts_of(square) == []
    flash = sports[:30] + square[:1] + sports[31:]
    covered = [f.copy() for f in sports]
    for f in covered[20:29]:
        f[:, 60:580] = 20  # a coat right in front of the lens
    dimmed = sports[:30] + [(f // 2).astype(np.uint8) for f in sports[30:]]
    assert _cuts_of(flash) == [] and _cuts_of(covered) == [] and _cuts_of(dimmed) == []
    # a cut the video ends too soon after to see stay is still a cut
    assert _cuts_of(sports + square[:6]) == [(2.0, 60)]
    # every 8th frame analysed: the frames between are looked at too, so the cut is found where it is, and
    # a dark figure sweeping across 70% of the view in 1.2 s (steps as large as a cut's between frames 8
    # apart) is none
    assert _cuts_of(sports + square, stride=8) == [(2.0, 60)]
    swept = [f.copy() for f in sports + sports[::-1]]
    for k in range(36):
        x = int(-448 + 1088 * k / 35)
        swept[40 + k][:, max(0, x):max(0, min(640, x + 448))] = (40, 35, 30)
    assert _cuts_of(swept) == [] and _cuts_of(swept, stride=8) == []


def _dissolved(first: list[np.ndarray], second: list[np.ndarray], frames: int) -> list[np.ndarray]:
    """``first`` dissolving into ``second`` over its last ``frames`` frames and the other's first (both moving
    on meanwhile, as an editor's cross-fade: the share of the new picture rising in equal steps)."""
    n = len(first) - frames
    mixed = [((1 - a) * f.astype(np.float32) + a * g).astype(np.uint8)
             for a, f, g in zip((np.arange(frames) + 1) / (frames + 1), first[n:], second)]
    return first[:n] + mixed + second[frames:]


def test_a_dissolve_from_one_shot_to_another_is_found_at_its_middle_and_nothing_else():
    """A dissolve has no step a cut has: each frame is a blend of the two shots. Real frames (Sports2D's field
    dissolving into vtest's square over 0.5-4 s, 30 fps, both moving on): one change, within a frame or 5% of its
    length of its middle, found once, at every stride, and the frames that show both shots. The same field dissolving
    into itself darkened (the lights dimmed slowly), a dark figure sweeping across it: no change."""
    sports, square = _clip_frames("sports2d_3s.mp4", 90), _clip_frames("vtest_4s.mp4", 40, repeat=4)
    sports = sports + sports[::-1]  # 6 s
    for frames in (15, 30, 120):  # 0.5 s, 1 s, 4 s
        video = _dissolved(sports, square, frames)
        middle = len(sports) - frames + frames // 2  # the frame half the one, half the other
        for stride in (1, 4):
            mixed = []
            (t, k), *more = _cuts_of(video, stride=stride, mixed=mixed)
            assert not more and abs(k - middle) <= max(1, frames // 20) and t == k / 30, (frames, stride, k)
            share = (np.arange(frames) + 1) / (frames + 1)  # the square's in each frame of the dissolve
            first = len(sports) - frames  # its frames showing both (0.1 to 0.9 of the square), within 3 frames:
            both = first + np.flatnonzero((share > 0.1) & (share < 0.9))[[0, -1]]
            assert len(mixed) == 1 and np.abs(np.subtract(mixed[0], both)).max() <= 3, (frames, mixed, both)
    dimmed = _dissolved(sports, [(f // 3).astype(np.uint8) for f in sports[45:]] + [(f // 3).astype(np.uint8) for f in sports[:45]], 30)
    swept = [f.copy() for f in sports]
    for k in range(36):
        x = int(-448 + 1088 * k / 35)
        swept[20 + k][:, max(0, x):max(0, min(640, x + 448))] = (40, 35, 30)
    assert _cuts_of(dimmed) == [] and _cuts_of(swept) == [] and _cuts_of(swept, stride=4) == []


def test_light_and_black_are_no_change_of_camera_but_a_fade_through_black_to_another_is():
    """Light coming on over part of the view, slowly or at once, changes the normalised picture as much as a
    camera change, and a fade's frames are blends too; neither is a new shot. Black before the first picture
    or after the last is none; a fade through black is the picture before the dark against the first
    well-lit one after: a change where they are two cameras' (at the first well-lit frame), none where they
    are one's. A cutaway dissolved in and cut out after 2 s is two changes."""
    sports, square = _clip_frames("sports2d_3s.mp4", 90), _clip_frames("vtest_4s.mp4", 30, repeat=3)

    def lit(frames, part, lo, over):  # the left ``part`` px brighten from x``lo`` to x1 over ``over`` frames from frame 30
        out = []
        for k, f in enumerate(frames):
            g = f.astype(np.float32)
            g[:, :part] *= lo + (1 - lo) * min(1.0, max(0.0, (k - 30) / over))
            out.append(g.clip(0, 255).astype(np.uint8))
        return out

    def fade(frames, a0, a1):
        return [((a0 + (a1 - a0) * (k + 1) / (len(frames) + 1)) * f.astype(np.float32)).astype(np.uint8)
                for k, f in enumerate(frames)]

    black = [np.zeros_like(sports[0])] * 10
    for part, lo, over in ((320, 0.5, 30), (160, 0.5, 15), (224, 0.3, 30), (320, 0.4, 1)):
        assert _cuts_of(lit(sports, part, lo, over)) == [], (part, lo, over)
    assert _cuts_of(black + fade(sports[:30], 0, 1) + sports[30:]) == []  # a fade in at the start
    assert _cuts_of(sports[:60] + fade(sports[60:], 1, 0) + black) == []  # a fade out at the end
    through = sports[:45] + fade(sports[45:60], 1, 0) + black + fade(square[:15], 0, 1) + square[15:]
    (t, k), *more = _cuts_of(through)
    assert not more and 60 + 10 <= k <= 60 + 10 + 15, k  # in the fade in, once the square is well lit
    assert _cuts_of(sports[:45] + fade(sports[45:60], 1, 0) + black + fade(sports[60:75], 0, 1) + sports[75:]) == []
    cutaway = _dissolved(sports[:60], square[:75], 15) + sports[30:90]  # the square for 2 s, then the field again
    (_, k), (_, back), *more = _cuts_of(cutaway)
    assert not more and 51 <= k <= 53 and back == 120
    # a dim shot (a grey-level spread of ~11) is a shot: after black, it is compared once it has been there 2 s
    dim = [(f // 4).astype(np.uint8) for f in square]
    assert [k for _, k in _cuts_of(sports[:60] + black[:1] + dim)] == [61]  # at the first frame after the dark
    assert [k for _, k in _cuts_of(sports[:60] + dim[:30] + black[:5] + square[35:])] == [60]  # dim, dark, lit: one shot


def test_one_shot_keeps_the_shot_with_the_most_peoples_time_and_counts_its_camera_from_its_first_frame():
    """An edited video's observations cut to one shot: its people's frames, straight edges and background
    track, whose homographies then start from the identity at the shot's first frame (the pose the track
    kept across the cut is the old shot's camera, not this one's); where the video has no cut, as they are.
    The people's time, not frames, chooses: a film's 24 pictures a second in a 30-fps edit (its repeats not
    analysed) for 1.2 s beat 1 s of 30 fps, though it has 29 frames to the other's 30."""
    from dataclasses import replace

    from nvwa.camera.background import KEYFRAME, CameraTrack
    from nvwa.observations import Observations, PersonObservations
    from nvwa.tracking.shots import one_shot

    def person(pid, frames):
        n = len(frames)
        return PersonObservations(pid, np.asarray(frames, np.int64), np.asarray(frames) / 10.0, np.zeros((n, 33, 2), np.float32),
                                  np.zeros((n, 33, 3), np.float32), np.ones((n, 33), np.float32))

    turns = [Rotation.from_euler("y", 0.5 * k, degrees=True).as_matrix() for k in range(20)]
    H = np.stack(turns)
    track = CameraTrack(np.arange(20), np.arange(20) / 10.0, H, np.full(20, 50, np.int32),
                        np.array([0] * 8 + [LOST] + [0] * 11, np.int8), np.zeros(20, np.float32), H.copy())
    lines = np.array([[0, 0, 1, 1, 0], [0, 0, 1, 1, 5], [0, 0, 1, 1, 8], [0, 0, 1, 1, 13]], np.float32)
    obs = Observations({"width": 64, "height": 48}, "blazepose33", "blazepose", "blazepose", np.eye(3), "default", {},
                       (person(0, range(8)), person(1, range(4, 14)), person(2, range(9, 20))),
                       stats={"cuts_s": [0.8], "cuts_frame": [8]}, scene_lines=lines, camera_track=track)
    shot, note = one_shot(obs)
    assert note == "the scene is the video's shot from 0.8 s to the end, the one with the most of the people's time (1.7 of 2.9 person-seconds); its 1 other is left out"
    assert [(p.person_id, p.frame_index.tolist()) for p in shot.people] == [(1, list(range(8, 14))), (2, list(range(9, 20)))]
    assert shot.scene_lines[:, 4].tolist() == [8, 13]
    t = shot.camera_track
    assert t.frame_index.tolist() == list(range(8, 20)) and t.status[0] == KEYFRAME and track.status[8] == LOST
    assert np.allclose(t.H_first_from_frame, [turns[8].T @ R for R in turns[8:]]) and np.allclose(t.H_first_from_frame[0], np.eye(3))
    # a dissolve: its frames showing both shots (6-9) are in neither
    shot, note = one_shot(replace(obs, stats={"cuts_s": [0.8], "cuts_frame": [8], "mixed_frames": [[6, 9]]}))
    assert note.endswith("(1.4 of 2.2 person-seconds); its 1 other is left out, and its 2 frames of a dissolve showing both shots")
    assert [(p.person_id, p.frame_index.tolist()) for p in shot.people] == [(1, list(range(10, 14))), (2, list(range(10, 20)))]
    assert shot.scene_lines[:, 4].tolist() == [13] and shot.camera_track.frame_index.tolist() == list(range(10, 20))
    assert np.allclose(shot.camera_track.H_first_from_frame[0], np.eye(3))
    plain = replace(obs, stats={})
    same, nothing = one_shot(plain)
    assert same is plain and nothing == ""
    film = [k for k in range(30, 66) if k == 30 or int((k - 30) * 24 // 30) != int((k - 31) * 24 // 30)]  # 1.2 s at 24
    frames = np.array([*range(30), *film])
    edited = CameraTrack(frames, frames / 30.0, np.tile(np.eye(3), (len(frames), 1, 1)), np.full(len(frames), 50, np.int32),
                         np.zeros(len(frames), np.int8), np.zeros(len(frames), np.float32), np.tile(np.eye(3), (len(frames), 1, 1)))
    walker = PersonObservations(0, frames, frames / 30.0, np.zeros((len(frames), 33, 2), np.float32),
                                np.zeros((len(frames), 33, 3), np.float32), np.ones((len(frames), 33), np.float32))
    shot, note = one_shot(replace(obs, people=(walker,), scene_lines=None, camera_track=edited,
                                  stats={"cuts_s": [1.0], "cuts_frame": [30]}))
    assert len(film) == 29 and shot.people[0].frame_index.tolist() == film
    assert note.startswith("the scene is the video's shot from 1 s to the end, the one with the most of the people's time (1.21 of 2.21")
