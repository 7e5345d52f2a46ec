"""What the models saw, kept: the output of ``observe`` (decoding, tracking, the body model), from which
``reconstruct`` makes the scene again with other options without running a model.

``observations.npz`` (no pickled objects): ``meta`` (a JSON string: schema version, video, keypoint set,
body model, tracker, the intrinsics the models were given, observe options, stats, nvwa version) and
per person ``person/<id>/<field>`` for the fields of :class:`PersonObservations`; ``mesh_faces`` when a
mesh backend ran; ``scene_lines``, the straight edges seen on a few frames (camera calibration);
``camera_*``, how the background moved per analysed frame (:class:`~nvwa.camera.background.CameraTrack`:
a handheld camera). Written atomically (temp + rename).
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from nvwa.body.keypoints import BLAZEPOSE33_NAMES, MHR70_COUNT
from nvwa.camera.background import CameraTrack
from nvwa.errors import InputError
from nvwa.scene.schema import atomic_write

OBSERVATIONS_VERSION = "nvwa.observations/1"
FILENAME = "observations.npz"
COLOUR_EVERY = 5  # frames between colour samples of one person


@dataclass(frozen=True)
class PersonObservations:
    """One track as the models saw it, frame by frame (T frames, K keypoints of ``keypoint_set``)."""

    person_id: int
    frame_index: np.ndarray  # (T,) int64, decoded-frame index
    timestamp_s: np.ndarray  # (T,) float64, the container's times (a slow motion's: the moment's, x video time_scale)
    keypoints_2d: np.ndarray  # (T, K, 2) float32, stored-video pixels
    keypoints_3d: np.ndarray  # (T, K, 3) float32, metres, root-relative, camera axes
    visibility: np.ndarray  # (T, K) float32, 0-1
    translation_cam: np.ndarray | None = None  # (T, 3) m: the root as the backend placed it (SAM 3D Body), else None
    vertices: np.ndarray | None = None  # (T, V, 3) float16 m, pelvis-relative, camera axes, identity locked
    shape_params: np.ndarray | None = None  # (S,) the locked identity (mesh backends)
    model_params: np.ndarray | None = None  # (T, M) per-frame model parameters (mesh backends)
    colours: np.ndarray | None = None  # (3, 3) uint8 sRGB: upper clothing, lower clothing, skin (from their pixels)
    # the samples those are the medians of: what they were at each sampled frame (a track that went on with
    # someone else changes clothes there); None in observations from before they were kept
    colour_frames: np.ndarray | None = None  # (S,) int64, decoded-frame index of each sample, in order
    colour_samples: np.ndarray | None = None  # (S, 3, 3) float32 sRGB 0-255, as ``colours`` (NaN: a part not seen)


@dataclass(frozen=True)
class Observations:
    video: dict  # VideoInfo as a dict, the file's name only
    keypoint_set: str  # "blazepose33", "mhr70"
    body_model: str
    tracker: str
    K_observed: np.ndarray  # (3, 3) stored-video pixels: what the models were given (a backend that places people used it)
    intrinsics_source: str  # "default", "focal", "K"
    options: dict  # max_side, stride (a steady video's: --max-fps can raise it), variable_rate, max_fps, max_frames
    people: tuple[PersonObservations, ...]
    stats: dict = field(default_factory=dict)  # frames, decoded_frames, skipped_corrupt_frames, tracks, reidentified, seconds
    mesh_faces: np.ndarray | None = None  # (F, 3) int32
    scene_lines: np.ndarray | None = None  # (N, 5) float32: x1, y1, x2, y2 stored-video px, frame index (LSD on a few frames)
    camera_track: CameraTrack | None = None  # how the background moved, per analysed frame (a handheld camera)

    @property
    def backend_places_people(self) -> bool:
        return any(p.translation_cam is not None for p in self.people)


_ARRAYS = [f.name for f in fields(PersonObservations) if f.name != "person_id"]


def save_observations(obs: Observations, out_dir: str | os.PathLike) -> Path:
    """``out_dir``/observations.npz, atomically -> its path."""
    from nvwa import __version__

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"version": OBSERVATIONS_VERSION, "nvwa": __version__, "video": obs.video, "keypoint_set": obs.keypoint_set,
            "body_model": obs.body_model, "tracker": obs.tracker, "intrinsics_source": obs.intrinsics_source,
            "options": obs.options, "stats": obs.stats, "person_ids": [int(p.person_id) for p in obs.people]}
    arrays = {"meta": np.array(json.dumps(meta)), "K_observed": np.asarray(obs.K_observed, dtype=np.float64)}
    if obs.mesh_faces is not None:
        arrays["mesh_faces"] = np.asarray(obs.mesh_faces, dtype=np.int32)
    if obs.scene_lines is not None:
        arrays["scene_lines"] = np.asarray(obs.scene_lines, dtype=np.float32).reshape(-1, 5)
    if obs.camera_track is not None:
        arrays.update(obs.camera_track.arrays())
    for p in obs.people:
        for name in _ARRAYS:
            value = getattr(p, name)
            if value is not None:
                arrays[f"person/{int(p.person_id)}/{name}"] = np.asarray(value)
    path = out / FILENAME
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))
    return path


def load_observations(folder: str | os.PathLike, body_model: str | None = None) -> Observations:
    """The observations saved in ``folder``; an InputError naming the folder and what is wrong when there
    are none, they are of another schema version or unreadable, or come from another body model than
    ``body_model`` (when given)."""
    folder = Path(folder)
    path = folder / FILENAME
    if not path.is_file():
        raise InputError(folder, f"no observations here ({FILENAME}, written by `nvwa process`)")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InputError(path, f"unreadable observations ({type(exc).__name__}); run `nvwa process` again") from None
    if meta.get("version") != OBSERVATIONS_VERSION:
        raise InputError(path, f"observations of schema {meta.get('version')!r}; this nvwa reads {OBSERVATIONS_VERSION!r}: "
                               "run `nvwa process` again")
    if body_model is not None and meta["body_model"] != body_model:
        raise InputError(folder, f"the observations come from body model {meta['body_model']!r}, not {body_model!r}")
    if meta.get("keypoint_set") not in KEYPOINT_COUNT:
        raise InputError(path, f"keypoint set {meta.get('keypoint_set')!r} is not one this nvwa knows ({', '.join(KEYPOINT_COUNT)})")
    K = data.get("K_observed")
    if K is None or K.shape != (3, 3) or not np.issubdtype(K.dtype, np.floating) or not np.isfinite(K).all():
        raise InputError(path, "K_observed is not a 3x3 matrix of finite numbers: the file was changed; run `nvwa process` again")
    camera = CameraTrack.from_arrays(data)
    unfit = None if camera is None else _camera_unfit(camera)
    if unfit:
        raise InputError(path, f"the camera's track {unfit}: the file was changed or cut short; run `nvwa process` again")
    if len(set(meta["person_ids"])) != len(meta["person_ids"]):
        raise InputError(path, "a person is listed twice: the file was changed; run `nvwa process` again")
    people = []
    for pid in meta["person_ids"]:
        get = {name: data.get(f"person/{pid}/{name}") for name in _ARRAYS}
        problem = _inconsistent(get, KEYPOINT_COUNT[meta["keypoint_set"]])
        if problem:
            raise InputError(path, f"person {pid}'s {problem}: the file was changed or cut short; run `nvwa process` again")
        people.append(PersonObservations(person_id=int(pid), **get))
    return Observations(video=meta["video"], keypoint_set=meta["keypoint_set"], body_model=meta["body_model"],
                        tracker=meta["tracker"], K_observed=data["K_observed"], intrinsics_source=meta["intrinsics_source"],
                        options=meta["options"], people=tuple(people), stats=meta["stats"],
                        mesh_faces=data.get("mesh_faces"), scene_lines=data.get("scene_lines"),
                        camera_track=camera)


PER_FRAME = ("frame_index", "timestamp_s", "keypoints_2d", "keypoints_3d", "visibility", "translation_cam", "vertices",
             "model_params")  # a track's arrays of one entry a frame


KEYPOINT_COUNT = {"blazepose33": len(BLAZEPOSE33_NAMES), "mhr70": MHR70_COUNT}  # the keypoint sets' sizes


def _inconsistent(arrays: dict, k: int) -> str | None:
    """What does not fit together in one track's saved arrays, or None: numbers only; frames in order, one
    row a frame, ``k`` keypoints, timestamps finite and rising; the colour samples and their frames both
    or neither, as many of each, in order inside the track's frames."""
    for name, a in arrays.items():
        if a is not None and not (np.issubdtype(a.dtype, np.number) and not np.issubdtype(a.dtype, np.complexfloating)):
            return f"{name} is not numbers ({a.dtype})"
    for name in ("keypoints_2d", "keypoints_3d", "visibility", "translation_cam"):
        if arrays[name] is not None and np.isinf(arrays[name]).any():
            return f"{name} holds infinities"
    frames = arrays["frame_index"]
    if frames is None or frames.ndim != 1 or not np.issubdtype(frames.dtype, np.integer):
        return "frame_index is missing or not a column of frame numbers"
    n = len(frames)
    if n and np.any(np.diff(frames) <= 0):
        return "frames are not in order"
    shapes = {"timestamp_s": (n,), "keypoints_2d": (n, k, 2), "keypoints_3d": (n, k, 3), "visibility": (n, k),
              "translation_cam": (n, 3), "colours": (3, 3)}
    for name, shape in shapes.items():
        if arrays[name] is not None and arrays[name].shape != shape:
            return f"{name} is shaped {arrays[name].shape}, not {shape}"
    for name in ("vertices", "model_params"):
        if arrays[name] is not None and (len(arrays[name]) != n or arrays[name].ndim != {"vertices": 3, "model_params": 2}[name]):
            return f"{name} is shaped {arrays[name].shape} for {n} frames"
    t = arrays["timestamp_s"]
    if t is None or not np.isfinite(t).all() or np.any(np.diff(t) <= 0):
        return "timestamps are missing, not finite or not rising"
    sampled, samples = arrays["colour_frames"], arrays["colour_samples"]
    if (sampled is None) != (samples is None):
        return "colour samples come without their frames" if sampled is None else "colour frames come without their samples"
    if samples is not None:
        if samples.shape[1:] != (3, 3) or sampled.shape != samples.shape[:1] or not np.issubdtype(sampled.dtype, np.integer):
            return f"colour samples {samples.shape} do not fit their frames {sampled.shape}"
        if len(sampled) and (np.any(np.diff(sampled) < 0) or sampled[0] < frames[0] or sampled[-1] > frames[-1]):
            return "colour frames are out of order or outside the track's frames"
    return None


