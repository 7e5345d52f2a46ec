"""SAM 3 as the tracking stage (the GPU path): text prompt "person", masklets with persistent ids.

Upstream (facebookresearch/sam3, PyPI ``sam3``; weights gated on Hugging Face) is imported only when
this tracker is built. What we rely on is its documented video-predictor contract (see
../shared/reference/models.md): ``handle_request({"type": "start_session", "resource_path": DIR})``
on a folder of JPEG frames, ``add_prompt`` with ``text`` on a ``frame_index``,
``handle_stream_request({"type": "propagate_in_video", "propagation_direction": "both", ...})``
yielding ``{"frame_index", "outputs": {"out_obj_ids" (N,), "out_probs" (N,), "out_boxes_xywh" (N, 4)
normalised, "out_binary_masks" (N, H, W) bool}}``, and ``close_session``.

Long videos are tracked in windows of ``window`` frames that overlap by ``overlap`` frames: a session
holds every frame of its window in GPU memory, so a window bounds memory and there is no frame cap.
Each window is prompted on its middle frame and propagated both ways; objects of a new window take the
id of the previous window's object whose masks they overlap most over the shared frames (Hungarian
assignment on mean mask IoU), or a new id.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from nvwa.tensors import to_numpy
from nvwa.tracking.masklet import Masklet, mask_box, mask_iou  # noqa: F401  (re-exported: the tracker's output type)
from nvwa.video import VideoFrame


@dataclass(frozen=True)
class SAM3Config:
    prompt: str = "person"
    window: int = 240  # frames per session (SAM 3 keeps a session's frames on the GPU)
    overlap: int = 16  # frames shared by consecutive windows, to carry ids across
    min_score: float = 0.3  # objects SAM 3 scores lower in a frame are dropped from that frame
    min_link_iou: float = 0.3  # mean mask IoU over the overlap needed to carry an id into the next window
    jpeg_quality: int = 95


BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"


def default_bpe_path() -> str:
    """SAM 3's text-encoder vocabulary: $NVWA_SAM3_BPE, else the copy in the installed ``sam3`` package
    (its wheel lacks it, a source checkout has it), else the identical file ``open_clip`` ships."""
    import importlib.util
    import os

    from nvwa.errors import ModelMissingError

    if os.environ.get("NVWA_SAM3_BPE"):
        return os.environ["NVWA_SAM3_BPE"]
    for package, sub in (("sam3", "assets"), ("open_clip", "")):
        spec = importlib.util.find_spec(package)
        for root in (spec.submodule_search_locations or []) if spec else []:
            for where in (Path(root) / sub / BPE_FILE, Path(root).parent / sub / BPE_FILE):
                if where.is_file():
                    return str(where)
    raise ModelMissingError(f"{BPE_FILE}: SAM 3's vocabulary not found (its wheel lacks it); "
                            "`pip install open_clip_torch` or set NVWA_SAM3_BPE to the file")


class SAM3Tracker:
    """Masklets of every person in a video, window by window. ``predictor`` injects an already-built
    SAM 3 video predictor (or a stand-in shaped like it); otherwise one is built from the checkpoint."""

    def __init__(self, checkpoint_path: str | None = None, bpe_path: str | None = None,
                 config: SAM3Config = SAM3Config(), predictor=None):
        if config.window < 2 or not 0 <= config.overlap < config.window // 2 + 1:
            raise ValueError(f"SAM 3 windows: window={config.window}, overlap={config.overlap}; "
                             "need window >= 2 and overlap at most half the window")
        if predictor is None:
            from sam3.model_builder import build_sam3_video_predictor  # the gpu extra; weights gated

            # The wheel lacks its BPE vocabulary file, so text prompts fail unless bpe_path is given.
            predictor = build_sam3_video_predictor(checkpoint_path=checkpoint_path, bpe_path=bpe_path)
        self.predictor = predictor
        self.config = config
        self.next_id = 1
        self.windows = 0

    def track(self, frames: Iterable[VideoFrame]) -> Iterator[tuple[VideoFrame, list[Masklet]]]:
        """Yield (frame, its people) for every frame, in order, with ids stable across windows."""
        c = self.config
        self.next_id, self.windows = 1, 0  # ids count from 1 in every video
        window: list[VideoFrame] = []
        carried: list[dict[int, Masklet]] = []  # the previous window's results on the overlap frames
        for frame in frames:
            window.append(frame)
            if len(window) == c.window:
                results = self._link(self._run_window(window), carried)
                yield from self._emit(window[len(carried):], results[len(carried):])  # the overlap went out last window
                keep = len(window) - c.overlap
                carried, window = results[keep:], window[keep:]
        if len(window) > len(carried):  # the last, shorter window
            results = self._link(self._run_window(window), carried)
            yield from self._emit(window[len(carried):], results[len(carried):])

    @staticmethod
    def _emit(frames, results):
        for f, people in zip(frames, results):
            yield f, [people[k] for k in sorted(people)]

    # -- one session ------------------------------------------------------------------------------

    def _run_window(self, frames: list[VideoFrame]) -> list[dict[int, Masklet]]:
        """Per frame of the window: SAM 3's object id -> masklet (window-local ids)."""
        import cv2

        c = self.config
        folder = Path(tempfile.mkdtemp(prefix="nvwa-sam3-"))
        session = None
        try:
            for i, f in enumerate(frames):
                cv2.imwrite(str(folder / f"{i:05d}.jpg"), f.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, c.jpeg_quality])
            session = self.predictor.handle_request({"type": "start_session", "resource_path": str(folder)})["session_id"]
            middle = len(frames) // 2
            per_frame: list[dict[int, Masklet]] = [{} for _ in frames]
            first = self.predictor.handle_request({"type": "add_prompt", "session_id": session,
                                                   "frame_index": middle, "text": c.prompt})
            self._collect(per_frame, first, frames)
            for r in self.predictor.handle_stream_request({"type": "propagate_in_video", "session_id": session,
                                                           "propagation_direction": "both",
                                                           "start_frame_index": middle}):
                self._collect(per_frame, r, frames)
            self.windows += 1
            return per_frame
        finally:
            if session is not None:
                self.predictor.handle_request({"type": "close_session", "session_id": session})
            shutil.rmtree(folder, ignore_errors=True)

    def _collect(self, per_frame: list[dict[int, Masklet]], response: dict, frames: list[VideoFrame]) -> None:
        i = int(response["frame_index"])
        out = response.get("outputs") or {}
        ids = to_numpy(out.get("out_obj_ids", np.zeros(0))).reshape(-1).astype(int)
        if not len(ids):
            return
        probs = to_numpy(out.get("out_probs", np.ones(len(ids)))).reshape(-1)
        masks = to_numpy(out["out_binary_masks"]).astype(bool)
        h, w = frames[i].image.shape[:2]
        if masks.shape != (len(ids), h, w):
            raise ValueError(f"SAM 3 output for frame {i}: masks {masks.shape}, expected ({len(ids)}, {h}, {w})")
        for oid, p, m in zip(ids, probs, masks):
            box = mask_box(m)
            if p < self.config.min_score or box is None:
                per_frame[i].pop(int(oid), None)
                continue
            per_frame[i][int(oid)] = Masklet(int(oid), m, box, float(p))  # the later pass wins

    # -- ids across windows -----------------------------------------------------------------------

    def _link(self, local: list[dict[int, Masklet]], carried: list[dict[int, Masklet]]) -> list[dict[int, Masklet]]:
        """Rename the window's object ids to persistent ones, matching on the overlap frames."""
        from scipy.optimize import linear_sum_assignment

        new_ids = sorted({oid for frame in local for oid in frame})
        old_ids = sorted({m.track_id for frame in carried for m in frame.values()})
        rename: dict[int, int] = {}
        if new_ids and old_ids:
            iou = np.zeros((len(old_ids), len(new_ids)))
            for k, frame in enumerate(carried):
                by_old = {m.track_id: m for m in frame.values()}
                for a, o in enumerate(old_ids):
                    for b, n in enumerate(new_ids):
                        if o in by_old and n in local[k]:
                            iou[a, b] += mask_iou(by_old[o].mask, local[k][n].mask)
            iou /= max(len(carried), 1)
            rows, cols = linear_sum_assignment(-iou)
            rename = {new_ids[b]: old_ids[a] for a, b in zip(rows, cols) if iou[a, b] >= self.config.min_link_iou}
        for n in new_ids:
            if n not in rename:
                rename[n] = self.next_id
                self.next_id += 1
        self.next_id = max([self.next_id, *[v + 1 for v in rename.values()]])
        return [{rename[oid]: Masklet(rename[oid], m.mask, m.box, m.score) for oid, m in frame.items()} for frame in local]
