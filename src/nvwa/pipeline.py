"""The pipeline: video -> tracking -> body -> camera -> rig -> smoothing -> grounding -> scene, in two
halves: ``Pipeline.observe`` runs the models over the video (decoding, tracking, the body model) and
returns :class:`~nvwa.observations.Observations`; :func:`nvwa.reconstruct.reconstruct` makes the scene
from them with no model. ``Pipeline.run`` is both, as a generator of :class:`ProgressEvent`: one loop
drives a progress bar, a server-sent event stream or a test alike. Models load once, in
``Pipeline(...)``, and are reused for every video.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from nvwa.backends import BODY_MODELS, TRACKERS, Models, load_body, load_models, load_occlusion, load_tracker  # noqa: F401  (re-exported)
from nvwa.body.keypoints import rotate_to_stand, turned_video_rotation
from nvwa.body.protocols import BatchedBodyBackend, CropBodyBackend
from nvwa.camera import Intrinsics
from nvwa.camera.background import BackgroundMotion, work_gray
from nvwa.config import PipelineConfig  # noqa: F401  (re-exported)
from nvwa.errors import InputError
from nvwa.memory import bound_malloc_arenas, give_back_free_memory
from nvwa.observations import Observations, PersonFrames, PersonObservations, save_observations
from nvwa.reconstruct import FLOOR_VIEW_SMOOTHING, ReconstructConfig, reconstruct_steps  # noqa: F401  (re-exported)
from nvwa.scene import Scene
from nvwa.scene_thread import SceneLines, SceneWorker, ShotCuts, scene_of
from nvwa.tracking.shots import at_or_before, shots_note
from nvwa.smoothing import SMOOTHING_PRESETS
from nvwa.timing import StageTimer, timed
from nvwa.tracking import PeopleTracker
from nvwa.tracking.proposals import HogProposer
from nvwa.tracking.reid import joined_ids
from nvwa.tracking.boxes import share_inside
from nvwa.tracking.scenery import MovingBlobs, SceneryFrames, without_scenery
from nvwa.video import DecodeStats, frame_times, iter_frames, picture_borders, probe_video, read_ahead
from nvwa.video.repeats import analysed_count, repeats_note
from nvwa.video.thinning import frame_rate, kept_count


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a run. ``stage`` names what happened; ``done``/``total`` count frames where known."""

    stage: str  # "probe", "frame", "stage", "smoothed", "complete"
    message: str = ""
    done: int = 0
    total: int = 0
    data: dict[str, Any] = field(default_factory=dict)


class _TimedBody:
    """Forwards a video's body-model calls (a CropBodyVideo), counting their time as the "body" stage."""

    def __init__(self, video, timer: StageTimer):
        self._body, self._timer = video, timer

    def track(self, *a, **k):
        with self._timer("body"):
            return self._body.track(*a, **k)

    def track_many(self, requests, timestamp_s, meanwhile=None, following=None):
        with self._timer("body"):
            if hasattr(self._body, "track_many"):
                return self._body.track_many(requests, timestamp_s, meanwhile=meanwhile, following=following)
            if meanwhile is not None:
                meanwhile()
            return [self._body.track(i, img, box, timestamp_s, margin=m) for i, img, box, m in requests]

    def probe(self, *a, **k):
        with self._timer("body"):
            return self._body.probe(*a, **k)

    def release(self, track_id):
        self._body.release(track_id)

    def __getattr__(self, name):
        """Abilities only some backends have (``follow_back``), timed as the body stage where they exist."""
        if name != "follow_back" or not hasattr(self._body, name):
            raise AttributeError(name)
        call = getattr(self._body, name)

        def timed(*a, **k):
            with self._timer("body"):
                return call(*a, **k)
        return timed


FOLLOW_BACK_RECORDS = 4096  # frames remembered (number, time, scale) for the poses a new person is followed back to
DETECTOR_MIN_PX = 16  # px on the detector's canvas: YOLOX-Nano's smallest people (12 of vtest's 17 under 60 px)
POSE_MIN_PX = 24  # decoded px: the body model holds no smaller person
# frames between hand-backs of the heap's free pages while observing: the threads' crops, frames and graph
# buffers leave holes that RSS keeps counting (vtest x4, `nvwa process`: 518 -> 557 MB over the observing
# without, 510 -> 539 with; a malloc_trim costs a few ms)
TRIM_EVERY_FRAMES = 100


