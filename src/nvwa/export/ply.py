"""PLY mesh sequences: ``ply/person_<id>/frame_<frame index, 6 digits>.ply``, one binary PLY per frame
the person was seen in, in world coordinates (metres, Y up, floor Y=0), with normals and the person's
colour per vertex: the backend's own mesh where the scene has one (SAM 3D Body, 18,439 vertices),
else the procedural avatar posed by the motion.

Folders are named by the tracker's person id, never by list position, so a person keeps their folder
whoever else appears or leaves.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from nvwa.export.avatar import build_avatar, person_colour, pose_avatar, rest_joint_positions
from nvwa.rig.skeleton import global_rotations
from nvwa.scene.schema import PersonMotion, Scene

_VERTEX = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4"),
                    ("red", "u1"), ("green", "u1"), ("blue", "u1")])
_FACE = np.dtype([("n", "u1"), ("v", "<i4", (3,))])


def ply_bytes(vertices: np.ndarray, normals: np.ndarray, faces: np.ndarray, rgb: tuple[int, int, int],
              comment: str = "") -> bytes:
    header = ["ply", "format binary_little_endian 1.0"]
    if comment:
        header.append(f"comment {comment}")
    header += [f"element vertex {len(vertices)}", "property float x", "property float y", "property float z",
               "property float nx", "property float ny", "property float nz",
               "property uchar red", "property uchar green", "property uchar blue",
               f"element face {len(faces)}", "property list uchar int vertex_indices", "end_header"]
    v = np.empty(len(vertices), dtype=_VERTEX)
    v["x"], v["y"], v["z"] = vertices.T
    v["nx"], v["ny"], v["nz"] = normals.T
    v["red"], v["green"], v["blue"] = rgb
    f = np.empty(len(faces), dtype=_FACE)
    f["n"] = 3
    f["v"] = faces
    return ("\n".join(header) + "\n").encode() + v.tobytes() + f.tobytes()


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals of a triangle mesh."""
    tri = vertices[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    corner = np.asarray(faces).T.reshape(-1)  # each face's first corners, then the second ones, then the third
    # summed per vertex in that order (as np.add.at over the three corners, which took twice as long), in float64
    n = np.stack([np.bincount(corner, np.tile(fn[:, c], 3), minlength=len(vertices)) for c in range(3)], axis=1)
    return (n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)).astype(vertices.dtype, copy=False)


def skin_vertices(verts: np.ndarray, joints: np.ndarray, weights: np.ndarray, rest: np.ndarray,
                  joints_world: np.ndarray, global_rot: np.ndarray) -> np.ndarray:
    """Linear blend skinning of one frame: rest-pose vertices (V, 3) with 4 joints and weights each,
    the rest joints (24, 3), that frame's joints (24, 3) and global rotations (24, 3, 3) -> (V, 3)."""
    out = np.zeros((len(verts), 3))
    for k in range(joints.shape[1]):
        j = joints[:, k].astype(int)
        out += weights[:, k:k + 1] * (np.einsum("vij,vj->vi", global_rot[j], verts - rest[j]) + joints_world[j])
    return out.astype(np.float32)


def person_meshes(p: PersonMotion, mesh_faces: np.ndarray | None = None, body=None):
    """Yield (frame index, vertices (V, 3), normals (V, 3), faces) per frame: the backend's own mesh
    where the scene has one (SAM 3D Body), else the person's human body (``body``: a HumanBody) or the
    capsule avatar, posed."""
    if p.mesh_vertices is not None and mesh_faces is not None:
        faces = np.asarray(mesh_faces, dtype=np.int32)
        for i, frame in enumerate(np.asarray(p.frame_index)):
            v = np.asarray(p.mesh_vertices[i], dtype=np.float32) + np.asarray(p.root_world[i], dtype=np.float32)
            yield int(frame), v, vertex_normals(v, faces), faces
        return
    rest = rest_joint_positions(p.bone_lengths, p.rest_directions)
    glob = global_rotations(np.asarray(p.local_rotations, dtype=np.float64))
    if body is not None:  # the person's human body, linear blend skinning with its 4 influences
        from nvwa.export.glb import body_skin

        verts, _, faces, joints, weights = body_skin(p, body)
        for i, frame in enumerate(np.asarray(p.frame_index)):
            v = skin_vertices(verts, joints, weights, rest, np.asarray(p.joints_world[i]), glob[i])
            yield int(frame), v, vertex_normals(v, faces), faces
        return
    mesh = build_avatar(p.bone_lengths, p.rest_directions)
    for i, frame in enumerate(np.asarray(p.frame_index)):
        v, n = pose_avatar(mesh, rest, np.asarray(p.joints_world[i]), glob[i])
        yield int(frame), v, n, mesh.faces


def write_ply(scene: Scene, folder: str | os.PathLike, body=None, check=None) -> list[Path]:
    """One folder per person under ``folder``; each folder is built beside the target and renamed into
    place, so an older export is replaced whole or not at all."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for p in scene.people:
        pid = int(p.person_id)
        rgb = tuple(int(round(c ** (1 / 2.2) * 255)) for c in person_colour(pid))
        target = folder / f"person_{pid}"
        tmp = Path(tempfile.mkdtemp(dir=folder, prefix=f".person_{pid}."))
        try:
            for frame, v, n, faces in person_meshes(p, scene.mesh_faces, body):
                if check is not None:  # per frame: a human body's frames take a while (the check looks up at most once a second)
                    check()
                (tmp / f"frame_{frame:06d}.ply").write_bytes(
                    ply_bytes(v, n, faces, rgb, comment=f"nvwa person {pid} frame {frame} metres Y-up"))
            old = None
            if target.exists():
                old = folder / f".old.person_{pid}"
                shutil.rmtree(old, ignore_errors=True)
                os.replace(target, old)
            os.replace(tmp, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        written.append(target)
    return written
