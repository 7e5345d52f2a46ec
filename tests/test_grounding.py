"""Floor fit, gravity, world transform and depth pinning on synthetic scenes with known answers."""

import numpy as np
import pytest

from nvwa.grounding import Floor, fit_floor, world_from_camera
from nvwa.grounding.floor import body_up_direction, contact_mask, pin_depth_to_floor


def _camera_looking_down(pitch_deg=30.0, height=3.0):
    """A floor seen by a camera pitched down: its normal and offset in the camera frame."""
    p = np.radians(pitch_deg)
    up_cam = np.array([0.0, -np.cos(p), -np.sin(p)])  # world up, seen from the pitched camera (y down)
    return up_cam, height


def _floor_points(up, height, n, rng, spread=4.0):
    e1 = np.cross(up, [1.0, 0, 0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    centre = -height * up + 6.0 * np.cross(e2, up) * 0 + np.array([0, 0, 0])
    # points on the plane in front of the camera
    a, b = rng.uniform(-spread, spread, n), rng.uniform(2, 10, n)
    fwd = np.array([0, 0, 1.0]) - up * up[2]
    fwd /= np.linalg.norm(fwd)
    side = np.cross(up, fwd)
    return centre + a[:, None] * side + b[:, None] * fwd


def test_ransac_floor_recovers_tilt_and_height_despite_outliers():
    rng = np.random.default_rng(0)
    up, h = _camera_looking_down(25, 4.0)
    pts = _floor_points(up, h, 200, rng) + rng.normal(scale=0.01, size=(200, 3))
    outliers = _floor_points(up, h, 40, rng) + up * rng.uniform(0.3, 1.0, (40, 1))  # knees, a raised box
    hint, _ = _camera_looking_down(30, 4.0)  # the bodies' mean up: a few degrees off the truth
    floor = fit_floor(np.concatenate([pts, outliers]), hint)
    assert floor.method == "ransac"
    assert np.degrees(np.arccos(floor.normal_cam @ up)) < 1.0
    assert floor.offset == pytest.approx(h, abs=0.02)
    assert floor.inliers >= 195


def test_feet_along_one_line_fall_back_to_the_bodies_up():
    rng = np.random.default_rng(1)
    up, h = _camera_looking_down(20, 2.0)
    fwd = np.array([0, 0, 1.0]) - up * up[2]
    fwd /= np.linalg.norm(fwd)
    line = -h * up + np.linspace(2, 8, 60)[:, None] * fwd + rng.normal(scale=0.005, size=(60, 3))
    floor = fit_floor(line, up)
    assert floor.method == "up-prior"
    assert floor.offset == pytest.approx(h, abs=0.02)


def test_world_frame_puts_the_floor_at_y0_and_gravity_down():
    up, h = _camera_looking_down(35, 5.0)
    floor = Floor(up, h, 0, 0, 0.0, "test")
    R, t = world_from_camera(floor)
    assert np.allclose(R @ R.T, np.eye(3)) and np.linalg.det(R) == pytest.approx(1.0)
    pts = _floor_points(up, h, 20, np.random.default_rng(2))
    assert np.allclose((pts @ R.T + t)[:, 1], 0.0, atol=1e-9)
    assert np.allclose(R @ up, [0, 1, 0])
    assert t[1] == pytest.approx(5.0)  # the camera sits 5 m above the floor
    assert (R @ np.array([0, 0, 1.0]))[2] < 0  # looks along -Z, as glTF cameras do


def test_body_up_comes_from_upright_people():
    up, _ = _camera_looking_down(30)
    pelvis = np.zeros((10, 3))
    neck = np.tile(0.5 * up, (10, 1))
    assert np.allclose(body_up_direction(pelvis, neck), up)


def test_contacts_are_low_slow_and_seen():
    t = np.arange(4) / 10
    up = np.array([0, -1.0, 0])
    soles = np.zeros((4, 2, 3))
    soles[:, 1, 1] = -0.3  # second point 30 cm higher (y down)
    soles[2:, 0, 0] = [0.0, 1.0]  # first point moves 10 m/s in the last step
    conf = np.ones((4, 2))
    m = contact_mask(soles, t, up, conf)
    assert m[:, 1].sum() == 0  # never the higher point
    assert m[0, 0] and m[1, 0] and not m[3, 0]


def test_a_still_foots_jitter_reads_as_still_at_60_fps_as_at_30():
    """A foot standing still, its points jittering 1 cm: its speed over one frame of a 60-fps video is twice
    a 30-fps one's, and most of its frames read as moving (38% planted against 82%). The speed is taken
    over at least a 30-fps frame's time: the same share planted at both rates."""
    from nvwa.grounding.floor import frames_spanning

    rng = np.random.default_rng(0)
    up = np.array([0, -1.0, 0])
    share = {}
    for fps in (30, 60):
        t = np.arange(0, 10, 1 / fps)
        soles = np.array([0.0, 1.5, 5.0]) + rng.normal(0, 0.01, (len(t), 1, 3))
        share[fps] = contact_mask(soles, t, up, np.ones((len(t), 1))).mean()
    assert share[30] > 0.7 and abs(share[60] - share[30]) < 0.1, share
    assert [frames_spanning(np.arange(0, 2, 1 / fps), 1 / 30) for fps in (10, 25, 30, 60, 120)] == [1, 1, 1, 2, 4]
    for fps in (90, 120, 240):  # a short track at a high rate (a person's half in the floor's check): both sides fit
        for T in range(1, 17):
            t = np.arange(T) / fps
            assert contact_mask(np.zeros((T, 2, 3)) + [0.0, 1.5, 5.0], t, up, np.ones((T, 2))).shape == (T, 2)


def test_depth_pinning_moves_a_floating_person_onto_the_floor():
    up, h = _camera_looking_down(30, 3.0)
    floor = Floor(up, h, 0, 0, 0.0, "test")
    T = 30
    t = np.arange(T) / 10
    on_floor_root = _floor_points(up, h, T, np.random.default_rng(3)) + 0.9 * up  # pelvis 90 cm above its feet
    rel = np.repeat((-0.9 * up)[None, None], T, 0).repeat(2, 1)  # both soles right below the pelvis
    # a body-size prior 30% too big puts the whole person 30% too far along the camera rays (same pixels)
    estimated_root, estimated_rel = on_floor_root * 1.3, rel * 1.3
    s = pin_depth_to_floor(estimated_root, estimated_rel, np.ones((T, 2)), floor, t)
    assert np.allclose(s, 1 / 1.3, atol=1e-6)
    feet = s[:, None, None] * (estimated_root[:, None] + estimated_rel)
    assert np.allclose(floor.height(feet), 0.0, atol=1e-9)  # scaled about the camera, the feet are on the floor
