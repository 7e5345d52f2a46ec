"""Standing on the soles (the last step of reconstruction): a body whose soles hover a few cm over the floor
with no foot contact found (noise in the legs' height: a walker always has a foot down) is put on the floor;
a jump's flight keeps its height; no sole goes through the floor. Without the human body asset, a heel and
a ball point under each ankle stand for the soles."""

from __future__ import annotations

import numpy as np

from nvwa.body.human import BALL_SOLE, HEEL_SOLE
from nvwa.grounding.scale import stature_from_bones
from nvwa.grounding.soles import on_soles
from nvwa.rig.motion import RigMotion
from nvwa.rig.skeleton import JOINT

FPS = 10.0


def _standing(heights: np.ndarray) -> tuple[RigMotion, np.ndarray]:
    """A person standing straight (the rest pose), their lowest sole ``heights`` (T,) m above the floor."""
    T = len(heights)
    bones = np.full(24, 0.12)
    for name, length in (("left_knee", 0.42), ("right_knee", 0.42), ("left_ankle", 0.42), ("right_ankle", 0.42)):
        bones[JOINT[name]] = length
    q = np.tile([0.0, 0.0, 0.0, 1.0], (T, 24, 1))
    m = RigMotion(bones, q, np.zeros((T, 3)))
    root = np.zeros((T, 3))
    root[:, 1] = heights - _lowest_sole(m)
    return m.moved(root_position=root), np.arange(T) / FPS


def _lowest_sole(m: RigMotion) -> np.ndarray:
    st = stature_from_bones(m.bone_lengths)
    J = m.joints()  # the rest pose: no turn at the ankles
    return np.min([J[:, JOINT[a], 1] + off[1] * st for a in ("left_ankle", "right_ankle") for off in (HEEL_SOLE, BALL_SOLE)], axis=0)


def test_soles_hovering_a_few_cm_with_no_contact_are_put_on_the_floor():
    heights = np.zeros(40)
    heights[12:25] = 0.06  # 1.3 s with the body 6 cm up and no contact found
    m, t = _standing(heights)
    contact = np.zeros((40, 2), dtype=bool)
    contact[:8] = contact[30:] = True
    out = _lowest_sole(on_soles(m, t, contact, []))
    assert np.abs(out).max() < 0.02  # the correction is smoothed in and out over ~0.1 s
    assert np.abs(out[15:22]).max() < 2e-3


def test_a_jumps_flight_keeps_its_height_and_nothing_goes_through_the_floor():
    heights = np.zeros(40)
    s = np.arange(9) / 8
    heights[16:25] = 0.5 * 4 * s * (1 - s)  # a 0.8-s flight, the soles 0.5 m up at its top
    heights[5:8] = -0.03  # soles 3 cm through the floor (a planted foot)
    m, t = _standing(heights)
    contact = np.zeros((40, 2), dtype=bool)
    contact[:15] = contact[26:] = True
    out = _lowest_sole(on_soles(m, t, contact, []))
    assert out.min() > -1e-6
    assert abs(out.max() - 0.5) < 0.02
    flight = heights > 0.15
    assert np.abs(out[flight] - heights[flight]).max() < 0.02


def test_a_raised_support_is_what_the_soles_stand_on():
    heights = np.full(30, 0.8)
    heights[10:20] = 0.84  # 4 cm over the box's top, no contact
    m, t = _standing(heights)
    support = [{"start_s": 0.0, "end_s": 3.0, "height_m": 0.8}]
    out = _lowest_sole(on_soles(m, t, np.zeros((30, 2), dtype=bool), support))
    assert np.abs(out - 0.8).max() < 0.015


def test_longer_in_the_air_than_any_jump_is_a_body_placed_too_high():
    heights = np.zeros(50)
    heights[10:35] = 0.3  # 2.5 s, 30 cm up, no contact: no jump's flight lasts that long
    m, t = _standing(heights)
    contact = np.zeros((50, 2), dtype=bool)
    contact[:5] = contact[40:] = True
    out = _lowest_sole(on_soles(m, t, contact, []))
    assert np.abs(out[15:30]).max() < 2e-3 and out.min() > -1e-6  # smoothed in and out over ~0.3 s


