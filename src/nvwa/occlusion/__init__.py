"""The occlusion stage (GPU path, off by default): amodal masks for people hidden behind something.

Per chunk of frames and per person, an amodal segmentation model (Diffusion-VAS upstream) predicts the
whole body's mask from the visible one. Frames where IoU(visible, amodal) < 0.7 are occluded; each run
of occluded frames is padded by 2 frames on both sides and cut into spans of at most 25 frames (what
SAM-Body4D does). In those frames the body model gets the amodal mask and its box instead of the
visible ones, and, when content completion is on, an image where the hidden part is painted in.

Upstream Diffusion-VAS is very slow (SAM-Body4D: 26 min instead of 3 for 5 people x 90 frames with
completion), hence off by default. The models are reached through two small interfaces, so the stage
is tested here with stand-ins shaped like them:

- ``amodal_masks(images (T, H, W, 3) uint8, modal (T, H, W) bool) -> (T, H, W) bool``
- ``complete(images (T, H, W, 3) uint8, modal, amodal) -> (T, H, W, 3) uint8`` (optional)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Iterator

import numpy as np

from nvwa.runs import true_runs
from nvwa.tracking.masklet import Masklet, mask_box, mask_iou
from nvwa.video import VideoFrame


@dataclass(frozen=True)
class OcclusionConfig:
    iou_threshold: float = 0.7  # IoU(visible, amodal) below this: the person is partly hidden
    pad: int = 2  # frames added before and after each occluded run
    max_span: int = 25  # longest span handed to the models at once
    chunk: int = 64  # frames buffered per amodal pass (Diffusion-VAS's clip length)
    complete_content: bool = False  # also paint in the hidden part of the image (slower still)


def occluded_spans(ious: np.ndarray, threshold: float, pad: int, max_span: int) -> list[tuple[int, int]]:
    """[start, stop) spans of frames to treat as occluded: IoU below ``threshold``, padded by ``pad``
    frames, merged where they touch, cut into pieces of at most ``max_span`` frames."""
    hidden = np.asarray(ious) < threshold
    padded = np.zeros_like(hidden)
    for i in np.flatnonzero(hidden):
        padded[max(0, i - pad): i + pad + 1] = True
    spans = []
    for start, stop in true_runs(padded):
        spans += [(int(s), int(min(s + max_span, stop))) for s in range(start, stop, max_span)]
    return spans


class OcclusionHandler:
    def __init__(self, amodal, config: OcclusionConfig = OcclusionConfig(), completion=None):
        if config.complete_content and completion is None:
            raise ValueError("occlusion: complete_content needs a completion model")
        self.amodal, self.completion, self.config = amodal, completion, config
        self.occluded_frames = 0  # person-frames handed to the body model with an amodal mask

    def apply(self, stream: Iterable[tuple[VideoFrame, list[Masklet]]]) -> Iterator[tuple[VideoFrame, list[Masklet]]]:
        """The tracker's (frame, people) stream with occluded people's masks, boxes (and images) amodal."""
        chunk: list[tuple[VideoFrame, list[Masklet]]] = []
        for item in stream:
            chunk.append(item)
            if len(chunk) == self.config.chunk:
                yield from self._chunk(chunk)
                chunk = []
        if chunk:
            yield from self._chunk(chunk)

    def _chunk(self, chunk: list[tuple[VideoFrame, list[Masklet]]]) -> list[tuple[VideoFrame, list[Masklet]]]:
        c = self.config
        people = [{m.track_id: m for m in ms} for _, ms in chunk]
        for tid in sorted({t for p in people for t in p}):
            seen = [i for i, p in enumerate(people) if tid in p]
            images = np.stack([chunk[i][0].image for i in seen])
            modal = np.stack([people[i][tid].mask for i in seen])
            amodal = np.asarray(self.amodal.amodal_masks(images, modal), dtype=bool) | modal  # never less than seen
            if amodal.shape != modal.shape:
                raise ValueError(f"amodal model returned masks {amodal.shape} for {modal.shape}")
            ious = np.array([mask_iou(m, a) for m, a in zip(modal, amodal)])
            for start, stop in occluded_spans(ious, c.iou_threshold, c.pad, c.max_span):
                painted = (self.completion.complete(images[start:stop], modal[start:stop], amodal[start:stop])
                           if c.complete_content else None)
                for k in range(start, stop):
                    i = seen[k]
                    box = mask_box(amodal[k])
                    people[i][tid] = replace(people[i][tid], mask=amodal[k], box=box if box is not None else people[i][tid].box,
                                             occluded=True, image=None if painted is None else painted[k - start])
                    self.occluded_frames += 1
        return [(frame, [p[m.track_id] for m in ms]) for (frame, ms), p in zip(chunk, people)]


class DiffusionVASAmodal:
    """Diffusion-VAS amodal segmentation (upstream: Kaihua-Chen/diffusion-vas, as SAM-Body4D vendors it
    under ``models/diffusion_vas``) with Depth-Anything-V2 depth, behind ``amodal_masks``. Built from the
    checkpoints ``nvwa models download --all --with-occlusion`` fetches; fp16 on the GPU."""

    def __init__(self, mask_model_dir: str, depth_checkpoint: str, resolution=(256, 512), device: str = "cuda"):
        import torch
        from depth_anything_v2.dpt import DepthAnythingV2  # Depth-Anything-V2 repository on sys.path
        from models.diffusion_vas.pipeline_diffusion_vas import DiffusionVASPipeline  # SAM-Body4D layout

        self.torch, self.resolution, self.device = torch, resolution, device
        self.pipeline = DiffusionVASPipeline.from_pretrained(mask_model_dir, dtype=torch.float16).to(device)
        self.pipeline.set_progress_bar_config(disable=True)
        self.depth = DepthAnythingV2(encoder="vitl", features=256, out_channels=[256, 512, 1024, 1024]).to(device)
        self.depth.load_state_dict(torch.load(depth_checkpoint, map_location="cpu"))
        self.depth.eval()

    def amodal_masks(self, images: np.ndarray, modal: np.ndarray) -> np.ndarray:
        import cv2

        torch, (h, w) = self.torch, self.resolution
        H, W = modal.shape[1:]
        small = np.stack([cv2.resize(im, (w, h), interpolation=cv2.INTER_LINEAR) for im in images])
        m = np.stack([cv2.resize(x.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) for x in modal])
        modal_t = torch.from_numpy(np.repeat(m[:, None] * 2.0 - 1.0, 3, axis=1)).float()[None]  # (1, T, 3, h, w) in [-1, 1]
        depth = np.stack([self.depth.infer_image(im[..., ::-1].copy()) for im in small])
        depth = (depth - depth.min()) / max(float(depth.max() - depth.min()), 1e-6) * 2 - 1
        depth_t = torch.from_numpy(np.repeat(depth[:, None], 3, axis=1)).float()[None]
        frames = self.pipeline(modal_t, depth_t, height=h, width=w, num_frames=len(images), decode_chunk_size=8,
                               motion_bucket_id=127, fps=8, noise_aug_strength=0.02, min_guidance_scale=1.5,
                               max_guidance_scale=1.5, generator=torch.manual_seed(23)).frames[0]
        pred = np.stack([np.asarray(f) for f in frames]).astype(np.int32).sum(axis=-1) > 600
        return np.stack([cv2.resize(p.astype(np.uint8), (W, H), interpolation=cv2.INTER_NEAREST) for p in pred]).astype(bool)
