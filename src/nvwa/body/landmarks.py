"""BlazePose's landmark network run on its own (LiteRT), for the people already being tracked.

MediaPipe's VIDEO-mode landmarker cost ~11.5 ms a person here, its network alone ~8.9 ms: the rest is the
graph around it (image conversion, landmark filters, a detector run whenever it lost its region), and each
person's graph holds ~80 MB. The tracker already knows where everyone is, so a tracked person needs only
the network, on the region their own last pose gives. BlazePose's network returns two alignment points
besides the 33 body landmarks (the hip centre and a point on the circle round the whole body, landmarks
33 and 34); the next frame's region is the square centred on the first, 2.5 times their distance across,
turned so the second is straight above the first (the region MediaPipe's own tracking uses; its
published model card describes the points). A person turned on their side or upside down is given to the
network upright. Several people run at once on interpreters of their own (LiteRT releases the GIL).

The network also draws a 256x256 segmentation mask of the person, which nothing here uses; its decoder is
~9% of the network's arithmetic but ~30% of its time on this machine (17.3 -> 12.0 ms a crop, measured in
one run; MediaPipe's whole graph, 33 -> 28 ms a call), so the bundle is loaded with a constant empty mask in
its place (:func:`task_with_blank_mask`); every other output is bit-identical.
"""

from __future__ import annotations

import copy
import io
import threading
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

INPUT_SIDE = 256  # px: the network's square input
BODY = 33  # body landmarks; the network's 34th and 35th are the alignment points
HIP_CENTRE, CIRCLE_POINT = 33, 34
REGION_SCALE = 1.25  # the region's side is this times the body circle's diameter
HEATMAP_KERNEL = 7  # cells of the 64x64 heatmap round a landmark that refine it ...
HEATMAP_MIN_CONFIDENCE = 0.5  # ... where the heatmap is this sure of it
GREY = 114  # what a crop shows outside the person's own area
LANDMARK_NETWORK = "pose_landmarks_detector.tflite"  # its name inside MediaPipe's pose landmarker bundle


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


