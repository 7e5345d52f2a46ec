"""Legs hidden behind something (a sign, a car) or someone: the frames are told from the pose's 2D extent
against the person's own frames around, or from a person in front covering where their feet are, and the
body model's guess there is not fitted."""

from pathlib import Path

import numpy as np

from nvwa.camera.intrinsics import Intrinsics
from nvwa.observations import PersonObservations
from nvwa.reconstruct import fit_people, fit_person, place_roots
from nvwa.rig.skeleton import JOINT
from nvwa.smoothing.hidden_legs import behind_someone_many, hidden_legs_many, hidden_legs_unseen
from nvwa.timing import StageTimer

DATA = Path(__file__).parent / "data"
SET = "blazepose33"


def _walker(T=40, fps=10.0):
    """A 68-px pose walking across: 33 keypoints spread from the head (y 180) to the feet (y 248)."""
    t = np.arange(T) / fps
    y = np.linspace(180.0, 248.0, 33)
    kp = np.stack([np.column_stack([np.full(33, 300.0 + 12 * i), y]) for i in range(T)])
    return kp, np.ones((T, 33)), t


def _squeezed(kp, frames, top, bottom):
    out = kp.copy()
    for f in frames:
        y = out[f, :, 1]
        out[f, :, 1] = top + (y - y.min()) / (y.max() - y.min()) * (bottom - top)
    return out


def test_legs_hidden_is_a_shorter_pose_whose_top_stayed_and_whose_bottom_rose():
    kp, conf, t = _walker()
    behind = _squeezed(kp, [20, 21, 22], 181.0, 210.0)  # head where it was, the lowest point 38 px up
    crouch = _squeezed(kp, [20, 21, 22], 215.0, 248.0)  # head down, feet kept
    tuck = _squeezed(kp, [20, 21, 22], 150.0, 195.0)  # a tucked jump: the head rises with the feet
    gap_conf = conf.copy()
    gap_conf[20:23] = 0.0  # a gap filled in: nothing said
    flip = behind.copy()  # a backflip: the torso turned over frame after frame (shoulders under the hips)
    flip[19:24, :, 1] = flip[19:24, ::-1, 1]
    flipped_alone = behind.copy()  # the body model turning one frame's torso over (vtest's frame 19)
    flipped_alone[21, :, 1] = flipped_alone[21, ::-1, 1]
    people = [behind, crouch, tuck, behind, kp, flip, flipped_alone]
    found = hidden_legs_many(people, [conf, conf, conf, gap_conf, conf, conf, conf], [t] * len(people), SET)
    assert np.flatnonzero(found[0]).tolist() == [20, 21, 22]
    assert not found[1].any() and not found[2].any() and not found[3].any() and not found[4].any()
    assert not found[5].any()
    assert np.flatnonzero(found[6]).tolist() == [20, 21, 22]
    assert hidden_legs_many([], [], [], SET) == []
    # a short pose turned over on a person's last frame has no frame after it: never "turned over alone",
    # whoever's frames come next in the arrays
    last = _squeezed(kp, [39], 181.0, 210.0)
    last[39, :, 1] = last[39, ::-1, 1]
    a, b = hidden_legs_many([last, kp], [conf, conf], [t, t], SET)
    assert not a[39] and not b.any()


def _behind_sign():
    d = np.load(DATA / "vtest_behind_sign.npz")
    K = d["K"]
    person = PersonObservations(2, d["frame_index"], d["timestamp_s"], d["keypoints_2d"], d["keypoints_3d"], d["visibility"])
    return person, Intrinsics(K[0, 0], K[1, 1], K[0, 2], K[1, 2], 768, 576, "K")