def _camera_unfit(track: CameraTrack) -> str | None:
    """What does not fit together in a saved camera track (a row a frame, frames in order, numbers), or None."""
    n = len(np.atleast_1d(track.frame_index))
    for name, value in vars(track).items():
        if not np.issubdtype(value.dtype, np.number) or value.ndim == 0 or len(value) != n:
            return f"{name} is shaped {value.shape} for {n} frames"
    for name in ("H_first_from_frame", "H_raw_first_from_frame"):
        if getattr(track, name).shape[1:] != (3, 3):
            return f"{name} is shaped {getattr(track, name).shape}, not ({n}, 3, 3)"
        if not np.isfinite(getattr(track, name)).all():  # (a lost frame keeps the last good one: never NaN)
            return f"{name} holds values that are not finite numbers"
    if np.any(np.diff(track.frame_index) <= 0):
        return "frames are not in order"
    return None


BLOCK_ROWS = 128  # the most rows in one block of a growing column


class _Column:
    """One per-frame field of a track as numbers in blocks (each as many rows as the column had, 8 to
    BLOCK_ROWS), not a list of small arrays: a (33, 2) array in a list costs its numbers again in its
    header and pointer, and the observations of a long video grow with it (issue 21)."""

    __slots__ = ("dtype", "blocks", "fill", "rows")

    def __init__(self, dtype, values=None):
        self.dtype, self.blocks, self.fill, self.rows = np.dtype(dtype), [], 0, 0
        if values is not None and len(values):
            self.blocks = [np.asarray(values, dtype=self.dtype)]
            self.fill = self.rows = len(values)

    def __len__(self) -> int:
        return self.rows

    def append(self, row) -> None:
        if not self.blocks or self.fill == len(self.blocks[-1]):
            self.blocks.append(np.empty((min(BLOCK_ROWS, max(8, self.rows)),) + np.shape(row), self.dtype))
            self.fill = 0
        self.blocks[-1][self.fill] = row
        self.fill += 1
        self.rows += 1

    def array(self) -> np.ndarray:
        """All rows, in order (a new array)."""
        if not self.blocks:
            return np.empty(0, self.dtype)
        return np.concatenate([*self.blocks[:-1], self.blocks[-1][: self.fill]])


