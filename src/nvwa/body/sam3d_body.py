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

from dataclasses import replace

import numpy as np

from nvwa.body.keypoints import M, MHR70_COUNT
from nvwa.body.observation import BodyObservation
from nvwa.tensors import to_numpy

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


# MHR identity: the 45 shape coefficients and the 68 scale entries at the end of the 204 model
# parameters (the first 136 are the pose). Locked per person, the mesh keeps one body through the video.
MHR_SCALE_SLICE = slice(136, 204)
MHR_EXPRESSION_COUNT = 72


def lock_mhr_identity(shape_params: np.ndarray, model_params: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """(T, 45) shape and (T, 204) model parameters of one person -> one (45,) shape, the (T, 204)
    parameters with their scales set to the person's median, and how much they varied before."""
    shape_params = np.asarray(shape_params, dtype=np.float32)
    model_params = np.array(model_params, dtype=np.float32)
    shape = np.median(shape_params, axis=0)
    scales = np.median(model_params[:, MHR_SCALE_SLICE], axis=0)
    spread = {"shape_std_before": float(shape_params.std(axis=0).mean()),
              "scale_std_before": float(model_params[:, MHR_SCALE_SLICE].std(axis=0).mean())}
    model_params[:, MHR_SCALE_SLICE] = scales
    return shape, model_params, spread


class SAM3DBodyBackend:
    """Batched SAM 3D Body on the frame's tracked people."""

    keypoint_set = "mhr70"

    def __init__(self, checkpoint_path: str, mhr_path: str, device: str = "cuda", estimator=None, mhr=None):
        """``estimator`` / ``mhr`` inject already-built upstream objects (or stand-ins shaped like them):
        the SAM3DBodyEstimator and the MHR TorchScript body model (``assets/mhr_model.pt``)."""
        if estimator is None:
            from sam_3d_body import SAM3DBodyEstimator, load_sam_3d_body  # the gpu extra; weights gated

            model, cfg = load_sam_3d_body(checkpoint_path, device=device, mhr_path=mhr_path)
            estimator = SAM3DBodyEstimator(model, cfg)  # no detector/segmentor: boxes and masks come from tracking
        self.estimator = estimator
        self._mhr, self._mhr_path, self._device = mhr, mhr_path, device

    def close(self) -> None:
        self.estimator = None

    def remesh(self, shape: np.ndarray, model_params: np.ndarray, batch: int = 64) -> np.ndarray:
        """Vertices (T, V, 3) m, OpenCV camera axes, of the MHR body with one (45,) ``shape`` and
        (T, 204) ``model_params``: the mesh again, after the identity lock. Origin as MHR puts it."""
        from contextlib import nullcontext

        try:
            import torch
        except ImportError:  # only an injected stand-in body model runs without torch
            torch = None
        if self._mhr is None:
            self._mhr = torch.jit.load(self._mhr_path, map_location=self._device).eval()
        tensor = (lambda a: torch.as_tensor(a, device=self._device)) if torch else np.asarray
        out = []
        with torch.inference_mode() if torch else nullcontext():
            for s in range(0, len(model_params), batch):
                p = np.asarray(model_params[s:s + batch], np.float32)
                sh = np.repeat(np.asarray(shape, np.float32)[None], len(p), axis=0)
                verts_cm, _ = self._mhr(tensor(sh), tensor(p), tensor(np.zeros((len(p), MHR_EXPRESSION_COUNT), np.float32)))
                out.append(to_numpy(verts_cm).astype(np.float32))
        return np.concatenate(out) * 0.01 * np.array([1.0, -1.0, -1.0], np.float32)  # cm, y up -> m, OpenCV

    def estimate_masklets(self, image: np.ndarray, masklets, K: np.ndarray) -> list[BodyObservation]:
        """One observation per masklet, in order: everyone on the frame's own image in one batched
        call; a person the occlusion stage painted in gets a call on their completed image."""
        obs: list[BodyObservation | None] = [None] * len(masklets)
        plain = [i for i, m in enumerate(masklets) if m.image is None]
        if plain:
            got = self.estimate(image, np.stack([masklets[i].box for i in plain]), K,
                                np.stack([masklets[i].mask for i in plain]))
            for i, o in zip(plain, got):
                obs[i] = o
        for i, m in enumerate(masklets):
            if m.image is not None:
                obs[i] = self.estimate(m.image, m.box[None], K, m.mask[None])[0]
        # an amodal (occluded) frame is a guess about hidden limbs: trust it less in smoothing
        return [replace(o, visibility=o.visibility * 0.6) if m.occluded else o for o, m in zip(obs, masklets)]

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
