"""The pipeline: video -> tracking -> body -> camera -> rig -> smoothing -> grounding -> scene.

``Pipeline.run`` is a generator of :class:`ProgressEvent`: one loop drives a progress bar, a server-sent
event stream or a test alike. Models load once, in ``Pipeline(...)``, and are reused for every video.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from nvwa.backends import BODY_MODELS, TRACKERS, Models, load_body, load_models, load_occlusion, load_tracker  # noqa: F401  (re-exported)
from nvwa.body.keypoints import RIG_TARGETS
from nvwa.camera import Intrinsics, solve_root_translation
from nvwa.errors import InputError
from nvwa.grounding.floor import Floor
from nvwa.grounding.world import PersonFeet, ground_people
from nvwa.rig.fit import RigMotion, fit_rig
from nvwa.rig.skeleton import JOINT, global_rotations
from nvwa.scene import PersonMotion, Scene, save_scene
from nvwa.smoothing import SMOOTHING_PRESETS, constrain_rig, lock_identity, smooth_rig
from nvwa.smoothing.motion_smooth import MotionSmoothConfig, smooth_motion
from nvwa.smoothing.one_euro import OneEuroConfig
from nvwa.smoothing.identity_lock import repair_keypoints
from nvwa.tracking import PeopleTracker, TrackerConfig
from nvwa.tracking.proposals import HogConfig, HogProposer
from nvwa.video import DecodeStats, iter_frames, probe_video


FLOOR_VIEW_SMOOTHING = MotionSmoothConfig(OneEuroConfig(0.5, 0.1), OneEuroConfig(1.0, 0.1), passes=1)


def _timed(items, timer, stage: str):
    """``items`` with the time spent producing each counted as ``stage``."""
    items = iter(items)
    while True:
        with timer(stage):
            item = next(items, None)
        if item is None:
            return
        yield item


@dataclass(frozen=True)
class PipelineConfig:
    max_side: int = 1280  # pixels: longer side frames are downscaled to before any model sees them
    stride: int = 1  # keep every n-th frame
    max_frames: int | None = None  # stop after this many kept frames
    focal_px: float | None = None  # focal length in stored-video pixels; None: the documented default
    K: str | None = None  # "fx,fy,cx,cy" or 9 numbers; overrides focal_px
    smoothing: str = "balanced"  # a key of SMOOTHING_PRESETS
    min_person_s: float = 1.0  # people seen for less time than this are dropped as spurious
    models_dir: str | None = None  # where `nvwa models fetch` put the models; None: $NVWA_MODELS_DIR or the user data dir
    body_model: str = "blazepose"  # or "sam3d_body" (GPU, `nvwa models download`)
    tracking: str = "blazepose"  # or "sam3" (GPU): masklets from SAM 3 feed the body model's boxes and masks
    occlusion: bool = False  # amodal masks for hidden people (Diffusion-VAS, GPU, slow); needs tracking="sam3"
    checkpoints_dir: str | None = None  # the GPU checkpoints; None: $NVWA_CHECKPOINTS_DIR or the user data dir
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    hog: HogConfig = field(default_factory=HogConfig)


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a run. ``stage`` names what happened; ``done``/``total`` count frames where known."""

    stage: str  # "probe", "frame", "stage", "smoothed", "complete"
    message: str = ""
    done: int = 0
    total: int = 0
    data: dict[str, Any] = field(default_factory=dict)


class _Timer:
    """Seconds per stage, each stage's own: time spent in a stage timed inside another (the body model
    called from the tracker) counts for the inner one only, so no stage's time is a difference that
    can come out negative."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self._open: list[list[float]] = []  # [start, seconds of the stages timed inside it]

    @contextmanager
    def __call__(self, stage: str):
        frame = [time.perf_counter(), 0.0]
        self._open.append(frame)
        try:
            yield
        finally:
            self._open.pop()
            elapsed = time.perf_counter() - frame[0]
            self.seconds[stage] += elapsed - frame[1]
            if self._open:
                self._open[-1][1] += elapsed


class _TimedBody:
    """Forwards a body backend's calls, counting their time as the "body" stage."""

    def __init__(self, body, timer: _Timer):
        self._body, self._timer = body, timer

    def track(self, *a, **k):
        with self._timer("body"):
            return self._body.track(*a, **k)

    def probe(self, *a, **k):
        with self._timer("body"):
            return self._body.probe(*a, **k)

    def release(self, track_id):
        self._body.release(track_id)


