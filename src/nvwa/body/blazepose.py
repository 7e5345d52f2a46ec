"""The embedded default body backend: MediaPipe BlazePose (full) on a crop around each person.

People far from the camera are 60-120 px tall; the landmarker run on the whole frame misses them. So
each person is cropped (a square around their box with a margin) and scaled to the model's input size.
A tracked person's next crop is the region their own last pose gives, and BlazePose's landmark network
alone runs on it (:mod:`nvwa.body.landmarks`: no graph, no detector). Candidates for new people, and a
person lost for a frame, are looked for with MediaPipe's whole graph (IMAGE mode: its detector, then
the landmarks), which finds a person turned any way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import os
import sys
import threading
from contextlib import contextmanager

import cv2
import numpy as np

from nvwa.body.keypoints import UPRIGHT_DEG, turned_over
from nvwa.body.landmarks import LandmarkNetwork, Region, bundle_without_mask
from nvwa.body.observation import BodyObservation
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
            self.network = LandmarkNetwork.from_task(self._model_bytes, config.threads)  # the tracked people's landmarks (the bundle read once)

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

    def init_state(self) -> "BlazePoseVideo":
        """The per-video state (sam2's ``init_state`` habit): each tracked person's next region. One
        per video; ``close()`` it when the video ends."""
        return BlazePoseVideo(self)

    def close(self) -> None:
        with _native_stderr_silenced():  # each closed graph logs "DestroyAccelerator" lines to fd 2
            for landmarker in (self._prober, self._finder):
                if landmarker is not None:
                    landmarker.close()
        self.network.close()


class BlazePoseVideo:
    """One video's people for :class:`BlazePoseBody`: the region each tracked person's next crop is cut
    from, which their own last pose gives (see :mod:`nvwa.body.landmarks`). Made by
    ``BlazePoseBody.init_state()``; nothing of one video carries into the next, so the same upload gives
    the same scene in any job order."""

    def __init__(self, body: BlazePoseBody):
        self.body = body
        # track id -> (next region, the centre of the pose box it came from, the box round all 33 landmarks)
        self._regions: dict[int, tuple[Region, np.ndarray, np.ndarray]] = {}
        # track id -> (the region entry, next frame's image, the box asked for, the network's job) begun a frame early
        self._ahead: dict[int, tuple] = {}
        self.crops_begun_early = self.crops_used_early = 0  # how many crops were begun a frame early, and used
        self.upright_looks = self.upright_kept = 0  # poses found standing on their head, looked at upright; kept so
        self._was_upright: dict[int, bool] = {}  # track id -> their last pose kept stood upright (within UPRIGHT_DEG)

    def probe(self, image: np.ndarray, box: np.ndarray, margin: float | None = None) -> BodyObservation | None:
        return self.body.probe(image, box, margin)

    def track(self, track_id: int, image: np.ndarray, box: np.ndarray, timestamp_s: float,
              margin: float | None = None) -> BodyObservation | None:
        """The person of ``track_id`` inside ``box`` (their predicted box) at ``timestamp_s``; ``margin``
        asks for a wide search after a miss (the full graph, detector included, on a crop that wide)."""
        return self.track_many([(track_id, image, box, margin)], timestamp_s)[0]

    def track_many(self, requests: list[tuple], timestamp_s: float, meanwhile=None, following=None) -> list[BodyObservation | None]:
        """Several people of one frame, [(track_id, image, box, margin)] -> their observations. Each person
        with a region from their last pose is landmarked there, moved as their box is predicted to move;
        a person with none (just found) gets an upright square round their box. All of them run on the
        network's interpreters at once. Where a person just found is not there, and on a wide search, the
        full graph (its detector finds a person turned any way) looks instead. ``meanwhile``: the
        caller's own work, called once while the network's threads work. ``following``: (the next frame's
        image, a function (track_id, observation) -> the box the caller will ask for that person next
        frame if it keeps this pose, or None): each kept person's next crop is begun as soon as their pose
        is in, and used next frame only where it was cut from exactly what that frame asks for."""
        c = self.body.config
        found: list[BodyObservation | None] = [None] * len(requests)
        pending, wide = [], []
        for i, (track_id, image, box, margin) in enumerate(requests):
            known = self._regions.pop(track_id, None)
            ahead = self._ahead.pop(track_id, None)
            if ahead is not None and margin is None and ahead[0] is known and ahead[1] is image and np.array_equal(ahead[2], box):
                pending.append((i, False, ahead[3]))  # begun last frame from this very region and box
                self.crops_used_early += 1
                continue
            _forget(ahead)
            if margin is not None:
                wide.append(i)
            else:
                pending.append((i, known is None, self.body.network.start(self._job(image, box, known))))
        for i in wide:  # the graph searches wide for those lost a frame ago while the network's threads work
            track_id, image, box, margin = requests[i]
            found[i] = self._from_graph(track_id, image, box, margin, c.track_mask_wide_grow)
        if meanwhile is not None:
            meanwhile()
        for i, first, job in pending:
            out = job.result()
            track_id, image, box, _ = requests[i]
            out = self._upright_instead(track_id, image, out)  # a pose on its head, sure or not, looked at upright
            if out.presence >= c.min_tracking_confidence:
                found[i] = self._keep(track_id, out)
                if found[i] is not None and following is not None:
                    self._begin_next(track_id, found[i], *following)
            elif first:
                found[i] = self._from_graph(track_id, image, box, None, c.track_mask_grow)
        return found

    def follow_back(self, images: list[np.ndarray], obs: BodyObservation, accept) -> list[BodyObservation]:
        """A person just found (``obs``) followed back through the frames before (``images``, the latest
        first) while the network is sure someone is there and ``accept(i, pose)`` takes its pose on
        ``images[i]``: each step's crop is the region the pose after it gives, grey outside that pose's box
        grown as a tracked person's is. One person at a time on the caller's thread (each step needs the last)."""
        c = self.body.config
        region = Region.from_keypoints(obs.keypoints_2d, obs.visibility)
        keep = obs.box(min_visibility=0.0)
        found: list[BodyObservation] = []
        for i, image in enumerate(images):
            if region is None:
                break
            crop = region.crop(image, None if c.track_mask_grow is None else keep, c.track_mask_grow or 0.0)
            out = self.body.network.run(crop, region)
            if out.presence < c.min_tracking_confidence and c.track_mask_grow is not None:
                # greyed, a person half out of the picture can be lost (vtest 115: 0.18; ungreyed 0.81)
                out = self.body.network.run(region.crop(image, None, 0.0), region)
            pose = self.body.observation(out) if out.presence >= c.min_tracking_confidence else None
            if pose is None or not accept(i, pose):
                break
            found.append(pose)
            region, keep = out.next_region, pose.box(min_visibility=0.0)
        return found

    def _job(self, image: np.ndarray, box: np.ndarray, known: tuple | None) -> tuple:
        """A person's crop job (see :meth:`LandmarkNetwork.start`) for ``box``, from the region their last pose
        gave (``known``; None: an upright square round the box)."""
        c = self.body.config
        shift = _centre(box) - known[1] if known else 0.0
        region = known[0].moved(shift) if known else Region.from_box(box, c.crop_margin)
        # what stays ungreyed: the predicted box and where the person's whole last pose was, legs the network
        # saw faintly included (the box of the confident landmarks alone hid them, and they stayed hidden)
        keep = None if c.track_mask_grow is None else box if not known else _union(box, known[2] + np.tile(shift, 2))
        return image, region, keep, c.track_mask_grow or 0.0

    def _begin_next(self, track_id: int, obs: BodyObservation, image: np.ndarray, next_box) -> None:
        """Begin ``track_id``'s crop on the next frame (``image``) now, where the caller says where it will
        look for them (the network's threads would otherwise wait while the caller finishes this frame)."""
        box = next_box(track_id, obs)
        known = self._regions.get(track_id)
        if box is not None and known is not None and self.body.network.threads > 1:
            self._ahead[track_id] = (known, image, box, self.body.network.start(self._job(image, box, known)))
            self.crops_begun_early += 1

    def early_crops(self) -> dict:
        """How many tracked people's crops were begun a frame early, and how many of those were used (the rest
        were cut again: the tracker asked for another box), and of the poses on their head looked at upright,
        how many stood so: for the run's summary."""
        return {"crops_begun_early": self.crops_begun_early, "crops_used_early": self.crops_used_early,
                "upright_looks": self.upright_looks, "upright_kept": self.upright_kept}

    def _keep(self, track_id: int, out) -> BodyObservation | None:
        """The network's pose as an observation (None where too little of the body was seen), and the
        region it gives for the person's next frame."""
        obs = self.body.observation(out)
        if obs is None:
            return None
        self._was_upright[track_id] = not turned_over(obs.keypoints_2d, UPRIGHT_DEG)
        if out.next_region is not None:
            self._regions[track_id] = (out.next_region, _centre(obs.box()), obs.box(min_visibility=0.0))
        return obs

    def _upright_instead(self, track_id: int, image: np.ndarray, out):
        """Where the network's pose of someone last seen upright stands on its head (its torso turned over
        in the picture), the same place looked at upright: the network, handed a person the wrong way up,
        draws them that way up and keeps them so frame after frame (vtest's walker at frames 110-114, after
        a wide search found him so). Its pose stands where the network is at least as sure of it, it
        stands upright (within UPRIGHT_DEG) and it is a pose to keep; the look is not greyed (see the
        README: greyed to the upside-down track's box it was kept less often). A backflip turns over
        through its frames in between (Sports2D's man: 91 degrees, then 139), so it is never looked at
        upright: seen upright, the network draws even him upright."""
        c = self.body.config
        if not self._was_upright.get(track_id, False) or not turned_over(out.keypoints_2d, c.turned_over_deg):
            return out
        region = Region.from_keypoints(out.keypoints_2d, out.visibility)
        if region is None:
            return out
        upright = Region(region.centre, region.side, np.array([0.0, -1.0]))
        again = self.body.network.run(upright.crop(image), upright)
        self.upright_looks += 1
        if (again.presence >= max(out.presence, c.min_tracking_confidence)
                and not turned_over(again.keypoints_2d, UPRIGHT_DEG) and self.body.observation(again) is not None):
            self.upright_kept += 1
            return again
        return out

    def _from_graph(self, track_id: int, image, box, margin, grow) -> BodyObservation | None:
        """MediaPipe's whole graph on the person's crop; its pose gives their next region."""
        obs = self.body.detect(image, box, margin, grow)
        if obs is not None and turned_over(obs.keypoints_2d, self.body.config.turned_over_deg):
            pose = _GraphPose(obs.keypoints_2d, obs.visibility, 0.0)
            again = self._upright_instead(track_id, image, pose)
            if again is not pose:  # the upright look stood
                return self._keep(track_id, again)
        if obs is not None:
            self._was_upright[track_id] = not turned_over(obs.keypoints_2d, UPRIGHT_DEG)
            region = Region.from_keypoints(obs.keypoints_2d, obs.visibility)
            if region is not None:
                self._regions[track_id] = (region, _centre(obs.box()), obs.box(min_visibility=0.0))
        return obs

    def release(self, track_id: int) -> None:
        """The person is gone (or their track follows someone else now): forget their region."""
        self._regions.pop(track_id, None)
        self._was_upright.pop(track_id, None)
        _forget(self._ahead.pop(track_id, None))

    def close(self) -> None:
        self._regions.clear()
        self._was_upright.clear()
        for ahead in self._ahead.values():
            _forget(ahead)
        self._ahead.clear()


@dataclass(frozen=True)
class _GraphPose:
    """A pose from MediaPipe's graph, shaped as the network's output where :meth:`_upright_instead` reads it
    (the graph says nothing of how sure it is: the upright look need only be sure by itself)."""

    keypoints_2d: np.ndarray
    visibility: np.ndarray
    presence: float


def _forget(ahead: tuple | None) -> None:
    """A crop begun a frame early that will not be used: cancelled if the network's threads have not begun it
    (they take jobs in order: a wasted one would delay the frame's own)."""
    if ahead is not None:
        ahead[3].cancel()


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.r_[np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])]


def _tall(obs: BodyObservation) -> float:
    box = obs.box()
    return float(box[3] - box[1])


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], dtype=np.float64)
