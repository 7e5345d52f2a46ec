"""World grounding on synthetic people with a known camera: floor, camera pose, focal, fallbacks."""

import re
from pathlib import Path

import numpy as np
import pytest

from nvwa.grounding.world import (PersonFeet, camera_pose, estimate_focal_scale, ground_people, raised_supports,
                                  world_from_camera)
from nvwa.grounding.floor import Floor

DATA = Path(__file__).parent / "data"


def _camera(height, pitch_deg, roll_deg=0.0):
    """R_cam_from_world, t_cam_from_world for a camera at (0, height, 0) looking along -Z, pitched down."""
    p, r = np.radians(pitch_deg), np.radians(roll_deg)
    fwd = np.array([0.0, -np.sin(p), -np.cos(p)])
    right = np.cross(fwd, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    # roll about the view axis: positive turns the camera clockwise (its right side down)
    right, down = np.cos(r) * right + np.sin(r) * down, -np.sin(r) * right + np.cos(r) * down
    R = np.stack([right, down, fwd])
    return R, -R @ np.array([0.0, height, 0.0])


def _walker(R, t_cw, start, direction, seconds=4.0, fps=30.0, rng=None):
    """A person walking 1 m/s on the floor, feet planted in turn; camera-frame PersonFeet."""
    T = int(seconds * fps)
    ts = np.arange(T) / fps
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    side = np.cross([0.0, 1.0, 0.0], d)
    root = np.asarray(start, float) + np.outer(ts, d) + [0, 0.95, 0]
    soles = np.zeros((T, 4, 3))
    step = 0.5
    for k, s in enumerate((1, -1)):
        phase = (ts + k * 0.5) % 1.0  # half the cycle planted, half swinging
        planted_at = np.floor(ts + k * 0.5) + 0.25 - k * 0.5
        ankle = np.asarray(start, float) + np.outer(planted_at, d) * 1.0 + s * 0.1 * side + [0, 0.08, 0]
        swing = phase >= 0.5
        ankle[swing] += np.outer((phase[swing] - 0.5) * 2 * step * 2, d) + np.outer(np.sin((phase[swing] - 0.5) * 2 * np.pi) * 0.1, [0, 1, 0])
        toe = ankle + 0.15 * d - [0, 0.08, 0]
        soles[:, 2 * k] = ankle - root
        soles[:, 2 * k + 1] = toe - root
    up = np.tile([0.0, 0.55, 0.0], (T, 1))
    cam = lambda x: x @ R.T  # noqa: E731  (directions)
    root_c = root @ R.T + t_cw
    rng = rng or np.random.default_rng(0)
    return PersonFeet(ts, root_c + rng.normal(scale=0.005, size=root_c.shape), cam(soles), np.ones((T, 4)), cam(up))


def _crowd(R, t_cw):
    rng = np.random.default_rng(1)
    return {i: _walker(R, t_cw, start, direction, rng=rng) for i, (start, direction) in
            enumerate((([-2, 0, -6], [1, 0, 0]), ([2, 0, -9], [-1, 0, 0.3]), ([0, 0, -12], [0.2, 0, 1])))}


def test_camera_pose_reads_height_pitch_and_roll():
    R_cw, t_cw = _camera(3.0, 25.0, 5.0)
    up_cam = R_cw @ np.array([0.0, 1.0, 0.0])
    R, t = world_from_camera(Floor(up_cam, 3.0, 0, 0, 0.0, "true"))
    pose = camera_pose(R, t)
    assert pose.height_m == pytest.approx(3.0)
    assert pose.pitch_deg == pytest.approx(25.0, abs=1e-6)
    assert pose.roll_deg == pytest.approx(5.0, abs=1e-6)
    assert np.allclose(pose.world_from_camera[:3, 3], t) and np.allclose(pose.world_from_camera[3], [0, 0, 0, 1])


def test_floor_gravity_and_camera_height_from_people():
    R_cw, t_cw = _camera(4.0, 30.0, -6.0)
    people = _crowd(R_cw, t_cw)
    g = ground_people(people, people, estimate_focal=False)
    true_up = R_cw @ np.array([0.0, 1.0, 0.0])
    assert np.degrees(np.arccos(g.floor.normal_cam @ true_up)) < 2.0
    assert g.camera.height_m == pytest.approx(4.0, rel=0.05)
    assert g.camera.pitch_deg == pytest.approx(30.0, abs=2.0)
    assert g.camera.roll_deg == pytest.approx(-6.0, abs=2.0)
    assert g.floor.method == "ransac" and not g.warnings


def test_focal_length_found_from_people_placed_with_a_wrong_guess():
    R_cw, t_cw = _camera(3.0, 30.0)
    people = _crowd(R_cw, t_cw)
    guess_over_true = 1.3  # the guessed focal is 30% long: every depth came out 30% too far
    stretched = {pid: PersonFeet(p.t, p.root * [1, 1, guess_over_true], p.soles, p.sole_confidence, p.up) for pid, p in people.items()}
    g = ground_people(stretched, stretched, estimate_focal=True)
    assert g.focal_estimated
    assert g.focal_scale == pytest.approx(1 / guess_over_true, rel=0.05)
    assert g.camera.height_m == pytest.approx(3.0, rel=0.05)


def test_a_level_camera_keeps_the_focal_guess_and_says_so():
    assert estimate_focal_scale(np.array([0.0, -1.0, 0.0]), np.array([0.0, -1.0, 0.0])) is None
    R_cw, t_cw = _camera(1.5, 1.0)
    people = _crowd(R_cw, t_cw)
    g = ground_people(people, people, estimate_focal=True)
    assert not g.focal_estimated and g.focal_scale == 1.0
    assert any("focal length not estimated" in w for w in g.warnings)


@pytest.mark.parametrize("case", ["nobody", "waist_up", "sitting_still_one_frame"])
def test_too_few_contacts_fall_back_to_the_upright_camera_prior(case):
    if case == "nobody":
        people = {}
    else:
        T = 1 if case == "sitting_still_one_frame" else 40
        t = np.arange(T) / 30
        conf = np.zeros((T, 4)) if case == "waist_up" else np.ones((T, 4))
        feet = PersonFeet(t, np.tile([0.0, 0.2, 4.0], (T, 1)), np.tile([[0.0, 0.5, 0.0]] * 4, (T, 1, 1)), conf,
                          np.tile([0.0, -0.5, 0.0], (T, 1)))
        people = {7: feet}
    g = ground_people(people, people, estimate_focal=True)
    assert g.floor.method == "prior"
    assert g.camera.height_m == pytest.approx(1.6) and g.camera.pitch_deg == pytest.approx(0.0)
    assert g.warnings
    for root in g.roots.values():
        assert np.isfinite(root).all()


def test_a_raised_support_is_found_against_the_persons_own_stance():
    t = np.arange(90) / 30
    heights = np.where(t < 1.5, 0.6, 0.0) + 0.3  # on a 0.6 m box, then down; all 0.3 m off (depth bias)
    level, found = raised_supports(heights, t)
    assert len(found) == 1 and found[0]["height_m"] == pytest.approx(0.6, abs=0.05)
    assert level[:30].min() > 0.5 and level[-30:].max() == 0.0
    # always high (only ever seen on the box, or depth off for the whole track): not told apart, no support
    assert raised_supports(np.full(90, 0.8), t)[1] == []


def test_a_short_stand_on_a_box_is_found_at_10_30_and_60_fps():
    """0.6 s on a 0.6-m box, 3 cm of noise: the stance's running median spans the same time at any frame
    rate (7 frames each side at 30 fps). Counted as 7 frames at 10 fps it spanned 1.4 s and the stand was
    lost in it (Sports2D analysed at 15 fps, `--stride 2`: the man's jump off his box was lost so)."""
    for fps in (10, 30, 60):
        t = np.arange(0, 6, 1 / fps)
        heights = np.where((t >= 2) & (t < 2.6), 0.6, 0.0) + np.random.default_rng(0).normal(0, 0.03, len(t))
        level, found = raised_supports(heights, t, 0.4)
        assert len(found) == 1 and found[0]["height_m"] == pytest.approx(0.6, abs=0.05), fps
        assert 1.9 <= found[0]["start_s"] <= 2.1 and 2.4 <= found[0]["end_s"] <= 2.7, (fps, found)


def test_a_far_walkers_drifting_stance_is_no_support_without_a_step_on_or_off():
    """vtest's woman in red crossing the back of the square (frames 605-794, ~50 px, 35 m from a camera
    7.6 m up): her body-size depth drifts, her stance before pinning wanders over 4 m, and twice it sat
    just past the noise bound for 1-2 s. Both stretches were taken for 2.2-m supports and she was drawn
    standing 2.3 m in the air. She never steps up or down at either end (no ground stance within 1 s of
    them): no support. The same stretch with a step onto it from the ground is one."""
    data = np.load(DATA / "vtest_drifting_stance.npz")
    heights, t, min_level = data["heights"].astype(float), data["t"], float(data["min_level"])
    level, found = raised_supports(heights, t, min_level)
    assert found == [] and (level == 0).all()
    stepped = heights.copy()
    before = (t >= 60.8) & (t < 61.5)  # she is at her ground stance just before the first stretch
    stepped[before] = np.nanpercentile(heights, 5)
    assert [round(f["start_s"], 1) for f in raised_supports(stepped, t, min_level)[1]][:1] == [61.5]


def _lifted(camera_height: float, distance: float, lift: np.ndarray, fps: float = 10.0) -> tuple[PersonFeet, Floor]:
    """A person standing ``distance`` m ahead of a camera ``camera_height`` m up (pitched 15 deg down), their
    stance ``lift`` (T,) m above the floor before pinning (a box stepped onto, or a far walker's depth drift),
    with the floor it is measured from."""
    R, t_cw = _camera(camera_height, 15.0)
    T = len(lift)
    world_root = np.column_stack([np.zeros(T), 0.9 + lift, np.full(T, -distance)])
    soles = np.tile((np.array([[0.1, -0.9, 0.0], [0.1, -0.9, -0.15], [-0.1, -0.9, 0.0], [-0.1, -0.9, -0.15]]) @ R.T)[None], (T, 1, 1))
    up = np.tile(np.array([0.0, 0.55, 0.0]) @ R.T, (T, 1))
    floor = Floor(R @ np.array([0.0, 1.0, 0.0]), camera_height, 0, 0, 0.0, "true")
    return PersonFeet(np.arange(T) / fps, world_root @ R.T + t_cw, soles, np.ones((T, 4)), up), floor


def test_a_raised_stretch_seen_from_high_up_is_not_told_from_depth_noise():
    """A stance 2.4 m up for 1.5 s, stepped onto and off, 12 m from the camera: from 1.5 m up, a support.
    From 7.6 m up (vtest's camera), a body-size depth 10% off moves the stance by 0.67 m (the noise bound
    is three times that), and the depth of vtest's woman in red crossing the back of the square drifted by
    as much and passed for a stepped-onto 2.3-m support: no raised stretch is looked for; she is stood on the floor."""
    from nvwa.grounding.world import HIGH_VIEW_NOISE_M, _stance_noise, stand_person

    lift = np.zeros(60)
    lift[20:35] = 2.4
    low, low_floor = _lifted(1.5, 12.0, lift)
    assert _stance_noise(low, low_floor) <= HIGH_VIEW_NOISE_M
    (found,) = stand_person(low, low_floor)[2]
    assert found["height_m"] == pytest.approx(2.4, abs=0.05)
    high, high_floor = _lifted(7.6, 12.0, lift)
    assert _stance_noise(high, high_floor) == pytest.approx(2.0, abs=0.3)
    assert raised_supports(high_floor.height(high.root[:, None] + high.soles).min(axis=1), high.t, _stance_noise(high, high_floor))[1]
    assert stand_person(high, high_floor)[2] == []


def test_a_camera_that_tilts_during_the_video_is_reported():
    R0, t0 = _camera(3.0, 20.0)
    R1, t1 = _camera(3.0, 35.0)  # the operator tilts the camera down 15 degrees half-way
    people = {}
    for pid, p in _crowd(R0, t0).items():
        q = _crowd(R1, t1)[pid]
        late = p.t >= 2.0
        pick = lambda a, b: np.where(late.reshape((-1,) + (1,) * (a.ndim - 1)), b, a)  # noqa: E731
        people[pid] = PersonFeet(p.t, pick(p.root, q.root), pick(p.soles, q.soles), p.sole_confidence, pick(p.up, q.up))
    g = ground_people(people, people, estimate_focal=False)
    said = [w for w in g.warnings if "camera seems to move" in w]
    assert len(said) == 1, g.warnings
    tilt, first, second = map(float, re.search(r"are ([\d.]+) deg apart, ([\d.-]+) and ([\d.-]+) m below the camera", said[0]).groups())
    assert 10 < tilt < 20 and 2.5 < first < 3.5 and 0 < second < 10, said  # the heights as they are, not a ratio
    still = _crowd(R0, t0)
    assert not any("camera seems to move" in w for w in ground_people(still, still, estimate_focal=False).warnings)


def test_a_raised_stretch_ends_where_the_feet_leave_the_top():
    """Standing on a 2 m box, then a jump down (Sports2D): the support's stretch ends at the last frame the
    feet are near its top, not where the running median of the heights lets go of it a few frames later
    (that kept the jumper on the box mid-fall, then dropped him 1.5 m in one frame)."""
    from nvwa.grounding.world import raised_supports

    t = np.arange(0, 6, 1 / 30)
    h = np.where(t < 2.0, 0.0, 2.0)
    fall = (t >= 4.0) & (t < 4.6)
    h[fall] = 2.0 - 0.5 * 9.81 * (t[fall] - 4.0) ** 2
    h[t >= 4.6] = 0.0
    h += np.random.default_rng(9).normal(0, 0.03, len(t))
    support, found = raised_supports(h, t)
    assert len(found) == 1 and found[0]["height_m"] == pytest.approx(2.0, abs=0.1)
    last_near_top = t[(np.abs(h - 2.0) <= 0.5) & (t < 4.6)][-1]
    assert found[0]["end_s"] <= last_near_top + 1e-9 and found[0]["end_s"] >= 3.9
    assert found[0]["start_s"] <= 2.05
    assert (support[t > last_near_top + 1e-9] == 0).all()


def test_a_far_walkers_depth_pulses_are_smoothed_along_the_ray_and_a_sideways_run_is_kept():
    """vtest's far walker (65 m off, a camera 7 m up): his depth along the camera's ray comes in pulses (a
    foot a pixel off is 0.4 m there; the running median holds it, then jumps), which a cutoff raised with
    speed passed as 5-m/s steps. The path is smoothed as its direction from the camera (as before) and, at
    a fixed cutoff, its distance along the ray: no step over 0.5 m in 0.1 s is left, while a sideways run
    (across the ray, well seen) keeps its speed."""
    from nvwa.grounding.paths import PATH_SMOOTHING, smoothed_along_rays
    from nvwa.smoothing.one_euro import one_euro_zero_lag

    t = np.arange(100) / 10.0  # 10 fps, as vtest
    ray = np.array([0.0, 0.11, 1.0]) / np.linalg.norm([0.0, 0.11, 1.0])
    toward = (65.0 - 1.4 * np.floor(t))[:, None] * ray  # walking toward the camera at 1.4 m/s, seen in 1.4-m jumps
    largest_step = lambda p: np.linalg.norm(np.diff(p, axis=0), axis=1).max()  # noqa: E731
    assert largest_step(one_euro_zero_lag(toward, t, PATH_SMOOTHING)) > 0.5  # what a cutoff raised with speed leaves
    assert largest_step(smoothed_along_rays(toward, t)) < 0.4
    sideways = ray * 20.0 + np.outer(3.0 * t, [1.0, 0.0, 0.0])  # 20 m off, running across the view at 3 m/s
    sideways[::7, 0] += 0.02  # a little keypoint jitter
    smoothed = smoothed_along_rays(sideways, t)
    speed = np.linalg.norm(smoothed[80, [0, 2]] - smoothed[20, [0, 2]]) / 6.0
    assert abs(speed - 3.0) < 0.1 and np.abs(smoothed - sideways).max() < 0.3
    # everyone's paths smoothed side by side: each exactly as alone (lengths from 3 frames to 20 s, uneven times)
    from nvwa.grounding.paths import smoothed_along_rays_many

    rng = np.random.default_rng(2)
    ts = [np.cumsum(rng.uniform(0.05, 0.15, n)) for n in (3, 17, 200, 9)]
    roots = [ray * rng.uniform(5, 60) + np.cumsum(rng.normal(0, 0.2, (len(tt), 3)), axis=0) for tt in ts]
    for got, root, tt in zip(smoothed_along_rays_many(roots, ts), roots, ts):
        assert np.array_equal(got, smoothed_along_rays(root, tt))


def test_a_foot_on_its_support_before_the_path_is_smoothed_is_put_back_on_it(monkeypatch):
    """Far off, smoothing the distance along the ray alone lifts a standing foot by a lot (at 65 m from a
    camera 7 m up, 3 m along the ray is ~0.3 m up, past the 15 cm that put a foot back before): a foot that
    stood on its support before the smoothing is put back on it, whatever the lift; one in the air stays."""
    import nvwa.grounding.world as world
    from nvwa.grounding.world import SNAP_M, _placed

    R, t_cw = _camera(7.0, 6.0)
    p = _walker(R, t_cw, [0, 0, -65], [0.3, 0, 1], seconds=6.0, fps=10.0)
    floor = Floor(R @ np.array([0.0, 1.0, 0.0]), 7.0, 0, 0, 0.0, "true")
    n = floor.normal_cam
    height = lambda q: ((q.root[:, None] + q.soles) @ n + floor.offset).min(axis=1)  # noqa: E731  the lowest sole
    on_floor = height(_placed(p, floor, fallback=np.ones(len(p.t)))[0]) < 0.01
    assert on_floor.mean() > 0.9
    monkeypatch.setattr(world, "smoothed_along_rays_many",  # everyone 3 m nearer
                        lambda roots, ts: [root * (1 - 3.0 / np.linalg.norm(root, axis=1))[:, None] for root in roots])
    lifted = height(_placed(p, floor, fallback=np.ones(len(p.t)))[0])
    assert np.abs(lifted[on_floor]).max() < 1e-6  # 0.3 m up without the rule (over SNAP_M)
    assert SNAP_M < 0.3


def test_a_jump_down_off_a_box_falls_in_its_own_time():
    """Sports2D's man stands on a 1.9-m box, jumps down (a 0.62-s fall) and walks on. His root path's speed
    bound (twice his median speed, at least 2.5 m/s: he mostly stands) spread the drop over ~1.1 s, half of
    it before he left the box: his body sank into its top. Around a step down off a support the part of the
    path that goes down across the camera's ray may be as fast as a fall; the depth along the ray keeps
    the bound. The stance is on the box until he jumps, and on the floor as he lands (the bound alone: 0.38 m
    above it 30 ms after the landing, 0.17 m 0.2 s after)."""
    from nvwa.grounding.world import stand_person

    for fps in (30.0, 60.0):
        t = np.arange(0, 4.0, 1 / fps)
        lift = np.where(t < 2.0, 1.9, 0.0)
        fall = (t >= 2.0) & (t < 2.62)
        lift[fall] = 1.9 - 0.5 * 9.81 * (t[fall] - 2.0) ** 2
        person, floor = _lifted(1.5, 9.0, lift, fps)
        root, _, found = stand_person(person, floor)
        assert len(found) == 1 and found[0]["height_m"] == pytest.approx(1.9, abs=0.1)
        pelvis = floor.height(root) - 0.9  # the stance: the body's own height taken off
        assert np.abs(pelvis[t < 1.85] - 1.9).max() < 0.15, fps  # on the box until the jump
        assert np.abs(pelvis[t > 2.65]).max() < 0.1, fps  # landed as the fall ends (2.62 s), not 0.25 s later


@pytest.mark.parametrize("crouch", [0.85, 0.9, 1.1, 1.15])
@pytest.mark.parametrize("off", [0.9, 1.0])
def test_a_person_who_stood_on_a_box_is_sized_by_their_frames_on_the_floor(off, crouch):
    """Sports2D's jumper: 2 s on a 1.9-m box under a camera 1.5 m up, then landed and walking off; his
    whole track placed ``off`` times too far by his body's size, his landing crouch ``crouch`` times more
    (the body-size placement differs between poses; his walk jitters 3%). The box's height is measured
    against his ground stance, so the crouch moves it a few cm, and near the camera's height a few cm of
    the box's height is a lot of his size (1/(1.9 - 1.5) per metre: 0.85 gave 15% off, and re-encoded
    copies of the clip drew him 1.33-1.80 m tall). His size comes from his planted frames on the floor now:
    within 5% of ``off``."""
    from nvwa.grounding.world import PersonFeet, stand_person

    rng = np.random.default_rng(0)
    t = np.arange(0, 4.0, 1 / 30)
    lift = np.where(t < 2.0, 1.9, 0.0)
    fall = (t >= 2.0) & (t < 2.62)
    lift[fall] = 1.9 - 0.5 * 9.81 * (t[fall] - 2.0) ** 2
    true, floor = _lifted(1.5, 9.0, lift, 30.0)
    f = np.where(t < 2.0, off, np.where(t < 3.2, off * crouch, off * (1 + 0.03 * rng.standard_normal(len(t)))))[:, None]
    person = PersonFeet(true.t, true.root / f, true.soles / f[:, :, None], true.sole_confidence, true.up)
    root, size, found = stand_person(person, floor)
    assert len(found) == 1 and found[0]["height_m"] == pytest.approx(1.9, abs=0.1)
    assert size == pytest.approx(off, rel=0.05)


@pytest.mark.parametrize("off", [0.8, 0.9, 1.0, 1.1, 1.25])
def test_a_person_whose_depth_is_off_stands_on_their_box_at_one_size(off):
    """Sports2D's jumper, as a re-encoded copy had him: on a 1.9-m box with the camera 1.5 m up, his whole
    track placed ``off`` times too far by his body's size (the one ambiguity of a single view: the same
    picture). His box is found against his own ground stance, 1.9/off above it; the box's top is then near
    the camera's height, where pinning his feet to that difference asks for any factor (0.8: 1.75x on the
    box against 0.8 off it; drawn 2.9 m tall where it happened). He is one size: the box's height is the
    one his size off it gives, and he stands on it. (0.8, 0.9, 1.1 and 1.25 ask for a size over 30% off his
    own, past ONE_SIZE_FACTOR; at 1.0, placed right by his body's size, the box is found as it is.)"""
    from nvwa.grounding.world import PersonFeet, stand_person

    t = np.arange(0, 4.0, 1 / 30)
    lift = np.where(t < 2.0, 1.9, 0.0)
    fall = (t >= 2.0) & (t < 2.62)
    lift[fall] = 1.9 - 0.5 * 9.81 * (t[fall] - 2.0) ** 2
    true, floor = _lifted(1.5, 9.0, lift, 30.0)
    person = PersonFeet(true.t, true.root / off, true.soles / off, true.sole_confidence, true.up)
    root, size, found = stand_person(person, floor)
    assert len(found) == 1 and found[0]["height_m"] == pytest.approx(1.9, abs=0.1)
    assert size == pytest.approx(off, rel=0.05)
    pelvis = floor.height(root) - 0.9
    assert np.abs(pelvis[t < 1.85] - 1.9).max() < 0.15 and np.abs(pelvis[t > 2.65]).max() < 0.1
