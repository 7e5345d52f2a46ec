"""Where might a new person be? Person-box proposals for a frame, from detectors that run offline on a CPU.

OpenCV's HOG pedestrian detector ships inside OpenCV (no download) and finds upright people down to
~100 px tall at its working scale, whatever way they face; BlazePose's own detector keys on the face
and misses people seen from behind, so HOG is the default proposer and a track's own last pose does
the rest between detections.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from nvwa.errors import NvwaError


@dataclass(frozen=True)
class HogConfig:
    max_side: int = 800  # pixels: frames are downscaled to this before HOG (HOG costs ~ pixels)
    upscale_small: float = 1.0  # >1 upscales frames whose longer side is under max_side, to find small people
    hit_threshold: float = 0.0  # SVM margin; higher = fewer, surer boxes
    win_stride: int = 8  # pixels
    scale: float = 1.05  # image pyramid step
    min_score: float = 0.3  # boxes with a lower SVM weight are dropped


class HogProposer:
    """People boxes (xyxy, in the given frame's pixels) with scores, from OpenCV's HOG + linear SVM."""

    def __init__(self, config: HogConfig = HogConfig()):
        self.config = config
        if not hasattr(cv2, "HOGDescriptor"):  # OpenCV 5 moved it out of its main modules (seen on a machine with 5.0.0)
            raise NvwaError(f"the HOG detector (--detector hog): OpenCV {cv2.__version__} has none (OpenCV 5 moved it out of "
                            "its main modules); install OpenCV 4 (pip install 'opencv-python-headless<5' 'opencv-contrib-python<5') "
                            "or use --detector yolox")
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """image (H, W, 3) uint8 -> boxes (N, 4) xyxy px, scores (N,)."""
        c = self.config
        h, w = image.shape[:2]
        s = min(1.0, c.max_side / max(h, w))
        if s >= 1.0 and c.upscale_small > 1.0:
            s = min(c.upscale_small, c.max_side / max(h, w))
        small = cv2.resize(image, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR) if s != 1.0 else image
        win_w, win_h = self._hog.winSize
        if small.shape[0] < win_h or small.shape[1] < win_w:
            # Smaller than HOG's detection window: OpenCV's detectMultiScale corrupts memory and takes
            # the process down on such images (e.g. 160x90), and no upright person fits anyway.
            return np.zeros((0, 4)), np.zeros(0)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        rects, weights = self._hog.detectMultiScale(
            gray, hitThreshold=c.hit_threshold, winStride=(c.win_stride, c.win_stride), padding=(8, 8), scale=c.scale
        )
        if len(rects) == 0:
            return np.zeros((0, 4)), np.zeros(0)
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(weights, dtype=np.float64).reshape(-1)
        boxes = np.column_stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2], rects[:, 1] + rects[:, 3]]) / s
        # The default detector's window has a ~12% margin around the person: shrink to the body.
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        bw, bh = (boxes[:, 2] - boxes[:, 0]) * 0.6, (boxes[:, 3] - boxes[:, 1]) * 0.8
        boxes = np.column_stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
        keep = scores >= c.min_score
        boxes, scores = boxes[keep], scores[keep]
        idx = cv2.dnn.NMSBoxes(
            [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes], scores.tolist(), 0.0, 0.4
        )
        idx = np.asarray(idx, dtype=int).reshape(-1)
        return boxes[idx], scores[idx]