def _column(dtype):
    return field(default_factory=lambda: _Column(dtype))


@dataclass
class PersonFrames:
    """One track's observations as they stream in: the keypoints in float32 columns (as they are saved),
    the mesh backends' fields one list entry per frame."""

    frame_index: _Column = _column(np.int64)
    timestamp_s: _Column = _column(np.float64)
    keypoints_2d: _Column = _column(np.float32)  # stored-video pixels
    keypoints_3d: _Column = _column(np.float32)  # root-relative metres, camera axes
    visibility: _Column = _column(np.float32)
    translation: list = field(default_factory=list)  # the backend's own root placement (SAM 3D Body)
    vertices: list = field(default_factory=list)  # mesh backends: (V, 3) f16 pelvis-relative, camera axes
    shape_params: list = field(default_factory=list)
    model_params: list = field(default_factory=list)
    colour_samples: list = field(default_factory=list)  # (3, 3) sRGB per sampled frame: upper, lower, skin
    colour_frames: list = field(default_factory=list)  # the frame index of each sample

    def prepend(self, seen: list) -> None:
        """Frames before those added so far ([(frame record, observation)] in order): where the person was
        before the tracker found them (their pixels are gone by now: no colour samples)."""
        earlier = PersonFrames()
        for frame, obs in seen:
            earlier.add(frame, obs)
        for name, values in vars(earlier).items():
            mine = getattr(self, name)
            if name in ("colour_samples", "colour_frames") or not len(values):
                continue
            if isinstance(values, _Column):
                mine = _Column(values.dtype, np.concatenate([values.array(), mine.array()]) if len(mine) else values.array())
            else:
                mine = values + mine
            setattr(self, name, mine)

    def add(self, frame, obs) -> None:
        # their clothing and skin, from their own pixels (a frame record of a frame gone by has none)
        if getattr(frame, "image", None) is not None and len(self.frame_index) % COLOUR_EVERY == 0:
            from nvwa.body.colours import sample_colours

            c = sample_colours(frame.image, obs.keypoints_2d, obs.visibility, obs.keypoint_set)
            if c is not None:
                self.colour_samples.append(c)
                self.colour_frames.append(int(frame.index))
        self.frame_index.append(frame.index)
        self.timestamp_s.append(frame.timestamp_s)
        self.keypoints_2d.append(obs.keypoints_2d / frame.scale)
        self.keypoints_3d.append(obs.keypoints_3d)
        self.visibility.append(obs.visibility)
        if obs.translation is not None:
            self.translation.append(np.asarray(obs.translation, dtype=np.float64))
        if obs.vertices is not None:
            self.vertices.append(np.asarray(obs.vertices, dtype=np.float16))
            self.shape_params.append(obs.params["shape_params"])
            self.model_params.append(obs.params["mhr_model_params"])

    def join(self, later: PersonFrames) -> None:
        """A later track's frames, found to be this person's (a late re-identification), after these:
        where both have a frame (the later one followed back into this one's last), this one's is kept."""
        if not len(later.frame_index):  # nothing to add
            return
        if not len(self.frame_index):  # nothing of this one's yet: the later one's frames are all there is
            vars(self).update(vars(later))
            return
        mine, theirs = self.frame_index.array(), later.frame_index.array()
        keep = ~np.isin(theirs, mine)
        order = np.argsort(np.concatenate([mine, theirs[keep]]), kind="stable")
        for name, values in vars(self).items():
            other = getattr(later, name)
            if isinstance(values, _Column):
                setattr(self, name, _Column(values.dtype, np.concatenate([values.array(), other.array()[keep]])[order]))
            elif name == "colour_frames":
                continue  # with the samples, below
            elif name == "colour_samples":
                both = sorted(zip(self.colour_frames + later.colour_frames, values + other), key=lambda s: s[0])
                self.colour_frames, self.colour_samples = [f for f, _ in both], [c for _, c in both]
            elif not (values or other):
                setattr(self, name, values + other)
            else:
                if len(values) != len(mine) or len(other) != len(theirs):
                    raise ValueError(f"joining tracks: {name} is not one entry a frame on both")
                both = values + [o for o, k in zip(other, keep) if k]
                setattr(self, name, [both[i] for i in order])

    def observations(self, person_id: int) -> PersonObservations:
        from nvwa.body.colours import person_colours

        kw = {}
        if self.translation:
            kw["translation_cam"] = np.stack(self.translation)
        colours = person_colours(self.colour_samples)
        if colours is not None:
            kw["colours"] = colours
            kw["colour_frames"] = np.asarray(self.colour_frames, dtype=np.int64)
            kw["colour_samples"] = np.stack(self.colour_samples).astype(np.float32)
        return PersonObservations(person_id=int(person_id), frame_index=self.frame_index.array(),
                                  timestamp_s=self.timestamp_s.array(), keypoints_2d=self.keypoints_2d.array(),
                                  keypoints_3d=self.keypoints_3d.array(), visibility=self.visibility.array(), **kw)


__all__ = ["OBSERVATIONS_VERSION", "Observations", "PersonFrames", "PersonObservations", "save_observations", "load_observations"]
