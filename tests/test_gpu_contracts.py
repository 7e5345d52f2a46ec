"""Contract tests of the GPU backends against their documented outputs (the real models need gated
weights and a GPU): a stand-in estimator returns exactly the shapes SAM 3D Body documents, built from a
known skeleton, so the mapping to our rig, units and axes are checked for real."""

from __future__ import annotations

import numpy as np
import pytest

from nvwa.body.keypoints import M, MHR70_COUNT, RIG_TARGETS, mhr70_rig_targets
from nvwa.body.sam3d_body import SAM3DBodyBackend, observation_from_output
from nvwa.rig.fit import fit_rig
from nvwa.scene.synthetic import synthetic_person
from nvwa.smoothing import lock_identity

N_VERTS, N_FACES = 18439, 36874


def mhr70_from_smpl(j: np.ndarray) -> np.ndarray:
    """(24, 3) SMPL joints (camera axes, m) -> (70, 3) MHR70 keypoints placed where MHR puts them."""
    k = np.repeat(j[15][None], MHR70_COUNT, axis=0)  # face and finger points we do not map: at the head
    put = {"left_hip": 1, "right_hip": 2, "left_knee": 4, "right_knee": 5, "left_ankle": 7, "right_ankle": 8,
           "neck": 12, "left_shoulder": 16, "right_shoulder": 17, "left_elbow": 18, "right_elbow": 19,
           "left_wrist": 20, "right_wrist": 21}
    for name, i in put.items():
        k[M[name]] = j[i]
    side = (j[1] - j[2]) / np.linalg.norm(j[1] - j[2])  # towards the body's left
    for s, ank, toe, sign in (("left", 7, 10, 1), ("right", 8, 11, -1)):
        k[M[f"{s}_big_toe"]] = j[toe] - sign * 0.03 * side
        k[M[f"{s}_small_toe"]] = j[toe] + sign * 0.03 * side
        k[M[f"{s}_heel"]] = j[ank] + (j[ank] - j[toe]) * 0.4
    for s, c, sh in (("left", 13, 16), ("right", 14, 17)):
        k[M[f"{s}_acromion"]] = j[12] + 2 * (j[c] - j[12])  # collar halfway from the neck to the acromion
    k[M["left_ear"]], k[M["right_ear"]] = j[15] + 0.07 * side, j[15] - 0.07 * side
    for s, h, sign in (("left", 22, 1), ("right", 23, -1)):
        k[M[f"{s}_index_knuckle"]] = j[h] + 0.02 * side * sign
        k[M[f"{s}_pinky_knuckle"]] = j[h] - 0.02 * side * sign
    return k


@pytest.fixture()
def person():
    return synthetic_person(1, 20)


def test_mhr70_mapping_puts_every_rig_joint_where_the_skeleton_has_it(person):
    cam = person.joints_world * [1, -1, -1] + [0, 0, 4]  # into camera axes: y down, z forward, 4 m away
    kp = np.stack([mhr70_from_smpl(f) for f in cam])
    t = mhr70_rig_targets(kp, np.ones(kp.shape[:2]))
    assert t.joints.shape == (20, 24, 3)
    exact = [0, 1, 2, 4, 5, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]
    assert np.abs(t.joints[:, exact] - cam[:, exact]).max() < 1e-9
    spine = cam[:, 0] + (cam[:, 12] - cam[:, 0]) * 0.5
    assert np.abs(t.joints[:, 6] - spine).max() < 1e-9
    # the rig fitted to these targets with identity-locked bones lands the limbs within a few cm (its
    # interpolated spine and shared left/right lengths differ from this skeleton's): units and axes agree
    lengths, _ = lock_identity(t.joints, t.confidence)
    assert np.allclose(lengths[[4, 7, 18, 20]], person.bone_lengths[[4, 7, 18, 20]], atol=1e-6)
    fitted = fit_rig(t, lengths).joints()
    limbs = [4, 5, 7, 8, 18, 19, 20, 21]
    assert np.linalg.norm(fitted[:, limbs] - cam[:, limbs], axis=-1).max() < 0.08
    assert RIG_TARGETS["mhr70"] is mhr70_rig_targets


