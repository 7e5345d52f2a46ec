"""The embedded default body backend: MediaPipe BlazePose (full) on a crop around each person.

People far from the camera are 60-120 px tall; the landmarker run on the whole frame misses them. So
each person is cropped (a square around their box with a margin) and scaled to the model's input size.
A tracked person's next crop is the region their own last pose gives, and BlazePose's landmark network
alone runs on it (:mod:`nvwa.body.landmarks`: no graph, no detector). Candidates for new people, and a
person lost for a frame, are looked for with MediaPipe's whole graph (IMAGE mode: its detector, then
the landmarks), which finds a person turned any way. One video's tracked people (their regions, crops
begun early, the wide searches) are :mod:`nvwa.body.blazepose_video`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import os
import sys
import threading
from contextlib import contextmanager

import cv2
import numpy as np

from nvwa.body.landmarks import LandmarkNetwork, Region, bundle_without_mask
from nvwa.body.landmarks_int8 import int8_dot_products, int8_network_for
from nvwa.body.observation import BodyObservation
from nvwa.options import option
from nvwa.tracking.boxes import iou_matrix

CROP_SIZE = 256  # pixels: the landmark model's input size; smaller crops are upscaled to it
PROBE_MIN_IOU = 0.3  # a pose the network alone finds for a candidate overlaps its box at least this much


@dataclass(frozen=True)
class BlazePoseConfig:
    task_path: str = field(default="", metadata={"hidden": True})  # the verified pose_landmarker_full.task (set by the loader)
    crop_margin: float = 1.5  # crop side = margin * longer side of the person's box
    min_detection_confidence: float = 0.5  # BlazePose detector score to accept a new person
    min_presence_confidence: float = 0.5  # below this the landmarker says nobody is there
    min_tracking_confidence: float = 0.5  # a tracked person's network presence below this: not there this frame
    min_keypoint_score: float = 0.35  # an observation whose mean visibility is lower is dropped
    find_max_side: int = 640  # pixels: the whole frame is downscaled to this to look for large people
    find_max_people: int = 4  # people the whole-frame search returns at most
    threads: int = 2  # people of a frame landmarked at once, each on an interpreter of its own (LiteRT releases the GIL)
    probe_mask_grow: float | None = 0.25  # a probe sees only its box grown by this share of its width (0.1 of its height); None: the whole crop
    track_mask_grow: float | None = 0.5  # likewise a tracked person's crop, around their predicted box
    track_mask_wide_grow: float | None = 1.0  # the wide search after a missed frame sees its box grown by this (None: unmasked)
    probe_network: bool = True  # where the graph's detector finds nobody in a candidate's box, the landmark network alone looks ...
    probe_network_max_px: float = 160.0  # ... if the box is at most this tall (px): the graph misses small and half-hidden people;
    # a large person it misses is mid-jump or turned, where the network's upright first look gives a poor pose that then
    # fails to re-identify the person it belongs to (Sports2D's jumper got a new id)
    probe_fragment_share: float = 0.5  # ... and where the graph's pose is shorter than this share of the box (a fragment)
    # (on a 68-px walker its pose was his head and chest for some sub-pixel shifts of the same box, his whole body for others)
    turned_over_deg: float = 135.0  # a tracked pose whose torso is turned this far from upright in the picture is looked at upright too
    landmark_network: str = option("auto", "the network following tracked people from frame to frame: int8 (its middle in "
                                   "int8: its poses within a 1.5-px shift's noise; first looks, people overlapping another and "
                                   "a person about to be lost stay on the float one), float (as MediaPipe ships it), or auto: "
                                   "int8 where the CPU has int8 dot products (x86 VNNI, Arm dotprod; 1.5x faster a crop "
                                   "measured), float elsewhere (an AVX2-only CPU ran it 0.95x)", choices=("auto", "int8", "float"))
    int8_min_px: float = option(40.0, "people shorter than this in the frame are followed by the float network even where "
                                "the int8 one follows the others (its error grows for the smallest: 1.3% of height under 60 px, 0.8% above)",
                                unit="px", ge=0.0)


def _mask_outside(crop: np.ndarray, box: np.ndarray, x0: float, y0: float, side: float, grow: float) -> np.ndarray:
    """``crop`` (a square of ``side`` frame px from x0, y0) with everything outside ``box`` (grown by ``grow``
    of its width each side, 0.1 of its height) set to grey."""
    s = crop.shape[0] / side
    gx, gy = grow * (box[2] - box[0]), 0.1 * (box[3] - box[1])
    c0, c1 = int(max(0, (box[0] - gx - x0) * s)), int(min(crop.shape[1], np.ceil((box[2] + gx - x0) * s)))
    r0, r1 = int(max(0, (box[1] - gy - y0) * s)), int(min(crop.shape[0], np.ceil((box[3] + gy - y0) * s)))
    out = np.full_like(crop, 114)
    out[r0:r1, c0:c1] = crop[r0:r1, c0:c1]
    return out


def square_crop(image: np.ndarray, box: np.ndarray, margin: float, size: int = CROP_SIZE):
    """Cut a square of side ``margin * max(w, h)`` centred on ``box`` (xyxy px), pad outside the frame
    with black, and resize it to ``size``. Returns (crop (size, size, 3) uint8, x0, y0, side)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = max(box[2] - box[0], box[3] - box[1], 8.0) * margin
    x0, y0 = cx - side / 2, cy - side / 2
    s = size / side
    # One affine warp does crop, pad and resize together, without copying the frame.
    m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], dtype=np.float64)
    crop = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return crop, x0, y0, side


