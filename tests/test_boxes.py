"""The tracker's small arithmetic: box overlaps, the box Kalman filter, a pose's box and whether it is turned
over. Each is called dozens of times a frame, so each is written for numpy's per-call cost; these check it
against the plain definition."""

import numpy as np
import pytest

from nvwa.body.keypoints import (
    TORSO,
    rotate_to_stand,
    torso_turn_deg,
    turned_over,
    turned_video_rotation,
)
from nvwa.body.observation import BodyObservation
from nvwa.tracking.boxes import BoxKalman, iou_matrix, overlap_of_smaller, share_inside


def _random_boxes(rng, n):
    lo = rng.normal(size=(n, 2)) * 40
    return np.column_stack([lo, lo + np.abs(rng.normal(size=(n, 2))) * 30 * rng.integers(0, 2, size=(n, 1))])  # some empty


def _pair(a, b):
    """One pair's intersection, areas, written out."""
    w = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    h = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    return w * h, (a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])


def test_box_overlaps_are_their_definitions_pair_by_pair():
    rng = np.random.default_rng(3)
    for n, m in [(0, 3), (3, 0), (1, 1), (4, 5), (6, 2)] * 40:
        a, b = _random_boxes(rng, n), _random_boxes(rng, m)
        iou, small, inside = iou_matrix(a, b), overlap_of_smaller(a, b), share_inside(a, b)
        assert iou.shape == small.shape == inside.shape == (n, m)
        for i in range(n):
            for j in range(m):
                inter, area_a, area_b = _pair(a[i], b[j])
                union = area_a + area_b - inter
                assert iou[i, j] == (inter / union if union > 0 else 0.0)
                assert small[i, j] == (inter / min(area_a, area_b) if min(area_a, area_b) > 0 else 0.0)
                assert inside[i, j] == (inter / area_a if area_a > 0 else 0.0)
    assert iou_matrix(np.array([0.0, 0, 10, 10]), np.array([[5.0, 0, 15, 10]]))[0, 0] == pytest.approx(1 / 3)  # (4,) is one box


def test_box_kalman_follows_a_steady_walk_and_keeps_its_constants():
    box = np.array([100.0, 50.0, 130.0, 150.0])
    k = BoxKalman(box, 0.0)
    for i in range(1, 31):  # 60 px/s to the right, 10 frames a second
        k.predict(i / 10)
        k.update(box + [6.0 * i, 0, 6.0 * i, 0])
    ahead = k.predict(3.5)  # half a second on: 30 px further
    np.testing.assert_allclose(ahead, box + [6.0 * 30 + 30, 0, 6.0 * 30 + 30, 0], atol=1.0)
    assert k.predict(3.5) is not ahead and np.array_equal(k.predict(3.5), ahead)  # no time passed: no change
    from nvwa.tracking import boxes

    with pytest.raises(ValueError):
        boxes._EYE8[0, 0] = 2.0  # shared by every filter: read-only


def test_turned_over_is_torso_turn_deg_past_the_limit():
    rng = np.random.default_rng(4)
    (ls, rs), (lh, rh) = TORSO["blazepose33"]
    for trial in range(3000):
        kp = rng.normal(size=(33, 2)) * rng.choice([1e-6, 1.0, 80.0])
        if trial % 5 == 0:
            kp[[ls, rs]] = kp[[lh, rh]]  # shoulders on the hips: no direction
        if trial % 7 == 0:
            kp[rng.choice([ls, rs, lh, rh])] = rng.choice([np.nan, np.inf])
        if trial % 3 == 0:
            kp = kp.astype(np.float32)
        turn = float(torso_turn_deg(kp))
        for limit in (0.0, 45.0, 135.0, turn, np.nextafter(turn, 0.0), np.nextafter(turn, 180.0)):
            assert turned_over(kp, limit) == bool(torso_turn_deg(kp) > limit), (trial, limit)
    upright = np.zeros((33, 2))
    upright[[ls, rs], 1] = -50.0  # shoulders above the hips (y down)
    assert not turned_over(upright, 45.0) and turned_over(-upright, 135.0)


def test_a_video_whose_people_lie_in_the_picture_says_which_turn_stands_them_up():
    """Nearly everyone's torso pointing left in the picture (heads left): the frames turned 90 deg clockwise
    stand them up; right: 270; down: 180. A few lying poses among standing ones (a fall), or too few poses
    to say, say nothing; a person's poses may be none."""
    rng = np.random.default_rng(2)
    (ls, rs), _ = TORSO["blazepose33"]

    def person(n, heads):  # heads: the way hips -> shoulders points in the picture (x right, y down)
        kp = rng.normal(size=(n, 33, 2)) * 3 + 300
        kp[:, [ls, rs]] += np.asarray(heads, float) * 60 + rng.normal(size=(n, 1, 2)) * 10
        return kp

    assert turned_video_rotation([person(40, (-1, 0))]) == 90
    assert turned_video_rotation([person(20, (1, 0)), person(25, (1, 0)), np.zeros((0, 33, 2))]) == 270
    assert turned_video_rotation([person(30, (0, 1))]) == 180
    assert turned_video_rotation([person(30, (0, -1)), person(8, (-1, 0))]) is None  # standing, one falls
    assert turned_video_rotation([person(30, (0, -1))]) is None
    assert turned_video_rotation([person(9, (-1, 0))]) is None  # too few poses to say
    assert turned_video_rotation([]) is None


def test_the_rotate_that_stands_people_up_allows_for_how_the_file_turns_and_mirrors_them():
    """For every way a file shows its frames (turned 0-270 clockwise, mirrored or not) and every way the
    shown people lie: the stored frames turned by the --rotate said stand them up (a head above its feet)."""
    up = np.zeros((5, 5), int)
    up[0, 2], up[4, 2] = 1, 2  # a head above its feet

    def cw(a, deg):
        return np.rot90(a, -deg // 90)

    for rotate in (0, 90, 180, 270):
        for mirror in (False, True):
            for turn in (90, 180, 270):
                shown_up = cw(up, (360 - turn) % 360)  # the people as shown: turning the picture `turn` stands them up
                stored = cw(shown_up[:, ::-1] if mirror else shown_up, (360 - rotate) % 360)  # what the file holds
                assert np.array_equal(cw(stored, rotate_to_stand(turn, rotate, mirror)), up), (rotate, mirror, turn)


def test_a_poses_box_is_worked_out_once_and_handed_out_as_a_new_array():
    kp = np.array([[10.0, 20.0], [30.0, 60.0], [50.0, 5.0], [0.0, 100.0]])
    obs = BodyObservation("blazepose33", kp, np.zeros((4, 3)), np.array([0.9, 0.8, 0.2, 0.1]))
    first = obs.box()
    np.testing.assert_array_equal(first, [10, 20, 30, 60])  # the two seen with 0.3 or more
    first[:] = -1.0  # a caller's own copy
    np.testing.assert_array_equal(obs.box(), [10, 20, 30, 60])
    np.testing.assert_array_equal(obs.box(min_visibility=0.0), [0, 5, 50, 100])
    np.testing.assert_array_equal(obs.box(min_visibility=0.95), [0, 5, 50, 100])  # fewer than two seen: all
    assert obs.score == pytest.approx(0.5)