def test_a_drop_from_a_support_falls_through_the_air_not_in_one_frame():
    """Sports2D's jumper: off a 1.8 m box, a fall of 0.6 s, and the landing's smoothing leaves his soles
    0.25 m up for 0.5 s more, then they come down: 1.3 s between the box's top and the floor, longer than
    a jump's flight, but a drop from a support: he falls through the air, not all the way in one frame."""
    fps = 30.0
    t = np.arange(120) / fps
    heights = np.zeros(120)  # above the floor
    heights[:60] = 1.8  # on the box: 2 s
    fall = (t >= 2.0) & (t < 2.6)
    heights[fall] = 1.8 - 0.5 * 9.81 * (t[fall] - 2.0) ** 2 * (1.55 / 1.77)
    heights[(t >= 2.6) & (t < 3.1)] = 0.25
    down = (t >= 3.1) & (t < 3.3)
    heights[down] = 0.25 * (3.3 - t[down]) / 0.2
    m, _ = _standing(heights)
    contact = np.zeros((120, 2), dtype=bool)
    contact[:55] = contact[100:] = True
    support = [{"start_s": 0.0, "end_s": 1.99, "height_m": 1.8}]
    out = _lowest_sole(on_soles(m, t, contact, support))
    assert np.abs(np.diff(out)).max() < 0.2  # no drop of the whole height in one frame (falling: < 0.17 m a frame)
    assert out[70] > 0.8  # a third of the way through the fall, still in the air


def test_a_long_take_is_stood_on_its_soles_in_pieces_of_frames():
    """The body's ~600 sole vertices are posed frame by frame to find the lowest: in one go that held ~40 KB a
    frame (a 4.6-min take of one person at 30 fps took 908 MB to reconstruct, 270 MB in pieces). A 20-min
    take's worth of frames standing on the floor: the soles on it, and what the posing holds stays small."""
    import tracemalloc

    from conftest import model_or_skip

    from nvwa.body.human import HumanBody
    from nvwa.models.store import human_body_path

    body = model_or_skip(lambda: HumanBody(human_body_path()), "human body asset")
    heights = np.full(36_000, 0.04)
    m, t = _standing(heights)
    contact = np.ones((len(t), 2), dtype=bool)
    short, ts = _standing(heights[:300])
    base = on_soles(short, ts, contact[:300], [], body)  # (the body's fit, done once, is not what is measured)
    tracemalloc.start()
    try:
        out = on_soles(m, t, contact, [], body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 400 * 2**20, peak / 2**20  # whole: ~36,000 x 600 x 3 x 3 doubles at once, 4.6 GB
    assert np.allclose(out.root_position[:300], base.root_position, atol=1e-9)
    assert np.ptp(out.root_position[:, 1]) < 1e-9  # standing still: one height throughout


def test_a_person_of_fewer_frames_than_the_feet_blend_is_stood_on_their_soles():
    """A person seen on one or two frames (a clip analysed at --max-fps 0.5): the planted feet's blend over
    0.1 s each way is longer than the track. It crashed (numpy's "same" convolution is as long as its kernel)."""
    from nvwa.grounding.soles import flat_planted_feet

    for T, fps in ((1, 10.0), (2, 10.0), (2, 60.0), (5, 60.0)):
        m, _ = _standing(np.full(T, 0.03))
        t = np.arange(T) / fps
        contact = np.ones((T, 2), dtype=bool)
        flat = flat_planted_feet(m, t, contact)
        assert flat.local_rotations.shape == (T, 24, 4)
        out = _lowest_sole(on_soles(m, t, contact, []))
        assert out.shape == (T,) and np.abs(out).max() < 2e-3, (T, fps, out)
