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

from nvwa.camera.background import CameraTrack
from nvwa.errors import InputError
from nvwa.scene.schema import atomic_write

OBSERVATIONS_VERSION = "nvwa.observations/1"
FILENAME = "observations.npz"


@dataclass(frozen=True)
class PersonObservations:
    """One track as the models saw it, frame by frame (T frames, K keypoints of ``keypoint_set``)."""

    person_id: int
    frame_index: np.ndarray  # (T,) int64, decoded-frame index
    timestamp_s: np.ndarray  # (T,) float64, the container's times
    keypoints_2d: np.ndarray  # (T, K, 2) float32, stored-video pixels
    keypoints_3d: np.ndarray  # (T, K, 3) float32, metres, root-relative, camera axes
    visibility: np.ndarray  # (T, K) float32, 0-1
    translation_cam: np.ndarray | None = None  # (T, 3) m: the root as the backend placed it (SAM 3D Body), else None
    vertices: np.ndarray | None = None  # (T, V, 3) float16 m, pelvis-relative, camera axes, identity locked
    shape_params: np.ndarray | None = None  # (S,) the locked identity (mesh backends)
    model_params: np.ndarray | None = None  # (T, M) per-frame model parameters (mesh backends)
    colours: np.ndarray | None = None  # (3, 3) uint8 sRGB: upper clothing, lower clothing, skin (from their pixels)


@dataclass(frozen=True)
class Observations:
    video: dict  # VideoInfo as a dict, the file's name only
    keypoint_set: str  # "blazepose33", "mhr70"
    body_model: str
    tracker: str
    K_observed: np.ndarray  # (3, 3) stored-video pixels: what the models were given (a backend that places people used it)
    intrinsics_source: str  # "default", "focal", "K"
    options: dict  # max_side, stride, max_frames
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
    people = []
    for pid in meta["person_ids"]:
        get = {name: data.get(f"person/{pid}/{name}") for name in _ARRAYS}
        people.append(PersonObservations(person_id=int(pid), **get))
    return Observations(video=meta["video"], keypoint_set=meta["keypoint_set"], body_model=meta["body_model"],
                        tracker=meta["tracker"], K_observed=data["K_observed"], intrinsics_source=meta["intrinsics_source"],
                        options=meta["options"], people=tuple(people), stats=meta["stats"],
                        mesh_faces=data.get("mesh_faces"), scene_lines=data.get("scene_lines"),
                        camera_track=CameraTrack.from_arrays(data))


__all__ = ["OBSERVATIONS_VERSION", "Observations", "PersonObservations", "save_observations", "load_observations"]