def test_a_frame_with_hidden_legs_loses_its_visibility_and_no_other_does():
    person, _ = _behind_sign()
    (seen,) = hidden_legs_unseen([person], "blazepose33")
    hidden = np.isin(person.frame_index, [18, 19])
    assert (seen.visibility[hidden] == 0).all() and np.array_equal(seen.visibility[~hidden], person.visibility[~hidden])
    assert (person.visibility[hidden] > 0.5).any()  # the observations themselves are left as they were
    # the 3D pose there (its head turned round at 19) carried over in time from frames 17 and 24
    t, k3 = person.timestamp_s, person.keypoints_3d
    a, b = np.flatnonzero(person.frame_index == 17)[0], np.flatnonzero(person.frame_index == 24)[0]
    for i in np.flatnonzero(hidden):
        w = (t[i] - t[a]) / (t[b] - t[a])
        assert np.allclose(seen.keypoints_3d[i], (1 - w) * k3[a] + w * k3[b], atol=1e-5)
    assert np.array_equal(seen.keypoints_3d[~hidden], k3[~hidden])
    assert hidden_legs_unseen([], "blazepose33") == [] and hidden_legs_unseen([person], "no_such_set")[0] is person


def test_a_man_walking_behind_a_sign_keeps_his_legs_under_him():
    """vtest frames 0-30: a man walks behind the assembly-point sign (frames 18-19: only his head and
    shoulders show). The body model folded his legs up over his pelvis there with confidence 0.8, and at
    19 turned his torso upside down (ankles 1.0-1.4 m up in the scene: floating). Those frames are
    carried over from the frames around."""
    person, K = _behind_sign()
    (hidden,) = hidden_legs_many([person.keypoints_2d], [person.visibility], [person.timestamp_s], SET)
    assert person.frame_index[hidden].tolist() == [18, 19]
    fitted, _, _ = fit_people([person], K, "blazepose33", "none", StageTimer())  # as reconstruction fits people
    p, j = person, fitted[2][0].joints()
    up = j[:, JOINT["neck"]] - j[:, JOINT["pelvis"]]
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    below = np.einsum("tjk,tk->tj", j[:, [JOINT["left_ankle"], JOINT["right_ankle"]]] - j[:, :1], up)
    # the ankles half a metre or more below the pelvis, through the sign and out of it (from frame 25 on his
    # legs are half hidden again at low confidence, and the clip ends: nothing to carry them over from)
    around = p.frame_index <= 24
    assert (below[around] < -0.5).all(), below.max(axis=1).round(2).tolist()
    unfitted = fit_person(person, place_roots(person, K), "blazepose33")[0].joints()
    assert (np.einsum("tk,tk->t", unfitted[:, JOINT["left_ankle"]] - unfitted[:, 0], up) > 0)[person.frame_index == 19].all()


ACROSS = np.where(np.arange(33) % 2, 10.0, -10.0)  # a pose's left and right points 20 px apart


def _crossing(T=26):
    """Two walkers crossing on a floor seen from above: one 68 px tall with their feet at y 248 walking
    right (the one behind), one 100 px tall with their feet at y 300 walking left (nearer: in front), their
    keypoints 20 px across. Their hips meet at frames 12-13."""
    kp, conf, t = _walker(T)
    front = np.stack([np.column_stack([600.0 - 12 * i + ACROSS, np.linspace(200.0, 300.0, 33)]) for i in range(T)])
    return kp, front, conf, t, np.arange(T)