def test_mhr70_shape_is_checked():
    with pytest.raises(ValueError, match=r"\(T, 70, 3\)"):
        mhr70_rig_targets(np.zeros((3, 33, 3)), np.ones((3, 33)))


class StandInEstimator:
    """Returns what SAM3DBodyEstimator.process_one_image documents, for people given as SMPL skeletons."""

    faces = np.zeros((N_FACES, 3), dtype=np.int64)

    def __init__(self, skeletons_cam, K):
        self.skeletons, self.K, self.calls = skeletons_cam, K, []

    def process_one_image(self, img, bboxes=None, masks=None, cam_int=None, use_mask=False, **kw):
        self.calls.append({"bboxes": bboxes, "masks": masks, "cam_int": cam_int, "use_mask": use_mask})
        outs = []
        for j in self.skeletons[: len(bboxes)]:
            kp = mhr70_from_smpl(j)
            root = (j[1] + j[2]) / 2 + np.array([0.0, -0.05, 0.0])  # MHR's root is not our mid-hip
            proj = (np.asarray(self.K) @ kp.T).T
            outs.append({"pred_keypoints_3d": (kp - root).astype(np.float32), "pred_cam_t": root.astype(np.float32),
                         "pred_keypoints_2d": (proj[:, :2] / proj[:, 2:]).astype(np.float32),
                         "pred_vertices": (np.random.default_rng(0).normal(size=(N_VERTS, 3)) * 0.2).astype(np.float32),
                         "shape_params": np.zeros(45, np.float32), "scale_params": np.zeros(28, np.float32),
                         "mhr_model_params": np.zeros(204, np.float32), "focal_length": float(self.K[0, 0])})
        return outs


def test_backend_batches_the_frame_and_keeps_camera_positions_in_metres(person):
    K = np.array([[1000.0, 0, 640], [0, 1000, 360], [0, 0, 1]])
    a = person.joints_world[0] * [1, -1, -1] + [0.5, 0, 5]
    b = person.joints_world[5] * [1, -1, -1] + [-1.0, 0, 7]
    est = StandInEstimator([a, b], K)
    backend = SAM3DBodyBackend("unused.ckpt", "unused.pt", estimator=est)
    boxes = np.array([[100, 100, 300, 600], [700, 150, 850, 550]], dtype=float)
    masks = np.zeros((2, 720, 1280), bool)
    obs = backend.estimate(np.zeros((720, 1280, 3), np.uint8), boxes, K, masks)
    assert len(est.calls) == 1 and len(est.calls[0]["bboxes"]) == 2  # one batched call per frame
    assert est.calls[0]["use_mask"] is True and np.allclose(np.asarray(est.calls[0]["cam_int"])[0], K)
    for o, j in zip(obs, (a, b)):
        assert o.keypoint_set == "mhr70" and o.keypoints_3d.shape == (70, 3)
        # pelvis-relative keypoints + translation = the camera-frame points (metres, OpenCV axes)
        cam = o.keypoints_3d + o.translation
        assert np.allclose(cam[M["left_knee"]], j[4], atol=1e-5) and np.allclose(o.translation, (j[1] + j[2]) / 2, atol=1e-5)
        assert o.vertices.shape == (N_VERTS, 3) and o.params["shape_params"].shape == (45,)
        # 2D keypoints project from the 3D ones with our K
        p = (K @ cam[M["right_ankle"]]) / cam[M["right_ankle"], 2]
        assert np.allclose(o.keypoints_2d[M["right_ankle"]], p[:2], atol=1e-2)
    assert backend.faces.shape == (N_FACES, 3)
    assert backend.estimate(np.zeros((720, 1280, 3), np.uint8), np.zeros((0, 4)), K) == []


def test_a_malformed_output_is_refused():
    with pytest.raises(ValueError, match="expected \\(70, 3\\)"):
        observation_from_output({"pred_keypoints_3d": np.zeros((17, 3)), "pred_keypoints_2d": np.zeros((17, 2)),
                                 "pred_cam_t": np.zeros(3)})


def test_the_real_backend_needs_its_package():
    pytest.importorskip("sam_3d_body", reason="SAM 3D Body is not installed (GPU path; gated weights)")