@dataclass(frozen=True)
class Region:
    """A square of the frame given to the network: centre (px), side (px), and ``up`` (a unit vector in
    frame px along which the crop's "up" lies; (0, -1) is upright)."""

    centre: np.ndarray
    side: float
    up: np.ndarray

    @classmethod
    def from_box(cls, box: np.ndarray, margin: float) -> "Region":
        """Upright, centred on ``box`` (xyxy px), ``margin`` times its longer side across."""
        box = np.asarray(box, dtype=np.float64)
        side = max(box[2] - box[0], box[3] - box[1], 8.0) * margin
        return cls((box[:2] + box[2:]) / 2, float(side), np.array([0.0, -1.0]))

    @classmethod
    def from_alignment(cls, hip_centre: np.ndarray, circle_point: np.ndarray) -> "Region | None":
        """The region a pose's two alignment points give (frame px); None where they coincide."""
        d = np.asarray(circle_point, dtype=np.float64) - hip_centre
        r = float(np.hypot(*d))
        if not np.isfinite(r) or r < 2.0:
            return None
        return cls(np.asarray(hip_centre, dtype=np.float64), 2.0 * r * REGION_SCALE, d / r)

    @classmethod
    def from_keypoints(cls, keypoints_2d: np.ndarray, visibility: np.ndarray, min_visibility: float = 0.3) -> "Region | None":
        """The region a BlazePose-33 pose gives without its alignment points (a pose from MediaPipe's own
        graph): centred on the hips, turned so the shoulders are above them, reaching the farthest
        landmark seen."""
        kp = np.asarray(keypoints_2d, dtype=np.float64)
        hips, shoulders = kp[[23, 24]].mean(axis=0), kp[[11, 12]].mean(axis=0)
        seen = kp[np.asarray(visibility) >= min_visibility]
        reach = np.hypot(*(seen - hips).T).max(initial=0.0) if len(seen) else 0.0
        r = max(reach, 2.0 * float(np.hypot(*(shoulders - hips))))
        return cls.from_alignment(hips, hips + r * (shoulders - hips) / max(float(np.hypot(*(shoulders - hips))), 1e-9))

    def moved(self, shift: np.ndarray) -> "Region":
        return Region(self.centre + shift, self.side, self.up)

    def crop_to_frame(self) -> np.ndarray:
        """The 2x3 affine taking crop px (0..INPUT_SIDE) to frame px."""
        s = self.side / INPUT_SIDE
        right = np.array([-self.up[1], self.up[0]])  # the crop's +x; its +y is -up
        a = np.column_stack([right * s, -self.up * s])
        return np.column_stack([a, self.centre - a @ np.full(2, INPUT_SIDE / 2)])

    def crop(self, image: np.ndarray, keep_box: np.ndarray | None = None, grow: float = 0.5) -> np.ndarray:
        """The region cut from ``image`` at the network's size (black outside the frame). With
        ``keep_box``, everything outside that box grown by ``grow`` of its width each side (0.1 of its
        height) is grey: a neighbour there must not take the pose."""
        m = self.crop_to_frame()
        crop = cv2.warpAffine(image, m, (INPUT_SIDE, INPUT_SIDE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT)
        if keep_box is None:
            return crop
        gx, gy = grow * (keep_box[2] - keep_box[0]), 0.1 * (keep_box[3] - keep_box[1])
        corners = np.array([[keep_box[0] - gx, keep_box[1] - gy], [keep_box[2] + gx, keep_box[1] - gy],
                            [keep_box[2] + gx, keep_box[3] + gy], [keep_box[0] - gx, keep_box[3] + gy]])
        inverse = cv2.invertAffineTransform(m)
        polygon = corners @ inverse[:, :2].T + inverse[:, 2]
        keep = np.zeros((INPUT_SIDE, INPUT_SIDE), np.uint8)
        cv2.fillConvexPoly(keep, np.round(polygon * 16).astype(np.int32), 1, shift=4)
        out = np.full_like(crop, GREY)
        cv2.copyTo(crop, keep, out)  # in C: a boolean-index assignment cost ~1 ms a crop
        return out


@dataclass(frozen=True)
class Landmarks:
    """One person's network output, in the frame: keypoints_2d (33, 2) px, keypoints_3d (33, 3) metres
    about the hips in the image's axes (x right, y down), visibility (33,), presence (the network's
    "a person is here", 0..1) and the region the next frame should use."""

    keypoints_2d: np.ndarray
    keypoints_3d: np.ndarray
    visibility: np.ndarray
    presence: float
    next_region: Region | None


def _refined(xy: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """Landmarks (L, 2) in crop px moved to the confidence-weighted centre of their heatmap (H, W, L
    logits) in a window round them, where the heatmap is sure enough there (BlazePose's refinement)."""
    h, w, n = heatmap.shape
    cell = (xy / INPUT_SIDE * np.array([w, h])).astype(int)  # truncated, as MediaPipe's refinement does
    inside = (cell[:, 0] >= 0) & (cell[:, 0] < w) & (cell[:, 1] >= 0) & (cell[:, 1] < h)
    off = np.arange(HEATMAP_KERNEL) - (HEATMAP_KERNEL - 1) // 2
    cols, rows = cell[:, :1] + off, cell[:, 1:] + off  # (L, K) each
    valid = ((cols >= 0) & (cols < w))[:, None, :] & ((rows >= 0) & (rows < h))[:, :, None]  # (L, K, K)
    conf = _sigmoid(heatmap[np.clip(rows, 0, h - 1)[:, :, None], np.clip(cols, 0, w - 1)[:, None, :],
                            np.arange(n)[:, None, None]]) * valid
    total = conf.sum(axis=(1, 2))
    sure = inside & (conf.max(axis=(1, 2)) >= HEATMAP_MIN_CONFIDENCE) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    centre = np.column_stack([(conf.sum(1) * cols).sum(1) / safe / w, (conf.sum(2) * rows).sum(1) / safe / h]) * INPUT_SIDE
    return np.where(sure[:, None], centre, xy)


def with_blank_mask(model: bytes) -> bytes:
    """BlazePose's landmark network (a .tflite flatbuffer) with its segmentation mask made a constant empty
    mask, and the operators only the mask needed taken out of the graph; the other outputs are computed
    exactly as before, and the graph keeps its outputs in their order (MediaPipe's own graph splits them by
    position). A network with no such mask, or already blank, is returned as it was. Read and written with
    LiteRT's own schema."""
    from ai_edge_litert import schema_py_generated as schema  # heavy: only when this backend is chosen
    from ai_edge_litert.tools import flatbuffer_utils

    net = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    graph = net.subgraphs[0]
    made_by = {t: i for i, op in enumerate(graph.operators) for t in op.outputs}
    masks = [t for t in graph.outputs if list(graph.tensors[t].shape) == [1, INPUT_SIDE, INPUT_SIDE, 1] and t in made_by
             and graph.tensors[t].type == schema.TensorType.FLOAT32]  # the empty mask below is float32
    if len(net.subgraphs) != 1 or len(masks) != 1:
        return model
    empty = schema.BufferT()
    empty.data = np.zeros(INPUT_SIDE * INPUT_SIDE, np.float32).view(np.uint8)
    net.buffers.append(empty)
    blank = copy.deepcopy(graph.tensors[masks[0]])
    blank.buffer, blank.name = len(net.buffers) - 1, b"blank_mask"
    graph.tensors.append(blank)
    graph.outputs = [len(graph.tensors) - 1 if t == masks[0] else t for t in graph.outputs]
    for signature in net.signatureDefs or []:
        for output in signature.outputs:
            output.tensorIndex = len(graph.tensors) - 1 if output.tensorIndex == masks[0] else output.tensorIndex
    needed, todo = set(), [made_by[t] for t in graph.outputs if t in made_by]
    while todo:
        i = todo.pop()
        if i not in needed:
            needed.add(i)
            todo += [made_by[t] for t in graph.operators[i].inputs if t in made_by]
    graph.operators = [op for i, op in enumerate(graph.operators) if i in needed]  # still in running order
    return bytes(flatbuffer_utils.convert_object_to_bytearray(net))


def task_with_blank_mask(task: bytes) -> bytes:
    """A MediaPipe ``pose_landmarker_*.task`` bundle (a zip of the detector and the landmark network) whose
    network draws no segmentation mask (:func:`with_blank_mask`); the detector is as it was. The same bytes
    for the same bundle (each member keeps its own date, not the time it was written)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(task)) as z, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as bundle:
        for member in z.infolist():
            data = z.read(member)
            bundle.writestr(zipfile.ZipInfo(member.filename, member.date_time),
                            with_blank_mask(data) if member.filename == LANDMARK_NETWORK else data)
    return out.getvalue()


def bundle_without_mask(task_path: str | Path) -> bytes:
    """The bundle at ``task_path`` with its network's mask blanked: the copy ``nvwa models fetch`` wrote
    beside it where that is verified (:func:`nvwa.models.store.blank_mask_task_bytes`), else made now."""
    from nvwa.models.store import blank_mask_task_bytes

    return blank_mask_task_bytes(task_path) or task_with_blank_mask(Path(task_path).read_bytes())


class LandmarkNetwork:
    """BlazePose's landmark network on LiteRT: an interpreter for each worker thread and one for the
    caller's, made here (LiteRT prints a line on fd 2 as it makes one: the caller may silence it once)."""

    def __init__(self, model: bytes, threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter  # heavy: only when this backend is chosen

        self._interpreter = lambda: Interpreter(model_content=model, num_threads=1)
        self._local = threading.local()
        self.threads = max(1, int(threads))
        self._pool = None
        self._lock = threading.Lock()
        self._free = [self._ready(self._interpreter()) for _ in range(self.threads + 1)]

    @classmethod
    def from_task(cls, task: str | Path | bytes, threads: int = 2) -> "LandmarkNetwork":
        """The network inside a MediaPipe ``pose_landmarker_*.task`` bundle (a zip of the detector and it):
        its path, or its bytes already read."""
        with zipfile.ZipFile(io.BytesIO(task) if isinstance(task, bytes) else task) as z:
            return cls(z.read(LANDMARK_NETWORK), threads)

    @staticmethod
    def _ready(it):
        """An interpreter with its tensors, its input's index and its outputs' by shape: landmarks (195,),
        presence (1,), heatmap (64, 64, 39), world (117,)."""
        it.allocate_tensors()
        return it, it.get_input_details()[0]["index"], {tuple(d["shape"][1:]): d["index"] for d in it.get_output_details()}

    def _own(self):
        """This thread's interpreter (never shared: each thread takes one of its own)."""
        mine = getattr(self._local, "interpreter", None)
        if mine is None:
            with self._lock:
                mine = self._free.pop() if self._free else None
            self._local.interpreter = mine = mine or self._ready(self._interpreter())
        return mine

    def run(self, crop: np.ndarray, region: Region) -> Landmarks:
        """One person: ``crop`` (256, 256, 3) uint8 RGB cut from ``region``."""
        it, input_index, out = self._own()
        it.set_tensor(input_index, (crop[None].astype(np.float32) * (1.0 / 255.0)))
        it.invoke()
        raw = it.get_tensor(out[(195,)]).reshape(39, 5).astype(np.float64)
        heatmap = it.get_tensor(out[(64, 64, 39)])[0]
        world = it.get_tensor(out[(117,)]).reshape(39, 3)[:BODY].astype(np.float64)
        presence = float(it.get_tensor(out[(1,)]).reshape(-1)[0])
        xy = _refined(raw[:, :2], heatmap)
        m = region.crop_to_frame()
        frame_xy = xy @ m[:, :2].T + m[:, 2]
        # the network's 3D axes are the crop's: turn x, y back into the frame's
        right = np.array([-region.up[1], region.up[0]])
        world[:, :2] = world[:, :1] * right + world[:, 1:2] * -region.up
        visibility = _sigmoid(raw[:BODY, 3])
        return Landmarks(frame_xy[:BODY], world, visibility, presence,
                         Region.from_alignment(frame_xy[HIP_CENTRE], frame_xy[CIRCLE_POINT]))

    def run_many(self, jobs: list[tuple]) -> list[Landmarks]:
        """Several people [(image, region, keep_box, grow)] at once (see :meth:`Region.crop`), each cut
        and landmarked on one of up to ``threads`` interpreters."""
        return [job.result() for job in [self.start(job) for job in jobs]]

    def start(self, job: tuple) -> Future:
        """One person (image, region, keep_box, grow) begun on the interpreters' threads -> its future
        :class:`Landmarks` (jobs run in the order begun; with one thread, done before this returns)."""
        def one():
            image, region, keep_box, grow = job
            return self.run(region.crop(image, keep_box, grow), region)

        if self.threads < 2:
            done: Future = Future()
            done.set_result(one())
            return done
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="landmarks")
        return self._pool.submit(one)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