def test_legs_behind_someone_in_front_are_hidden_and_no_one_elses():
    behind, front, conf, t, frames = _crossing()
    find = lambda a, b, ca=conf, cb=conf: behind_someone_many([a, b], [ca, cb], [t, t], [frames, frames], SET)  # noqa: E731
    a, b = find(behind, front)
    assert np.flatnonzero(a).tolist() == [12, 13] and not b.any()  # the one in front is never behind
    # the same crossing with the other person further off (their feet higher in the picture): nobody hidden
    far = front - [0.0, 80.0]
    assert not any(x.any() for x in find(behind, far))
    # legs seen beside the one in front (outside their box): not hidden
    beside = behind.copy()
    beside[12:14, 25:, 0] += 40.0
    assert not find(beside, front)[0].any()
    # no leg seen at all where someone in front covers the feet: hidden too
    unsure = conf.copy()
    unsure[12:14, 25:] = 0.1
    assert np.flatnonzero(find(behind, front, unsure)[0]).tolist() == [12, 13]
    # arms held out over the feet of someone beside, the body itself 45 px off: no one's feet covered
    beside_arms = front + (300.0 + 45.0 - 600.0 + 24 * np.arange(len(t)))[:, None, None] * [1.0, 0.0]
    beside_arms[:, 13:23, 0] = 300.0 + 12 * np.arange(len(t))[:, None]  # elbows, wrists and hands over the feet
    assert not find(behind, beside_arms)[0].any()
    # a child just in front of an adult (feet 6 px lower, 40 px tall), two people side by side (one floor
    # row), someone on a box nearer the camera (taller in the picture, feet higher) with a walker further
    # off passing behind: nobody is hidden
    child = np.stack([np.column_stack([300.0 + 12 * i + ACROSS, np.linspace(214.0, 254.0, 33)]) for i in range(len(t))])
    on_a_box = np.stack([np.column_stack([np.full(33, 444.0), np.linspace(120.0, 230.0, 33)]) for i in range(len(t))])
    for a_, b_ in ((child, behind), (behind, child), (on_a_box, behind)):
        assert not any(x.any() for x in find(a_, b_)), (a_[0, 0], b_[0, 0])
    alongside = behind_someone_many([behind, behind[5:15] + [2.0, 0.0]], [conf, conf[5:15]], [t, t[5:15]],
                                    [frames, frames[5:15]], SET)  # for a second, a step beside on the same row
    assert not any(x.any() for x in alongside)
    # a back row: the feet covered for 2.5 s on end (longer than MAX_BEHIND_S): left as it is, nothing near to
    # carry it over from
    row = np.stack([np.column_stack([444.0 + ACROSS, np.linspace(200.0, 300.0, 33)]) for i in range(len(t))])
    still = np.stack([np.column_stack([np.full(33, 444.0), np.linspace(180.0, 248.0, 33)]) for i in range(len(t))])
    assert not find(still, row)[0].any()
    assert behind_someone_many([still[:14], row[:14]], [conf[:14]] * 2, [t[:14]] * 2, [frames[:14]] * 2, SET)[0].all()  # 1.3 s: hidden
    # on different frames they never meet; one person alone, or a keypoint set without legs known: nothing
    assert not behind_someone_many([behind, front], [conf, conf], [t, t], [frames, frames + 100], SET)[0].any()
    assert not behind_someone_many([behind], [conf], [t], [frames], SET)[0].any()
    assert not behind_someone_many([behind, front], [conf, conf], [t, t], [frames, frames], "no_such_set")[0].any()


def _behind_person():
    d = np.load(DATA / "vtest_behind_person.npz")
    return [PersonObservations(pid, d[f"frame_index_{pid}"], d[f"timestamp_s_{pid}"], d[f"keypoints_2d_{pid}"],
                               d[f"keypoints_3d_{pid}"], d[f"visibility_{pid}"]) for pid in (41, 57)]


def test_a_woman_whose_legs_a_man_walks_in_front_of_is_not_fitted_there():
    """vtest frames 720-790: a man in a red and navy jacket walks down past a woman in black, in front
    of her (frames 763-765 are her last: he covers her legs, and the body model drew them down onto his
    shoulders, 0.6 m long). Her pose shrank little, so the shape rule alone does not take it; she was
    drawn with her feet 0.3-0.6 m off the floor from frame 752 to the end of her track. Those frames are
    not fitted now; nothing of his is touched."""
    woman, man = _behind_person()
    assert not hidden_legs_many([woman.keypoints_2d], [woman.visibility], [woman.timestamp_s], SET)[0].any()
    seen_woman, seen_man = hidden_legs_unseen([woman, man], SET)
    hidden = seen_woman.visibility.max(axis=1) == 0
    assert woman.frame_index[hidden].tolist() == [763, 764, 765]
    assert (woman.visibility[hidden][:, 27:29] > 0.5).any()  # the body model was sure of those ankles
    assert seen_man is man