@dataclass(frozen=True)
class _FrameRecord:
    """What a person's observations keep of a frame."""

    index: int
    timestamp_s: float
    scale: float


def _person_proposer(config: PipelineConfig):
    """The CPU path's person proposer: YOLOX-Nano (its file checked) or OpenCV's HOG."""
    if config.models.detector == "hog":
        return HogProposer(config.hog)
    from nvwa.models.store import any_canvas_detector_path, person_detector_path
    from nvwa.tracking.detector import PersonDetector

    pinned = person_detector_path(config.models.models_dir)
    return PersonDetector(any_canvas_detector_path(config.models.models_dir) or pinned, config.detector)


def _with_next(frames, ahead: int = 1):
    """(frame, the next ``ahead`` frames: fewer at the end) for each of ``frames``."""
    it = iter(frames)
    window = deque(itertools.islice(it, ahead + 1))
    while window:
        yield window[0], list(itertools.islice(window, 1, None))
        window.popleft()
        window.extend(itertools.islice(it, 1))


class Pipeline:
    def __init__(self, config: PipelineConfig = PipelineConfig(), body=None, tracker=None, occlusion=None):
        """Load the models. ``body``, ``tracker`` (a masklet tracker such as SAM3Tracker) and
        ``occlusion`` inject already-loaded ones (shared across pipelines, or stand-ins in tests)."""
        bound_malloc_arenas()  # before the models' and the pipeline's threads: see nvwa.memory
        m = config.models
        if config.reconstruct.smoothing not in SMOOTHING_PRESETS:
            raise InputError(f"smoothing={config.reconstruct.smoothing!r}", f"unknown preset; choose one of {', '.join(SMOOTHING_PRESETS)}")
        if m.occlusion and m.tracker != "sam3" and occlusion is None:
            raise InputError("occlusion", "needs masks: use it with tracker=sam3")
        self.config = config
        self.body = body if body is not None else load_body(m.models_dir, m.body_model, m.checkpoints_dir, blazepose=config.blazepose)
        self.tracker = tracker if tracker is not None else load_tracker(m.tracker, m.checkpoints_dir, config.sam3)
        self.occlusion = occlusion if occlusion is not None or not m.occlusion else load_occlusion(m.checkpoints_dir, config.amodal)
        if self.tracker is not None and not isinstance(self.body, BatchedBodyBackend):
            raise InputError(f"tracker={m.tracker!r}", f"body model {m.body_model!r} cannot take masks; use sam3d_body")
        self.proposer = _person_proposer(config)
        self._closed = False

    def close(self) -> None:
        """Release the models (a second call does nothing); the pipeline observes no video after it. The body
        model is closed even where it was handed in; the masklet tracker, the occlusion stage and the person
        detector are let go (one handed in stays loaded for whoever else holds it)."""
        self.body.close()
        self.proposer = self.tracker = self.occlusion = None
        self._closed = True

    def run(self, video_path: str | Path, out_dir: str | Path | None = None, close_models: bool = False) -> Iterator[ProgressEvent]:
        """Process one video: observe it, then reconstruct the scene. Yields progress; the last event,
        "complete", holds the scene and the observations (data["scene"], data["observations"]). With
        ``out_dir``, observations.npz and the scene (scene.npz, then scene.json) are written there.
        ``close_models``: a run of one video (the CLI, the bench) closes the models once the video is
        observed (:meth:`close`, a body model handed in included), so that their memory (on the CPU path
        ~140 MB: the graph, the networks' threads, the detector) goes back before the reconstruction and
        the exports allocate theirs; the pipeline is closed after it."""
        timer = StageTimer()
        wall0 = time.perf_counter()
        obs = None
        for ev in self.observe(video_path, timer):
            if ev.stage == "observed":
                obs = ev.data["observations"]
            else:
                yield ev
        if close_models:
            self.close()
        give_back_free_memory()  # the landmarkers' graphs are closed: their pages go back before reconstruction
        scene = None
        for step in reconstruct_steps(obs, self.config.reconstruct, timer, models_dir=self.config.models.models_dir):
            if step.stage == "scene":
                scene = step.data["scene"]
            else:
                yield ProgressEvent(step.stage, step.message, data=step.data)
        wall = time.perf_counter() - wall0
        frames = scene.stats["frames"]
        scene.stats.update(wall_s=round(wall, 3), fps=round(frames / wall, 3) if wall > 0 else 0.0)
        paths = {}
        if out_dir is not None:
            with timer("write"):
                paths = write_results(scene, obs, out_dir)
            scene.stats["seconds"]["write"] = round(timer.seconds["write"], 3)
        message = f"{len(scene.people)} people" if scene.people else "no people found: the scene is empty"
        yield ProgressEvent("complete", message, frames, frames, {"scene": scene, "observations": obs, "paths": paths})

    def observe(self, video_path: str | Path, timer: StageTimer | None = None) -> Iterator[ProgressEvent]:
        """The models over the video: "probe", one "frame" per kept frame, then "observed" whose
        data["observations"] holds everything reconstruction needs. Meanwhile numpy's BLAS runs on one
        thread (as it was again after): the run's own threads keep the cores busy, and BLAS's would only
        wait for them (Sports2D: 2-4% less CPU, vtest the same; measured in the README, issue 21)."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            yield from self._observe(video_path, timer)

    def _observe(self, video_path: str | Path, timer: StageTimer | None) -> Iterator[ProgressEvent]:
        if self._closed:
            raise RuntimeError("this pipeline's models are closed: make a new Pipeline to observe another video")
        c = self.config.video
        timer = timer or StageTimer()
        wall0 = time.perf_counter()
        with timer("decode"):
            rotate = None if c.rotate == "auto" else int(c.rotate)  # --rotate: the user's turn, not the file's
            info = probe_video(video_path) if rotate is None else probe_video(video_path).turned(rotate)
            info = info.framed(picture_borders(video_path, info, c.start_s, c.end_s)) if c.borders == "auto" else info
            times, tick = frame_times(video_path) if c.max_fps else (np.zeros(0), 0.0)
        K_stored = self._observed_intrinsics(info)
        rate = frame_rate(times, tick)  # steady, or varying (a phone's 60 fps falling to 30 in low light)
        fps = rate.fps or info.fps  # the frames' own usual rate, else the container's average
        # a slow motion's or a time-lapse's capture rate, as --capture-fps or the file says: times become the moment's
        info = (info.filmed_at(c.capture_fps, fps, "--capture-fps") if c.capture_fps
                else info.filmed_at(info.capture_tag, fps, variable=rate.variable))
        moment = info.time_scale  # (1.0 for a video filmed as it plays)
        stride = c.stride_for(fps / moment)  # --max-fps: a steady 60-fps video analysed at 30, a varying one by stretches
        span = (times >= c.start_s) & (times < (np.inf if c.end_s is None else c.end_s))  # --start, --end
        frame_count = int(span.sum()) if len(times) else 0 if c.start_s or c.end_s is not None else info.frame_count
        if len(times):
            expected = kept_count(times[span], fps, c.stride, c.max_fps * moment, rate.variable)
        elif c.start_s or c.end_s is not None:
            expected = 0  # a span of a video whose frames' times are not known before decoding: not counted
        else:
            expected = -(-info.frame_count // stride) if info.frame_count else 0  # frames 0, stride, 2 stride, ...
        if rate.variable:
            analysed = (f", a varying rate ({rate.slowest:.0f} to {rate.fastest:.0f} fps{' as it plays' * (moment != 1.0)}) "
                        f"analysed at up to {c.max_fps:g} fps" + " of the moment" * (moment != 1.0))
        else:
            analysed = f", one frame in {stride} analysed ({fps / moment / stride:.3g} fps)" if stride > 1 else ""
        if c.start_s or c.end_s is not None:
            analysed += f", from {c.start_s:g} s" + (f" to {c.end_s:g} s" if c.end_s is not None else " on")
        if c.max_frames:
            expected = min(expected, c.max_frames) if expected else c.max_frames
        turned = info.how_shown("the file" if rotate is None else "--rotate")  # a phone's upright video, a camcorder's
        yield ProgressEvent("probe", f"{info.width}x{info.height} {info.codec}{turned}, {info.how_fast()}{analysed}", 0, expected,
                            {"video": _public_video(info)})
        stats = DecodeStats()
        people: dict[int, PersonFrames] = defaultdict(PersonFrames)
        lines, background, cuts = SceneLines(), BackgroundMotion(K_stored.K), ShotCuts()
        # the CPU tracker's scenery (the GPU path's masklets are not the body model's guesses)
        scenery = SceneryFrames() if self.tracker is None and self.config.tracking.drop_scenery else None
        # decoded on a thread of its own: "decode" counts only the time the tracker waits for a frame. The frames
        # not analysed ride on the next one for the camera's following (README, handheld step 7) on the CPU
        # path only: SAM 3's window holds 240 frames, and their decoder frames with them (0.75 GB at 1080p)
        frames = timed(read_ahead(iter_frames(video_path, max_side=c.max_side, stride=c.stride, max_fps=c.max_fps,
                                              max_frames=c.max_frames, stats=stats, rate=rate, times=times if len(times) else None,
                                              info=info, start_s=c.start_s, end_s=c.end_s,  # (info: turned, framed)
                                              repeats=c.repeated_frames == "skip",
                                              between=work_gray if self.tracker is None else None)),
                       timer, "decode")
        if self.tracker is None:
            video = self.body.init_state()  # this video's people; nothing of a previous video carries over
            tracker = PeopleTracker(_TimedBody(video, timer), self._proposer(timer), self.config.tracking, frame_step=stride)
            # the frames to the next detector pass at hand: it begins as soon as its thread is free
            stream = ((f, tracker.step(f.image, f.timestamp_s, upcoming=g[0].image if g else None,
                                       upcoming_s=g[0].timestamp_s if g else None,
                                       later=[(h.image, h.timestamp_s) for h in g[1:]]))
                      for f, g in _with_next(frames, self.config.tracking.detect_every))
        else:
            video = tracker = None
            stream = self._masklet_people(frames, K_stored, timer)
        done = 0
        recent: deque = deque(maxlen=FOLLOW_BACK_RECORDS)  # the latest frames' numbers, times and scales (not pixels)
        scene = SceneWorker()  # the frame's lines and background motion, beside the next frame's people
        try:
            while True:
                with timer("track"):  # its own time: decoding, detection, the body model count apart
                    item = next(stream, None)
                if item is None:
                    break
                frame, tracked = item
                with timer("waiting"):  # only when the scene thread is more than two frames behind
                    scene.submit(scene_of, frame, tracked, lines, background, scenery, timer, cuts)
                recent.append(_FrameRecord(frame.index, frame.timestamp_s, frame.scale))
                back = defaultdict(list)  # people found lately, followed back through the frames before they were found
                for frame_no, track_id, observation in getattr(tracker, "followed_back", ()):
                    if done - frame_no < len(recent):
                        back[track_id].append((recent[frame_no - done - 1], observation))
                for track_id, seen in back.items():
                    people[track_id].prepend(sorted(seen, key=lambda s: s[0].index))
                for person in tracked:
                    people[person.track_id].add(frame, person.observation)
                done += 1  # frames through the models (the decoder's own count runs ahead)
                if done % TRIM_EVERY_FRAMES == 0:  # what the threads freed goes back now and then, not at the end only
                    give_back_free_memory()
                if stats.repeated and stats.looked and frame_count and expected:  # repeats not analysed: the share so far
                    expected = analysed_count(done, stats.yielded, stats.looked, frame_count, c.max_frames or 0)
                if done > expected:  # more frames than the count said (a damaged index)
                    expected = 0  # how many are left is not known
                yield ProgressEvent("frame", "", done, expected, {"people": len(tracked)})
            with timer("waiting"):
                scene.finish()
        finally:
            scene.close()
            if tracker is not None:
                tracker.close()
            stream.close()
            frames.close()
            if video is not None:
                video.close()
        for track_id in getattr(tracker, "dropped", ()):  # a piece of someone found whole: theirs are whole poses
            people.pop(track_id, None)
        for later, first in joined_ids(getattr(tracker, "joined", [])).items():
            if later in people:
                people[first].join(people.pop(later))
        persons, mesh_faces = self._persons(people, timer)
        persons, reach = without_scenery(persons, scenery, self._reach(info))
        shots = cuts.finish()
        reach = _noted(reach, *info.notes(), *[shots_note(shots, c.start_s, c.end_s)] * bool(shots),
                       *[repeats_note(stats.repeated, stats.held, stats.looked, stats.pictures_s)] * bool(stats.repeated))
        turn = turned_video_rotation([p.keypoints_2d for p in persons], self.body.keypoint_set)
        if turn is not None:  # nearly everyone lies on their side (or stands on their head) in the picture
            again = rotate_to_stand(turn, info.rotate, info.mirror)
            reach = _noted(reach, f"nearly every person found lies {'upside down' if turn == 180 else 'on their side'} in the "
                           f"picture: if the video is stored turned without saying so, --rotate {again} stands them up")
        obs_stats = {"frames": stats.yielded, "decoded_frames": stats.decoded, "skipped_corrupt_frames": stats.skipped_corrupt,
                     "repeated_frames": stats.repeated,
                     "tracks": len(persons), "reidentified": tracker.reidentified if tracker is not None else 0,
                     "crossings_untangled": tracker.crossings_untangled if tracker is not None else 0,
                     "pieces_made_whole": tracker.pieces_made_whole if tracker is not None else 0,
                     **(video.early_crops() if hasattr(video, "early_crops") else {}),
                     "camera_frames_between": background.between_frames,
                     "cuts_s": [at_or_before(t) for t, _ in shots], "cuts_frame": [int(k) for _, k in shots],
                     "mixed_frames": [[int(a), int(b)] for a, b in cuts.mixed],  # a dissolve's frames showing two shots
                     "seconds": {k: round(v, 3) for k, v in timer.seconds.items()},
                     "observe_s": round(time.perf_counter() - wall0, 3), **reach}
        obs = Observations(video=_public_video(info), keypoint_set=self.body.keypoint_set,
                           body_model=self.config.models.body_model, tracker=self.config.models.tracker, K_observed=K_stored.K,
                           intrinsics_source=K_stored.source,
                           options={"max_side": c.max_side, "stride": stride, "variable_rate": rate.variable, "max_fps": c.max_fps,
                                    "max_frames": c.max_frames, "start_s": c.start_s, "end_s": c.end_s,
                                    "repeated_frames": c.repeated_frames},
                           people=tuple(persons), stats=obs_stats, mesh_faces=mesh_faces, scene_lines=lines.array(),
                           camera_track=background.track())
        yield ProgressEvent("observed", f"{len(persons)} tracks", stats.yielded, expected, {"observations": obs})

    def _persons(self, people: dict, timer: StageTimer) -> tuple[list[PersonObservations], np.ndarray | None]:
        """Each track's observations, with one locked mesh identity where the backend gives meshes; each
        track's streamed frames are let go of once they are in its observations (``people`` ends empty)."""
        persons, meshed = [], False
        for pid in sorted(people):
            rec = people.pop(pid)
            p = rec.observations(pid)
            if rec.vertices:
                with timer("mesh"):
                    p, meshed = self._locked_mesh(p, rec), True
            persons.append(p)
        return persons, (np.asarray(self.body.faces, dtype=np.int32) if meshed else None)

    def _reach(self, info) -> dict:
        """How small a person this run could find (stored-video px), and a note where that leaves people
        out: the detector's canvas and the body model's smallest crop, at the decoded size."""
        if self.tracker is not None or not info.width or not info.height:
            return {}
        c, side = self.config, max(info.width, info.height)
        decoded = min(1.0, c.video.max_side / side)  # decoded px per stored px
        canvas = (c.detector.input_side / (side * decoded)) if c.models.detector == "yolox" else 1.0
        smallest = max(DETECTOR_MIN_PX / canvas, POSE_MIN_PX) / decoded
        notes = []
        if smallest > 0.25 * info.height:
            notes.append(f"frames only {info.height} px high: a person must be about {smallest:.0f} px tall to be found")
        elif smallest >= 30:
            notes.append(f"people shorter than about {smallest:.0f} px of this {info.width}x{info.height} video are too "
                         "small to be looked for (a larger --max-side and --detector.input-side look for smaller ones)")
        return {"smallest_person_px": round(smallest, 1), "notes": notes}

    def _observed_intrinsics(self, info) -> Intrinsics:
        """The K the models are given: --K, --focal, or the default (reconstruction may estimate a better one)."""
        c = self.config.reconstruct
        if c.K:
            return Intrinsics.from_text(c.K, info.width, info.height, info.borders)
        if c.focal_px:
            return Intrinsics.from_focal(c.focal_px, info.width, info.height)
        return Intrinsics.default(info.width, info.height)

    def _proposer(self, timer: StageTimer):
        # BlazePose's whole-frame detector finds the large people HOG misses; YOLOX finds them itself
        find_people = self.body.find_people if isinstance(self.body, CropBodyBackend) and self.config.models.detector == "hog" else None
        finder = {"passes": 0, "last_hit": -10}
        coarse = self.config.detector.coarse_side if self.config.models.detector == "yolox" else None
        moving = MovingBlobs() if self.config.tracking.moving_proposals else None

        def propose(image, full: bool = True):
            """YOLOX finds the people, the smallest only on its full canvas (``full``: the tracker says
            which passes; the others' coarse canvas costs a third as much). HOG finds small upright
            people, the body model's own detector the large ones: the latter keys on faces at frame
            scale and finds nobody in a crowd of small people, so where it has found no one for 10
            passes it runs only every 4th pass."""
            with timer("detect"):
                k = finder["passes"]
                finder["passes"] += 1
                boxes, scores = self.proposer(image) if full or coarse is None else self.proposer(image, coarse)
                if find_people is not None and (k - finder["last_hit"] < 10 or k % 4 == 0):
                    more, more_scores = find_people(image)
                    if len(more):
                        finder["last_hit"] = k
                    boxes, scores = np.concatenate([more, boxes]), np.concatenate([more_scores + 1.0, scores])
                if moving is not None:  # what moves against the scenery where no detector box is
                    blobs, blob_scores = moving(image)
                    # a blob mostly inside a detector's box is (part of) the person in it: someone already proposed
                    new = share_inside(blobs, boxes).max(axis=1, initial=0.0) < 0.5 if len(boxes) else np.ones(len(blobs), bool)
                    boxes, scores = np.concatenate([boxes, blobs[new]]), np.concatenate([scores, blob_scores[new]])
                return boxes, scores
        return propose

    def _masklet_people(self, frames, K_stored: Intrinsics, timer: StageTimer):
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

    def _locked_mesh(self, p: PersonObservations, rec: PersonFrames) -> PersonObservations:
        """The backend's meshes for a person with one identity (shape + scales locked to their median),
        meshed again when the backend can (a model call: it belongs to observing)."""
        from nvwa.body.sam3d_body import lock_mhr_identity

        verts = np.stack(rec.vertices).astype(np.float32)  # (T, V, 3) pelvis-relative, camera axes
        shape, params, _ = lock_mhr_identity(np.stack(rec.shape_params), np.stack(rec.model_params))
        if isinstance(self.body, BatchedBodyBackend):
            again = self.body.remesh(shape, params)
            # same topology: keep each frame's placement, take the locked body's shape
            verts = again - again.mean(axis=1, keepdims=True) + verts.mean(axis=1, keepdims=True)
        return replace(p, vertices=verts.astype(np.float16), model_params=params, shape_params=shape)


def write_results(scene: Scene, obs: Observations | None, out_dir: str | Path, formats=("npz",), export=None,
                  check=None) -> dict:
    """The one writer of a run: observations.npz, the exports, then the scene with scene.json last (its
    presence marks a finished result) -> {"npz", "json", "observations", format: paths}. ``export``: an
    ExportConfig (the bodies drawn; default human)."""
    from nvwa.export import ExportConfig, export_scene

    out = Path(out_dir)
    paths = {}
    if obs is not None:
        paths["observations"] = str(save_observations(obs, out))
    written = export_scene(scene, out, tuple(dict.fromkeys([*formats, "npz"])), export or ExportConfig(), check)
    npz, js = written.pop("npz")
    return {**paths, "npz": str(npz), "json": str(js), **{k: [str(p) for p in v] for k, v in written.items()}}


def _noted(reach: dict, *notes: str) -> dict:  # the run's reach with ``notes`` added to its notes
    return {**reach, "notes": [*reach.get("notes", []), *notes]} if notes else reach


def _public_video(info) -> dict:
    """The probe's VideoInfo for events and scene files: the file's name, never the folder it sits in
    (a server's temp path says nothing to the user and a lot to an attacker)."""
    return {**info.__dict__, "path": Path(info.path).name}
