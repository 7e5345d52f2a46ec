"""The scene file, version ``nvwa.scene/1``: ``scene.npz`` (arrays) + ``scene.json`` (summary).

NPZ keys (no pickled objects; load with ``np.load(path)``):

- ``joint_names`` (24,) str: SMPL-24 joint names; ``joint_parents`` (24,) int
- ``K`` (3, 3): intrinsics in the stored video's pixels
- ``R_world_from_cam`` (3, 3), ``t_world_from_cam`` (3,): x_world = R x_cam + t (camera OpenCV axes,
  world glTF axes: Y up, floor at Y=0, metres)
- ``floor_normal_cam`` (3,), ``floor_offset`` (): the floor in the camera frame, n . x + d = 0
- ``person_ids`` (P,) int, and per person ``person/<id>/<field>``:
  ``frame_index`` (T,) int, ``timestamp_s`` (T,), ``joints_world`` (T, 24, 3), ``joints_cam`` (T, 24, 3),
  ``root_world`` (T, 3), ``local_rotations`` (T, 24, 4) xyzw quaternions relative to the parent
  joint (the root's relative to the world), ``bone_lengths`` (24,), ``rest_directions`` (24, 3) unit
  (rest offset of joint j = rest_directions[j] * bone_lengths[j]), ``joint_confidence`` (T, 24),
  ``keypoints_2d`` (T, K, 2) stored-video pixels, ``keypoint_confidence`` (T, K),
  ``foot_contact`` (T, 2) bool, left then right foot planted on the floor
- mesh backends only (SAM 3D Body): ``mesh_faces`` (F, 3) int32 and per person ``mesh_vertices``
  (T, V, 3) float16, metres relative to ``root_world``, world axes (vertex = root_world + offset);
  ``mhr_model_params`` (T, 204) and ``shape_params`` (45,) float32, identity (shape + scales) locked
- ``person/<id>/colours`` (3, 3) uint8 sRGB, when sampled: upper clothing, lower clothing, skin

``scene.json`` is written last: its presence means the NPZ beside it is complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nvwa.rig.skeleton import SMPL24_NAMES, SMPL24_PARENTS

SCENE_VERSION = "nvwa.scene/1"


@dataclass(frozen=True)
class PersonMotion:
    """One person over the frames they were seen in (T of them). Shapes as in the module docstring."""

    person_id: int
    keypoint_set: str
    frame_index: np.ndarray = field(repr=False)
    timestamp_s: np.ndarray = field(repr=False)
    joints_world: np.ndarray = field(repr=False)
    joints_cam: np.ndarray = field(repr=False)
    root_world: np.ndarray = field(repr=False)
    local_rotations: np.ndarray = field(repr=False)
    bone_lengths: np.ndarray = field(repr=False)
    rest_directions: np.ndarray = field(repr=False)
    joint_confidence: np.ndarray = field(repr=False)
    keypoints_2d: np.ndarray = field(repr=False)
    keypoint_confidence: np.ndarray = field(repr=False)
    foot_contact: np.ndarray = field(repr=False)
    depth_scale: float = 1.0  # factor the floor applied to the person's camera distance
    mesh_vertices: np.ndarray | None = field(default=None, repr=False)  # mesh backends: (T, V, 3) f16, root-relative
    mhr_model_params: np.ndarray | None = field(default=None, repr=False)  # (T, 204), identity locked
    shape_params: np.ndarray | None = field(default=None, repr=False)  # (45,), the person's one shape
    colours: np.ndarray | None = field(default=None, repr=False)  # (3, 3) uint8 sRGB: upper, lower clothing, skin

    def summary(self) -> dict:
        from nvwa.grounding.scale import stature_from_bones  # (the grounding package pulls in scipy)

        feet = self.joints_world[:, [7, 8, 10, 11], 1].min(axis=1)
        return {
            "id": self.person_id,
            "frames": int(len(self.frame_index)),
            "first_s": float(self.timestamp_s[0]),
            "last_s": float(self.timestamp_s[-1]),
            "height_m": float(_standing_height(self.bone_lengths)),
            "stature_m": round(stature_from_bones(self.bone_lengths), 3),
            **({"colours": {k: "#%02x%02x%02x" % tuple(int(c) for c in v) for k, v in zip(("upper", "lower", "skin"), self.colours)}}
               if self.colours is not None else {}),
            "median_foot_height_m": float(np.median(feet)),
            "depth_scale": float(self.depth_scale),
            "foot_contact_frames": [int(v) for v in np.asarray(self.foot_contact).sum(axis=0)],
        }


# What the NPZ keeps per person (person/<id>/<name>), named here, not derived from annotations: a new
# PersonMotion field is persisted when it is added to one of these (a test checks none is forgotten).
PERSON_ARRAYS = ("frame_index", "timestamp_s", "joints_world", "joints_cam", "root_world", "local_rotations",
                 "bone_lengths", "rest_directions", "joint_confidence", "keypoints_2d", "keypoint_confidence",
                 "foot_contact")
PERSON_OPTIONAL_ARRAYS = ("mesh_vertices", "mhr_model_params", "shape_params",  # mesh backends only
                          "colours")  # when their pixels were sampled
PERSON_SCALARS = ("keypoint_set", "depth_scale")  # 0-d arrays (files before depth_scale: from scene.json)


def _standing_height(lengths: np.ndarray) -> float:
    """Pelvis-to-ankle leg + pelvis-to-head trunk + ~8 cm of heel and skull: a rough stature."""
    leg = lengths[4] + lengths[7]
    trunk = lengths[3] + lengths[6] + lengths[9] + lengths[12] + lengths[15]
    return leg + trunk + 0.08


@dataclass(frozen=True)
class Scene:
    video: dict  # VideoInfo as a dict
    K: np.ndarray = field(repr=False)
    R_world_from_cam: np.ndarray = field(repr=False)
    t_world_from_cam: np.ndarray = field(repr=False)
    floor: dict = field(repr=False)  # normal_cam, offset, inliers, candidates, rms, method
    people: tuple[PersonMotion, ...] = ()
    stats: dict = field(default_factory=dict)  # timings, counts, options
    grounding: dict = field(default_factory=dict)  # the grounded event: camera pose, focal, supports, warnings
    mesh_faces: np.ndarray | None = field(default=None, repr=False)  # (F, 3): mesh backends only
    # what people stand on besides the floor: {"top_y_m", "footprint_xz" [[x, z], ...], "person_ids", "start_s", "end_s"}
    supports: tuple = ()
    camera_motion: str = "static"  # "static", "rotating" (turned only) or "moving" (turned and carried)
    # the video camera per analysed frame (world <- camera); R/t_world_from_cam above are the first frame's
    camera_timestamp_s: np.ndarray | None = field(default=None, repr=False)  # (F,) the frames' times (as people's)
    camera_R_world_from_cam: np.ndarray | None = field(default=None, repr=False)  # (F, 3, 3)
    camera_t_world_from_cam: np.ndarray | None = field(default=None, repr=False)  # (F, 3)
    camera_focal_px: np.ndarray | None = field(default=None, repr=False)  # (F,) a zooming camera's focal; else None
    version: str = SCENE_VERSION

    def summary(self) -> dict:
        return {
            "version": self.version,
            "video": self.video,
            "intrinsics": {"K": self.K.tolist()},
            "camera": {
                "R_world_from_cam": self.R_world_from_cam.tolist(),
                "t_world_from_cam": self.t_world_from_cam.tolist(),
                "height_m": float(self.t_world_from_cam[1]),
                **{k: v for k, v in self.grounding.get("camera", {}).items() if k != "height_m"},
            },
            "grounding": {k: v for k, v in self.grounding.items() if k not in ("camera", "floor")},
            "camera_motion": self.camera_motion,
            "floor": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.floor.items()},
            "skeleton": {"joint_names": list(SMPL24_NAMES), "joint_parents": list(SMPL24_PARENTS)},
            "people": [p.summary() for p in self.people],
            "supports": list(self.supports),
            "stats": self.stats,
            "files": {"arrays": "scene.npz"},
        }


def save_scene(scene: Scene, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``scene.npz`` then ``scene.json`` into ``out_dir``, each atomically (temp file + rename).

    Any older ``scene.json`` is removed first, so a crash midway never leaves an old summary beside
    a new, half-written NPZ.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, npz_path = out / "scene.json", out / "scene.npz"
    json_path.unlink(missing_ok=True)
    arrays: dict[str, np.ndarray] = {
        "version": np.array(scene.version),
        "joint_names": np.array(SMPL24_NAMES),
        "joint_parents": np.array(SMPL24_PARENTS),
        "K": scene.K,
        "R_world_from_cam": scene.R_world_from_cam,
        "t_world_from_cam": scene.t_world_from_cam,
        "floor_normal_cam": np.asarray(scene.floor["normal_cam"]),
        "floor_offset": np.array(scene.floor["offset"]),
        "person_ids": np.array([p.person_id for p in scene.people], dtype=np.int64),
    }
    for p in scene.people:
        for name in PERSON_ARRAYS + PERSON_OPTIONAL_ARRAYS + PERSON_SCALARS:
            if getattr(p, name) is not None:
                arrays[f"person/{p.person_id}/{name}"] = np.asarray(getattr(p, name))
    if scene.mesh_faces is not None:
        arrays["mesh_faces"] = np.asarray(scene.mesh_faces, dtype=np.int32)
    for name in ("camera_timestamp_s", "camera_R_world_from_cam", "camera_t_world_from_cam", "camera_focal_px"):
        if getattr(scene, name) is not None:
            arrays[name] = np.asarray(getattr(scene, name), dtype=np.float64)
    atomic_write(npz_path, lambda f: np.savez_compressed(f, **arrays))
    text = json.dumps(scene.summary(), indent=2) + "\n"
    atomic_write(json_path, lambda f: f.write(text.encode()))
    return npz_path, json_path


def atomic_write(path: Path, write) -> None:
    """Call ``write(binary file)`` on a temp file beside ``path``, then rename it into place: readers
    see the old file or the complete new one, never half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; a result file is as readable as any other
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_scene(out_dir: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """(summary from scene.json, arrays from scene.npz). Raises FileNotFoundError if incomplete."""
    out = Path(out_dir)
    summary = json.loads((out / "scene.json").read_text())
    if summary.get("version") != SCENE_VERSION:
        raise ValueError(f"{out / 'scene.json'}: version {summary.get('version')!r}, expected {SCENE_VERSION!r}")
    with np.load(out / "scene.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return summary, arrays


def read_scene(out_dir: str | os.PathLike) -> Scene:
    """The Scene saved in ``out_dir`` (scene.json + scene.npz), as the pipeline made it.

    Raises FileNotFoundError if the scene is missing or incomplete, ValueError for another version.
    """
    summary, a = load_scene(out_dir)
    people = []
    for pid in a["person_ids"].tolist():
        pre = f"person/{pid}/"
        fields_ = {name: a[pre + name] for name in PERSON_ARRAYS}
        fields_.update({name: a[pre + name] for name in PERSON_OPTIONAL_ARRAYS if pre + name in a})
        extra = next((p for p in summary.get("people", []) if p.get("id") == pid), {})
        depth_scale = float(a[pre + "depth_scale"]) if pre + "depth_scale" in a else float(extra.get("depth_scale", 1.0))
        people.append(PersonMotion(person_id=int(pid), keypoint_set=str(a[pre + "keypoint_set"]),
                                   depth_scale=depth_scale, **fields_))
    camera = {k: v for k, v in summary.get("camera", {}).items() if k not in ("R_world_from_cam", "t_world_from_cam")}
    grounding = {**summary.get("grounding", {}), "camera": camera}
    floor = {**summary.get("floor", {}), "normal_cam": a["floor_normal_cam"], "offset": float(a["floor_offset"])}
    return Scene(video=summary["video"], K=a["K"], R_world_from_cam=a["R_world_from_cam"],
                 t_world_from_cam=a["t_world_from_cam"], floor=floor, people=tuple(people),
                 stats=summary.get("stats", {}), grounding=grounding, mesh_faces=a.get("mesh_faces"),
                 supports=tuple(summary.get("supports", [])), camera_motion=summary.get("camera_motion", "static"),
                 camera_timestamp_s=a.get("camera_timestamp_s"), camera_R_world_from_cam=a.get("camera_R_world_from_cam"),
                 camera_t_world_from_cam=a.get("camera_t_world_from_cam"), camera_focal_px=a.get("camera_focal_px"),
                 version=summary["version"])