@dataclass
class _PersonFrames:
    frame_index: list = field(default_factory=list)
    timestamp_s: list = field(default_factory=list)
    keypoints_2d: list = field(default_factory=list)  # stored-video pixels
    keypoints_3d: list = field(default_factory=list)  # root-relative metres, camera axes
    visibility: list = field(default_factory=list)
    root_cam: list = field(default_factory=list)
    vertices: list = field(default_factory=list)  # mesh backends: (V, 3) f16 pelvis-relative, camera axes
    shape_params: list = field(default_factory=list)
    model_params: list = field(default_factory=list)


class Pipeline:
    def __init__(self, config: PipelineConfig = PipelineConfig(), body=None, tracker=None, occlusion=None):
        """Load the models. ``body``, ``tracker`` (a masklet tracker such as SAM3Tracker) and
        ``occlusion`` inject already-loaded ones (shared across pipelines, or stand-ins in tests)."""
        if config.smoothing not in SMOOTHING_PRESETS:
            raise InputError(f"smoothing={config.smoothing!r}", f"unknown preset; choose one of {', '.join(SMOOTHING_PRESETS)}")
        if config.occlusion and config.tracking != "sam3" and occlusion is None:
            raise InputError("occlusion", "needs masks: use it with tracking=sam3")
        self.config = config
        self.body = body if body is not None else load_body(config.models_dir, config.body_model, config.checkpoints_dir)
        self.tracker = tracker if tracker is not None else load_tracker(config.tracking, config.checkpoints_dir)
        self.occlusion = occlusion if occlusion is not None or not config.occlusion else load_occlusion(config.checkpoints_dir)
        if self.tracker is not None and not hasattr(self.body, "estimate_masklets"):
            raise InputError(f"tracking={config.tracking!r}", f"body model {config.body_model!r} cannot take masks; use sam3d_body")
        self.proposer = HogProposer(config.hog)

    def close(self) -> None:
        self.body.close()

    def run(self, video_path: str | Path, out_dir: str | Path | None = None) -> Iterator[ProgressEvent]:
        """Process one video; yields progress, ends with a "complete" event whose data holds the scene."""
        c = self.config
        timer = _Timer()
        wall0 = time.perf_counter()
        with timer("decode"):
            info = probe_video(video_path)
        if c.K:
            K_stored = Intrinsics.from_text(c.K, info.width, info.height)
        elif c.focal_px:
            K_stored = Intrinsics.from_focal(c.focal_px, info.width, info.height)
        else:
            K_stored = Intrinsics.default(info.width, info.height)
        expected = info.frame_count // c.stride if info.frame_count else 0
        if c.max_frames:
            expected = min(expected, c.max_frames) if expected else c.max_frames
        yield ProgressEvent("probe", f"{info.width}x{info.height} {info.codec}, {info.fps:.3g} fps", 0, expected,
                            {"video": _public_video(info)})

        if hasattr(self.body, "begin_video"):
            self.body.begin_video()
        timed_body = _TimedBody(self.body, timer)

        find_people = getattr(self.body, "find_people", None)
        finder = {"passes": 0, "last_hit": -10}

        def propose(image):
            """HOG finds small upright people, the body model's own detector the large ones. The
            latter keys on faces at frame scale and finds nobody in a crowd of small people, so where
            it has found no one for 10 passes it runs only every 4th pass."""
            with timer("detect"):
                boxes, scores = self.proposer(image)
                k = finder["passes"]
                finder["passes"] += 1
                if find_people is not None and (k - finder["last_hit"] < 10 or k % 4 == 0):
                    more, more_scores = find_people(image)
                    if len(more):
                        finder["last_hit"] = k
                    boxes, scores = np.concatenate([more, boxes]), np.concatenate([more_scores + 1.0, scores])
                return boxes, scores

        stats = DecodeStats()
        people: dict[int, _PersonFrames] = defaultdict(_PersonFrames)
        keypoint_set = getattr(self.body, "keypoint_set", "blazepose33")
        frames = _timed(iter_frames(video_path, max_side=c.max_side, stride=c.stride, max_frames=c.max_frames, stats=stats),
                        timer, "decode")
        if self.tracker is None:
            tracker = PeopleTracker(timed_body, propose, c.tracker)
            stream = ((f, tracker.step(f.image, f.timestamp_s)) for f in frames)
        else:
            tracker = None
            stream = self._masklet_people(frames, K_stored, timer)
        K_decoded = None
        try:
            while True:
                with timer("track"):  # its own time: decoding, detection, the body model count apart
                    item = next(stream, None)
                if item is None:
                    break
                frame, tracked = item
                if K_decoded is None:
                    K_decoded = K_stored.scaled(frame.scale)
                with timer("camera"):
                    for person in tracked:
                        obs = person.observation
                        if obs.translation is not None:  # the backend places the person itself (SAM 3D Body)
                            root = np.asarray(obs.translation, dtype=np.float64)
                        else:
                            root, _ = solve_root_translation(obs.keypoints_3d, obs.keypoints_2d, obs.visibility, K_decoded)
                        rec = people[person.track_id]
                        rec.frame_index.append(frame.index)
                        rec.timestamp_s.append(frame.timestamp_s)
                        rec.keypoints_2d.append(obs.keypoints_2d / frame.scale)
                        rec.keypoints_3d.append(obs.keypoints_3d)
                        rec.visibility.append(obs.visibility)
                        rec.root_cam.append(root)
                        if obs.vertices is not None:
                            rec.vertices.append(np.asarray(obs.vertices, dtype=np.float16))
                            rec.shape_params.append(obs.params["shape_params"])
                            rec.model_params.append(obs.params["mhr_model_params"])
                yield ProgressEvent("frame", "", stats.yielded, expected, {"people": len(tracked)})
        finally:
            if tracker is not None:
                tracker.close()
            stream.close()

        # seen for long enough: the frames a person was observed in, times the time one kept frame covers
        frame_s = c.stride / info.fps if info.fps else 1 / 30
        kept = {pid: rec for pid, rec in people.items() if len(rec.timestamp_s) * frame_s >= c.min_person_s}
        yield ProgressEvent("stage", f"{len(kept)} people kept of {len(people)} tracks", data={"tracks": len(people)})

        smoothing_summary: dict[int, dict] = {}
        with timer("rig"):
            fitted = {}
            for pid, rec in kept.items():
                motion, targets, lock_summary = self._fit_person(rec, keypoint_set)
                fitted[pid] = (motion, targets)
                smoothing_summary[pid] = {"identity_lock": lock_summary}
        with timer("smoothing"):  # phases 1-2 in the camera frame
            floor_view = {}
            for pid, (m, targets) in list(fitted.items()):
                ts = np.asarray(kept[pid].timestamp_s)
                # the floor is fitted to a steadier view of the feet than any preset keeps: it is one
                # plane for the whole video, so lag costs nothing there and noise costs a tilt
                floor_view[pid] = smooth_motion(m, ts, targets.confidence, FLOOR_VIEW_SMOOTHING)[0]
                m, _, summary = smooth_rig(m, ts, c.smoothing, targets.confidence)
                fitted[pid] = (m, targets)
                smoothing_summary[pid]["motion"] = summary
        with timer("grounding"):
            grounding = ground_people(
                {pid: self._feet(floor_view[pid], np.asarray(kept[pid].timestamp_s), tg.confidence) for pid, (_, tg) in fitted.items()},
                {pid: self._feet(m, np.asarray(kept[pid].timestamp_s), tg.confidence) for pid, (m, tg) in fitted.items()},
                estimate_focal=K_stored.source == "default")
            floor, R, t = grounding.floor, grounding.R_world_from_cam, grounding.t_world_from_cam
            fitted = {pid: (m.moved(root_position=grounding.roots[pid]), tg, grounding.depth_scale[pid])
                      for pid, (m, tg) in fitted.items()}
            if grounding.focal_estimated:
                K_stored = K_stored.with_focal(K_stored.fx * grounding.focal_scale, "estimated")
        yield ProgressEvent("grounded", f"floor: {floor.method}, camera {grounding.camera.height_m:.2f} m up, "
                            f"pitch {grounding.camera.pitch_deg:.1f} deg" + "".join(f"; {w}" for w in grounding.warnings),
                            data=grounding.event_data())
        with timer("smoothing"):  # phase 3 needs the floor: world frame
            world = {}
            for pid, (m, targets, scale) in fitted.items():
                m, contact, summary = constrain_rig(self._motion_to_world(m, R, t), np.asarray(kept[pid].timestamp_s), c.smoothing)
                world[pid] = (m, contact)
                smoothing_summary[pid]["physical"] = summary
        yield ProgressEvent("smoothed", f"smoothing preset {c.smoothing}", data={"people": smoothing_summary})
        with timer("grounding"):
            persons = self._people(world, fitted, kept, keypoint_set, R, t)
        mesh_faces = None
        if any(kept[p.person_id].vertices for p in persons):
            with timer("mesh"):
                persons = [self._with_mesh(p, kept[p.person_id], R) for p in persons]
                mesh_faces = np.asarray(self.body.faces, dtype=np.int32)
        floor = self._floor_dict(floor)
        wall = time.perf_counter() - wall0
        seconds = {k: round(v, 3) for k, v in timer.seconds.items()}
        frames_done = stats.yielded
        scene_stats = {
            "frames": frames_done,
            "decoded_frames": stats.decoded,
            "skipped_corrupt_frames": stats.skipped_corrupt,
            "tracks": len(people),
            "people": len(persons),
            "reidentified": tracker.reidentified if tracker is not None else 0,
            "seconds": seconds,
            "wall_s": round(wall, 3),
            "fps": round(frames_done / wall, 3) if wall > 0 else 0.0,
            "options": {"max_side": c.max_side, "stride": c.stride, "max_frames": c.max_frames,
                        "smoothing": c.smoothing, "intrinsics": K_stored.source},
        }
        scene = Scene(
            video=_public_video(info), K=K_stored.K, R_world_from_cam=R, t_world_from_cam=t,
            floor=floor, people=tuple(persons), stats=scene_stats, grounding=grounding.event_data(),
            mesh_faces=mesh_faces,
        )
        paths = {}
        if out_dir is not None:
            with timer("write"):
                npz, js = save_scene(scene, out_dir)
            paths = {"npz": str(npz), "json": str(js)}
            scene_stats["seconds"]["write"] = round(timer.seconds["write"], 3)
        message = f"{len(persons)} people" if persons else "no people found: the scene is empty"
        yield ProgressEvent("complete", message, frames_done, frames_done, {"scene": scene, "paths": paths})

    def _masklet_people(self, frames, K_stored: Intrinsics, timer: _Timer):
        """The GPU path's people: masklets from the tracker (through the occlusion stage when on), then
        the body model on every person of a frame at once, with their boxes and masks."""
        from nvwa.tracking import TrackedPerson

        masklets = self.tracker.track(frames)
        if self.occlusion is not None:
            masklets = self.occlusion.apply(masklets)
        for frame, people in masklets:
            with timer("body"):
                obs = self.body.estimate_masklets(frame.image, people, K_stored.scaled(frame.scale).K) if people else []
            yield frame, [TrackedPerson(m.track_id, o) for m, o in zip(people, obs)]

    def _with_mesh(self, p: PersonMotion, rec: _PersonFrames, R: np.ndarray) -> PersonMotion:
        """The backend's meshes for a person: identity (shape + scales) locked to their median, meshed
        again when the backend can, turned into world axes around the person's root."""
        from nvwa.body.sam3d_body import lock_mhr_identity

        verts = np.stack(rec.vertices).astype(np.float32)  # (T, V, 3) pelvis-relative, camera axes
        shape, params, spread = lock_mhr_identity(np.stack(rec.shape_params), np.stack(rec.model_params))
        if hasattr(self.body, "remesh"):
            again = self.body.remesh(shape, params)
            # same topology: keep each frame's placement, take the locked body's shape
            verts = again - again.mean(axis=1, keepdims=True) + verts.mean(axis=1, keepdims=True)
        return replace(p, mesh_vertices=(verts @ R.T).astype(np.float16), mhr_model_params=params,
                       shape_params=shape)

    # -- stages after the stream ------------------------------------------------------------------

    def _fit_person(self, rec: _PersonFrames, keypoint_set: str):
        if keypoint_set not in RIG_TARGETS:
            raise NotImplementedError(f"keypoint set {keypoint_set!r} has no rig mapping")
        kp3d = np.asarray(rec.keypoints_3d)
        vis = np.asarray(rec.visibility)
        root = np.asarray(rec.root_cam)
        targets = RIG_TARGETS[keypoint_set](kp3d, vis).translated(root)
        lengths, lock_summary = lock_identity(targets.joints, targets.confidence)  # phase 1: before all else
        joints, conf, repair = repair_keypoints(targets.joints, targets.confidence, lengths, np.asarray(rec.timestamp_s))
        targets = replace(targets, joints=joints, confidence=conf)
        return fit_rig(targets, lengths), targets, {**lock_summary, **repair}

    @staticmethod
    def _feet(m: RigMotion, t: np.ndarray, confidence: np.ndarray) -> PersonFeet:
        """The rig's own feet (ankles and toes, as the scene will have them): what must meet the floor."""
        feet = [JOINT["left_ankle"], JOINT["left_foot"], JOINT["right_ankle"], JOINT["right_foot"]]
        j = m.joints()
        return PersonFeet(t, m.root_position, j[:, feet] - j[:, :1], confidence[:, feet],
                          j[:, JOINT["neck"]] - j[:, JOINT["pelvis"]])

    @staticmethod
    def _motion_to_world(m: RigMotion, R: np.ndarray, t: np.ndarray) -> RigMotion:
        """A camera-frame rig motion in the world frame: the root moves, the root rotation turns."""
        from scipy.spatial.transform import Rotation

        local = m.local_rotations.copy()
        local[:, 0] = Rotation.from_matrix(R[None] @ global_rotations(m.local_rotations)[:, 0]).as_quat()
        return m.moved(local, m.root_position @ R.T + t)

    @staticmethod
    def _people(world: dict, fitted: dict, kept: dict, keypoint_set: str, R: np.ndarray, t: np.ndarray) -> list[PersonMotion]:
        persons = []
        for pid, (m, contact) in world.items():
            rec = kept[pid]
            _, targets, scale = fitted[pid]
            joints_world = m.joints()
            persons.append(PersonMotion(
                person_id=pid, keypoint_set=keypoint_set,
                frame_index=np.asarray(rec.frame_index, dtype=np.int64),
                timestamp_s=np.asarray(rec.timestamp_s, dtype=np.float64),
                joints_world=joints_world, joints_cam=(joints_world - t) @ R, root_world=m.root_position,
                local_rotations=m.local_rotations, bone_lengths=m.bone_lengths, rest_directions=m.rest_directions,
                joint_confidence=targets.confidence, keypoints_2d=np.asarray(rec.keypoints_2d),
                keypoint_confidence=np.asarray(rec.visibility), foot_contact=contact, depth_scale=scale,
            ))
        persons.sort(key=lambda p: p.person_id)
        return persons

    @staticmethod
    def _floor_dict(floor: Floor) -> dict:
        return {"normal_cam": floor.normal_cam, "offset": floor.offset, "inliers": floor.inliers,
                "candidates": floor.candidates, "rms": floor.rms, "method": floor.method}


def _public_video(info) -> dict:
    """The probe's VideoInfo for events and scene files: the file's name, never the folder it sits in
    (a server's temp path says nothing to the user and a lot to an attacker)."""
    return {**info.__dict__, "path": Path(info.path).name}