_STDERR_LOCK = threading.RLock()  # fd 2 is the process's: two threads swapping it could leave it on /dev/null


@contextmanager
def _native_stderr_silenced():
    """MediaPipe's C++ side prints warnings straight to file descriptor 2 when a graph is built and
    first run (feedback tensors, NORM_RECT); none is actionable, and they would bury the CLI's output.
    Python errors still surface as exceptions. One thread at a time (with --detector hog the whole-frame
    search runs on the detector's thread beside the main thread's pose checks)."""
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except OSError:
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


class BlazePoseBody:
    """BlazePose: the landmark network for tracked people, and MediaPipe's graph (IMAGE mode) to find them.

    Load once per process and reuse across videos; ``close()`` releases the native graphs.
    """

    keypoint_set = "blazepose33"

    def __init__(self, config: BlazePoseConfig):
        # MediaPipe's native logging (glog) prints per-graph warnings to stderr; keep it to errors.
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from nvwa.body.mediapipe_import import import_mediapipe

        mp, vision, BaseOptions = import_mediapipe()  # heavy: only when this backend is chosen

        self._mp = mp
        self._vision = vision
        self.config = config
        self._model_bytes = bundle_without_mask(config.task_path)  # no mask is used
        self._base_options = lambda: BaseOptions(model_asset_buffer=self._model_bytes)
        self._prober = self._create(vision.RunningMode.IMAGE, num_poses=1)
        # the whole-frame search (find_people) serves only HOG's proposer: its graph is made on first use
        self._finder = None
        self._finder_lock = threading.Lock()
        with _native_stderr_silenced():  # LiteRT announces each interpreter on fd 2
            self.int8_tracking = config.landmark_network == "int8" or (config.landmark_network == "auto" and int8_dot_products())
            # the network as shipped: every first look and every decision (a candidate's probe, a person just
            # found, following one back, the upright look, a tracked person about to be lost) ...
            self.network = LandmarkNetwork.from_task(self._model_bytes, config.threads)  # the bundle read once
            # ... and the one that follows the people already tracked, frame after frame (most of the crops)
            self.tracking_network = LandmarkNetwork(int8_network_for(config.task_path, self._model_bytes), config.threads) \
                if self.int8_tracking else self.network

    def _create(self, mode, num_poses: int = 1):  # an IMAGE-mode graph
        c = self.config
        opts = self._vision.PoseLandmarkerOptions(
            base_options=self._base_options(),
            running_mode=mode,
            num_poses=num_poses,
            min_pose_detection_confidence=c.min_detection_confidence,
            min_pose_presence_confidence=c.min_presence_confidence,
            min_tracking_confidence=c.min_tracking_confidence,
        )
        with _native_stderr_silenced():
            landmarker = self._vision.PoseLandmarker.create_from_options(opts)
            blank = self._image(np.zeros((CROP_SIZE, CROP_SIZE, 3), np.uint8))
            landmarker.detect(blank)  # warm up now, so the first real frame is not slow or noisy
        return landmarker

    def _to_observation(self, result, x0: float, y0: float, side: float) -> BodyObservation | None:
        if not result.pose_landmarks:
            return None
        lms = result.pose_landmarks[0]
        world = result.pose_world_landmarks[0]
        norm = np.array([(p.x, p.y) for p in lms], dtype=np.float64)
        vis = np.array([p.visibility if p.visibility is not None else 0.0 for p in lms], dtype=np.float64)
        xyz = np.array([(p.x, p.y, p.z) for p in world], dtype=np.float64)
        kp2d = np.column_stack([x0 + norm[:, 0] * side, y0 + norm[:, 1] * side])
        obs = BodyObservation(self.keypoint_set, kp2d, xyz, np.clip(vis, 0.0, 1.0))
        return obs if obs.score >= self.config.min_keypoint_score else None

    def _image(self, crop: np.ndarray):
        return self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(crop))

    def probe(self, image: np.ndarray, box: np.ndarray, margin: float | None = None) -> BodyObservation | None:
        """Is there a person in ``box``? A fresh detection (IMAGE mode), for candidates of new tracks.
        The crop outside the box (grown by ``probe_mask_grow``) is greyed out: a neighbour walking beside
        the candidate would otherwise take the pose (the detector keys on the clearest face in the crop).
        Where the graph finds nobody, or a pose under ``probe_fragment_share`` of the box's height, the
        network alone looks too (candidates up to ``probe_network_max_px`` tall); the taller pose stands."""
        c = self.config
        obs = self.detect(image, box, margin, c.probe_mask_grow)
        tall = box[3] - box[1]
        if c.probe_network and tall <= c.probe_network_max_px and (obs is None or _tall(obs) < c.probe_fragment_share * tall):
            # nobody, or a fragment: the network alone looks (a whole pose it finds is the person; else the graph's stands)
            alone = self._probe_network(image, box, margin)
            if alone is not None and (obs is None or _tall(alone) > _tall(obs)):
                obs = alone
        return obs

    def _probe_network(self, image: np.ndarray, box: np.ndarray, margin: float | None) -> BodyObservation | None:
        """The landmark network alone on a candidate the graph's detector passed over (it keys on a face
        and a torso: it misses a man half behind a sign, and many people 30-40 px tall): a first pass on
        the box, a second on the region the first pose gives. Kept where the network is sure someone is
        there and their pose lies on the box."""
        c = self.config
        keep = None if c.probe_mask_grow is None else box
        region = Region.from_box(box, margin or c.crop_margin)
        for _ in range(2):
            out = self.network.run(region.crop(image, keep, c.probe_mask_grow or 0.0), region)
            if out.presence < c.min_detection_confidence or out.next_region is None:
                return None
            region = out.next_region
        obs = self.observation(out)
        return obs if obs is not None and iou_matrix(obs.box(), box)[0, 0] >= PROBE_MIN_IOU else None

    def observation(self, out) -> BodyObservation | None:
        """The network's :class:`~nvwa.body.landmarks.Landmarks` as an observation; None where too little
        of the body was seen."""
        obs = BodyObservation(self.keypoint_set, out.keypoints_2d, out.keypoints_3d, np.clip(out.visibility, 0.0, 1.0))
        return obs if obs.score >= self.config.min_keypoint_score else None

    def detect(self, image: np.ndarray, box: np.ndarray, margin: float | None, grow: float | None) -> BodyObservation | None:
        """The whole graph (detector, then landmarks) on a square ``margin`` times ``box`` across, grey
        outside ``box`` grown by ``grow`` (None: nothing greyed)."""
        crop, x0, y0, side = square_crop(image, box, margin or self.config.crop_margin)
        if grow is not None:
            crop = _mask_outside(crop, box, x0, y0, side, grow)
        with _native_stderr_silenced():
            result = self._prober.detect(self._image(crop))
        return self._to_observation(result, x0, y0, side)

    def find_people(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (N, 4) xyxy px and scores (N,) of people BlazePose finds on the whole (downscaled)
        frame: it keys on faces and misses small people, but it sees the large ones HOG misses."""
        h, w = image.shape[:2]
        s = min(1.0, self.config.find_max_side / max(h, w))
        small = cv2.resize(image, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else image
        with self._finder_lock:
            if self._finder is None:
                self._finder = self._create(self._vision.RunningMode.IMAGE, num_poses=self.config.find_max_people)
        with _native_stderr_silenced():
            result = self._finder.detect(self._image(small))
        boxes, scores = [], []
        for lms in result.pose_landmarks:
            pts = np.array([(p.x * small.shape[1], p.y * small.shape[0]) for p in lms]) / s
            vis = np.array([p.visibility or 0.0 for p in lms])
            seen = pts[vis >= 0.3] if (vis >= 0.3).sum() >= 2 else pts
            boxes.append(np.concatenate([seen.min(0), seen.max(0)]))
            scores.append(float(vis.mean()))
        return np.array(boxes).reshape(-1, 4), np.array(scores)

    def init_state(self):
        """The per-video state (sam2's ``init_state`` habit, :class:`~nvwa.body.blazepose_video.BlazePoseVideo`):
        each tracked person's next region. One per video; ``close()`` it when the video ends."""
        from nvwa.body.blazepose_video import BlazePoseVideo

        return BlazePoseVideo(self)

    def close(self) -> None:
        with _native_stderr_silenced():  # each closed graph logs "DestroyAccelerator" lines to fd 2
            for landmarker in (self._prober, self._finder):
                if landmarker is not None:
                    landmarker.close()
        self._prober = self._finder = None  # closed once: a second close() is a no-op
        self.network.close()
        self.tracking_network.close()


def _tall(obs: BodyObservation) -> float:
    box = obs.box()
    return float(box[3] - box[1])
