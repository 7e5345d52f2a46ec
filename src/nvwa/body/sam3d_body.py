"""SAM 3D Body as a body backend (the GPU path): every person of a frame in one batched call, with
boxes and masks from the tracker and our intrinsics, mapped onto our types.

Upstream (facebookresearch/sam-3d-body, installed from its repository with torch and a CUDA GPU;
weights gated on Hugging Face) is imported only when this backend is built. What we rely on is its
documented contract (see ../shared/reference/models.md): ``process_one_image(img, bboxes=(N, 4) xyxy,
masks=(N, H, W), cam_int=(1, 3, 3))`` returns one dict per person with ``pred_keypoints_3d`` (70, 3) m
(MHR70, OpenCV camera axes, in the mesh's root-relative frame), ``pred_keypoints_2d`` (70, 2) px,
``pred_vertices`` (18439, 3) m root-relative, ``pred_cam_t`` (3,) (camera-frame mesh = vertices +
cam_t), ``shape_params`` (45,), ``scale_params`` (28,), ``mhr_model_params`` (204,); the mesh faces
are ``estimator.faces`` (36874, 3).
"""

from __future__ import annotations

import numpy as np

from nvwa.body.keypoints import M, MHR70_COUNT
from nvwa.body.observation import BodyObservation

KEPT_PARAMS = ("shape_params", "scale_params", "mhr_model_params", "body_pose_params", "hand_pose_params")


def observation_from_output(out: dict, scale: float = 1.0) -> BodyObservation:
    """One person's dict from ``process_one_image`` -> a BodyObservation in our conventions:
    keypoints_3d relative to the pelvis (mid-hip, as every backend's), translation = the pelvis in the
    camera (m), vertices relative to the same pelvis, keypoints_2d in decoded-frame pixels (x ``scale``)."""
    kp3d = np.asarray(out["pred_keypoints_3d"], dtype=np.float64)
    kp2d = np.asarray(out["pred_keypoints_2d"], dtype=np.float64)
    if kp3d.shape != (MHR70_COUNT, 3) or kp2d.shape != (MHR70_COUNT, 2):
        raise ValueError(f"SAM 3D Body output: keypoints {kp3d.shape} / {kp2d.shape}, expected (70, 3) / (70, 2)")
    cam_t = np.asarray(out["pred_cam_t"], dtype=np.float64).reshape(3)
    pelvis = (kp3d[M["left_hip"]] + kp3d[M["right_hip"]]) / 2
    verts = out.get("pred_vertices")
    verts = None if verts is None else np.asarray(verts, dtype=np.float32) - pelvis.astype(np.float32)
    params = {k: np.asarray(out[k], dtype=np.float32) for k in KEPT_PARAMS if k in out}
    return BodyObservation("mhr70", kp2d * scale, kp3d - pelvis, np.ones(MHR70_COUNT), vertices=verts,
                           translation=cam_t + pelvis, params=params)


class SAM3DBodyBackend:
    """Batched SAM 3D Body on the frame's tracked people."""

    keypoint_set = "mhr70"

    def __init__(self, checkpoint_path: str, mhr_path: str, device: str = "cuda", estimator=None):
        if estimator is None:
            from sam_3d_body import SAM3DBodyEstimator, load_sam_3d_body  # the gpu extra; weights gated

            model, cfg = load_sam_3d_body(checkpoint_path, device=device, mhr_path=mhr_path)
            estimator = SAM3DBodyEstimator(model, cfg)  # no detector/segmentor: boxes and masks come from tracking
        self.estimator = estimator

    @property
    def faces(self) -> np.ndarray:
        return np.asarray(self.estimator.faces, dtype=np.int64)

    def estimate(self, image: np.ndarray, boxes: np.ndarray, K: np.ndarray, masks: np.ndarray | None = None) -> list[BodyObservation]:
        """image (H, W, 3) RGB uint8, boxes (N, 4) xyxy px, K (3, 3) in this image's pixels, masks (N, H, W)
        bool or None -> one observation per box, in the boxes' order (ids stay with the tracker)."""
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return []
        cam_int = np.asarray(K, dtype=np.float32)[None]
        try:
            import torch

            cam_int = torch.as_tensor(cam_int)
        except ImportError:  # upstream needs torch; without it only a stand-in estimator can run
            pass
        outs = self.estimator.process_one_image(image, bboxes=boxes, masks=masks, cam_int=cam_int,
                                                use_mask=masks is not None)
        if len(outs) != len(boxes):
            raise RuntimeError(f"SAM 3D Body returned {len(outs)} people for {len(boxes)} boxes")
        return [observation_from_output(o) for o in outs]
