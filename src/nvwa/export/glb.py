"""Animated GLB: the floor, the video's camera, and per person a skinned avatar with its motion.

Layout of the file (glTF 2.0, Y up, metres, floor at Y=0):

- node ``floor``: a grey quad at Y=0 under everyone and the camera;
- nodes ``support_<k>``: what people stood on besides the floor (a box, a stage), a prism up to its top;
- node ``camera``: a perspective camera with the video's vertical field of view and aspect ratio, at
  the camera's world pose (glTF cameras look down their -Z with +Y up; ours is OpenCV's, so the node's
  rotation is R_world_from_cam @ diag(1, -1, -1)); a handheld camera's node is animated, one key per
  analysed frame (its pose at the first frame otherwise);
- per person, node ``person_<id>`` (flat extras, which every reader keeps: ``person_id``, ``colour``
  "#rrggbb", ``first_s``/``last_s``, ``frames``, ``contacts`` as a JSON string) holding the joint
  hierarchy ``person_<id>_<joint>`` (SMPL-24 names; static translation = the locked rest offset,
  rotation identity = the rest pose) under a still joint ``person_<id>_root``, and beside it (glTF wants
  skinned meshes at the root) the skinned mesh node ``person_<id>_body``. Its skin's joints are the 24
  joints and the root joint, which never moves and holds two extra vertices (no face uses them) at the
  corners of the box the person moves in: a player that sizes a skinned mesh's culling volume from the
  first pose it draws (three.js does) then sizes it to the whole motion, from whatever time it starts
  (the root joint is not the person node itself: Blender would then make one armature of everyone);
- one animation ``motion`` with, per person, the pelvis translation and every joint's rotation at the
  video's own timestamps (linear), and the pelvis's scale (step: 0 before the person is first seen and
  after they are last seen, 1 between: the body folds into a point while the bounds stay), so one clip
  replays everyone in sync.

Rotations are stored as normalized 16-bit integers (core glTF 2.0 allows them for rotation outputs):
a 30 fps person-minute is about 0.4 MB. Metadata (source video, fps, software version, units) is in
the scene's ``extras``.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
import pygltflib as g
from scipy.spatial.transform import Rotation

from nvwa import __version__
from nvwa.body.colours import linear_from_srgb, srgb_from_linear
from nvwa.export.avatar import build_avatar, person_colour, rest_joint_positions
from nvwa.rig.skeleton import SMPL24_NAMES, SMPL24_PARENTS
from nvwa.runs import true_runs
from nvwa.scene.schema import Scene, atomic_write
from nvwa.video.speed import moment_fps, time_meaning

FLOAT, USHORT, SHORT, UINT, UBYTE = 5126, 5123, 5122, 5125, 5121
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
FLOOR_MARGIN_M = 1.5
COPY_BLOCK = 1 << 20  # bytes copied at a time from the spooled buffer into the GLB


class _Builder:
    """Collects binary data (each view 4-byte aligned) and the accessors that describe it. The buffer goes
    to an unnamed temporary file as it is made (``spool_dir``: where; the system's temp folder when None)
    and is copied from there into the GLB (:func:`_write_container`): a long video's bodies made a 100-MB
    buffer, which held in memory was the peak of the whole run (vtest x4: +183 MB while the GLB was made).
    Close it (or use it as a context manager) once written. The output's disk holds the buffer twice for a
    moment (the spool and the GLB's own temp file); where the file system cannot keep a file unnamed (Windows,
    NFS), the spool shows as a temp file there until it is closed."""

    def __init__(self, gltf: g.GLTF2, spool_dir: str | os.PathLike | None = None):
        self.gltf = gltf
        self.spool = tempfile.TemporaryFile(dir=spool_dir)
        self.length = 0

    def __enter__(self) -> "_Builder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.spool.close()

    def _append(self, piece) -> None:
        self.length += self.spool.write(piece)

    def align(self) -> None:
        """Zeros up to the next multiple of 4 bytes (where each view starts, and where the buffer ends)."""
        if self.length % 4:
            self._append(bytes(-self.length % 4))

    def copy_to(self, f) -> None:
        """The whole buffer, written to the binary file ``f`` a block at a time."""
        self.spool.flush()
        self.spool.seek(0)
        shutil.copyfileobj(self.spool, f, COPY_BLOCK)

    def accessor(self, data: np.ndarray, component: int, kind: str, *, target: int | None = None,
                 normalized: bool = False, bounds: bool = False) -> int:
        data = np.ascontiguousarray(data)
        self.align()
        offset = self.length
        self._append(data.reshape(-1).view(np.uint8))  # (its bytes as they are: no copy)
        self.gltf.bufferViews.append(g.BufferView(buffer=0, byteOffset=offset, byteLength=data.nbytes, target=target))
        count = data.shape[0]
        acc = g.Accessor(bufferView=len(self.gltf.bufferViews) - 1, componentType=component, count=count, type=kind,
                         normalized=normalized or None)
        if bounds:
            flat = data.reshape(count, -1)
            acc.min = flat.min(axis=0).astype(float).tolist()
            acc.max = flat.max(axis=0).astype(float).tolist()
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1


def quantize_rotations(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions -> normalized int16 (glTF's SHORT: value / 32767, clamped at -1)."""
    return np.round(np.clip(q, -1.0, 1.0) * 32767.0).astype(np.int16)


# which colour each part of the body wears, by the joint that moves it: 0 upper clothing, 1 lower, 2 skin, 3 shoes
_PART_OF_JOINT = np.array([1, 1, 1, 0, 1, 1, 0, 3, 3, 0, 3, 3, 2, 0, 0, 2, 0, 0, 2, 2, 2, 2, 2, 2])
SHOES_SRGB = (45, 45, 50)


def clothing_colours(joint: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Vertex colours (V, 4) normalised bytes, linear RGB as glTF's COLOR_0 wants: each vertex the colour of
    the part its main joint moves (``colours``: (3, 3) sRGB upper, lower, skin; shoes a dark grey)."""
    linear = linear_from_srgb(np.vstack([np.asarray(colours, dtype=np.float64), SHOES_SRGB]) / 255.0)
    rgb = np.round(linear[_PART_OF_JOINT[np.asarray(joint, dtype=int)]] * 255).astype(np.uint8)
    return np.column_stack([rgb, np.full(len(rgb), 255, np.uint8)])


def quantize_weights(w: np.ndarray) -> np.ndarray:
    """Skin weights (V, 4) as normalised bytes whose rows sum to exactly 255 (glTF: a sum of 1): the
    rounding remainder goes to each row's largest weight."""
    q = np.round(np.asarray(w, dtype=np.float64) * 255).astype(np.int64)
    q[np.arange(len(q)), np.argmax(q, axis=1)] += 255 - q.sum(axis=1)
    return q.astype(np.uint8)


def _camera_node(scene: Scene, gltf: g.GLTF2) -> g.Node:
    W, H = int(scene.video.get("width") or 0), int(scene.video.get("height") or 0)
    K = np.asarray(scene.K, dtype=np.float64)
    H = H or int(round(2 * K[1, 2]))
    W = W or int(round(2 * K[0, 2]))
    yfov = float(2 * np.arctan(H / (2 * K[1, 1])))
    zoom = {}  # a zooming camera's zoom at each analysed frame (its focal over the first frame's; glTF cannot animate
    if scene.camera_focal_px is not None and scene.camera_timestamp_s is not None:  # a field of view: the viewer reads it)
        zoom = {"zoom_at": {"times_s": np.round(np.asarray(scene.camera_timestamp_s, np.float64), 6).tolist(),
                            "zoom": np.round(np.asarray(scene.camera_focal_px, np.float64) / K[0, 0], 5).tolist()}}
    gltf.cameras.append(g.Camera(type="perspective", name="video_camera",
                                 perspective=g.Perspective(yfov=yfov, aspectRatio=W / H, znear=0.05, zfar=500.0),
                                 extras={"K": K.tolist(), "image_size": [W, H], **zoom}))
    R = np.asarray(scene.R_world_from_cam) @ np.diag([1.0, -1.0, -1.0])
    return g.Node(name="camera", camera=len(gltf.cameras) - 1,
                  rotation=Rotation.from_matrix(R).as_quat().tolist(),
                  translation=np.asarray(scene.t_world_from_cam, dtype=float).tolist())


def _camera_animation(scene: Scene, node: int, b: _Builder, anim: g.Animation) -> None:
    """A handheld camera's pose at each analysed frame as the camera node's rotation and translation keys."""
    ts = scene.camera_timestamp_s
    if scene.camera_motion == "static" or ts is None or len(ts) < 2:
        return
    keep = np.r_[True, np.diff(ts) > 0]  # glTF key times strictly increase
    R = np.asarray(scene.camera_R_world_from_cam)[keep] @ np.diag([1.0, -1.0, -1.0])
    times = b.accessor(np.asarray(ts)[keep].astype(np.float32), FLOAT, "SCALAR", bounds=True)
    for path, values in (("rotation", Rotation.from_matrix(R).as_quat()),
                         ("translation", np.asarray(scene.camera_t_world_from_cam)[keep])):
        anim.samplers.append(g.AnimationSampler(input=times, output=b.accessor(values.astype(np.float32), FLOAT,
                                                                                 "VEC4" if path == "rotation" else "VEC3")))
        anim.channels.append(g.AnimationChannel(sampler=len(anim.samplers) - 1, target=g.AnimationChannelTarget(node=node, path=path)))


def _floor_node(scene: Scene, gltf: g.GLTF2, b: _Builder) -> g.Node:
    xz = [np.asarray(scene.t_world_from_cam)[[0, 2]][None]]
    xz += [np.asarray(p.root_world)[:, [0, 2]] for p in scene.people if len(p.root_world)]
    pts = np.concatenate(xz)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    lo = (pts.min(0) if len(pts) else np.zeros(2)) - FLOOR_MARGIN_M
    hi = (pts.max(0) if len(pts) else np.zeros(2)) + FLOOR_MARGIN_M
    (x0, z0), (x1, z1) = lo, hi
    verts = np.array([[x0, 0, z0], [x1, 0, z0], [x1, 0, z1], [x0, 0, z1]], dtype=np.float32)
    faces = np.array([[0, 3, 2], [0, 2, 1]], dtype=np.uint16)  # counter-clockwise seen from above (+Y)
    normals = np.tile(np.array([[0, 1, 0]], dtype=np.float32), (4, 1))
    gltf.materials.append(g.Material(name="floor", doubleSided=True, pbrMetallicRoughness=g.PbrMetallicRoughness(
        baseColorFactor=[0.35, 0.36, 0.38, 1.0], metallicFactor=0.0, roughnessFactor=1.0)))
    prim = g.Primitive(attributes=g.Attributes(POSITION=b.accessor(verts, FLOAT, "VEC3", target=ARRAY_BUFFER, bounds=True),
                                               NORMAL=b.accessor(normals, FLOAT, "VEC3", target=ARRAY_BUFFER)),
                       indices=b.accessor(faces.reshape(-1), USHORT, "SCALAR", target=ELEMENT_ARRAY_BUFFER),
                       material=len(gltf.materials) - 1)
    gltf.meshes.append(g.Mesh(name="floor", primitives=[prim]))
    return g.Node(name="floor", mesh=len(gltf.meshes) - 1)


def _add_person(p, gltf: g.GLTF2, b: _Builder, anim: g.Animation, human=None) -> tuple[int, int]:
    """Nodes of one person: 24 joints, the still root joint, the person node, the skinned body node
    -> (person node, body node) (both scene roots)."""
    pid = int(p.person_id)
    lengths = np.asarray(p.bone_lengths, dtype=np.float64)
    dirs = np.asarray(p.rest_directions, dtype=np.float64)
    stand = float(lengths[4] + lengths[7] + 0.08)  # the bind pose stands on the floor
    rest = rest_joint_positions(lengths, dirs, pelvis=(0.0, stand, 0.0))
    first = len(gltf.nodes)
    for j, name in enumerate(SMPL24_NAMES):
        children = [first + c for c, parent in enumerate(SMPL24_PARENTS) if parent == j]
        gltf.nodes.append(g.Node(name=f"person_{pid}_{name}", children=children,
                                 translation=(rest[0] if j == 0 else dirs[j] * lengths[j]).tolist(),
                                 rotation=[0.0, 0.0, 0.0, 1.0]))
    root = len(gltf.nodes)
    gltf.nodes.append(g.Node(name=f"person_{pid}_root", children=[first]))
    mesh = _body_mesh(p, gltf, b, rest, stand, joints=list(range(first, first + 24)) + [root], human=human)
    t = np.asarray(p.timestamp_s, dtype=np.float64)
    person = len(gltf.nodes)
    gltf.nodes.append(g.Node(name=f"person_{pid}", children=[root], extras={
        "person_id": pid, "colour": colour_hex(person_colour(pid)), "frames": int(len(t)), "body": f"person_{pid}_body",
        "first_s": float(t[0]) if len(t) else 0.0, "last_s": float(t[-1]) if len(t) else 0.0,
        "contacts": json.dumps(contact_intervals(t, np.asarray(p.foot_contact, dtype=bool)), separators=(",", ":"))}))
    body = len(gltf.nodes)
    gltf.nodes.append(g.Node(name=f"person_{pid}_body", mesh=mesh, skin=len(gltf.skins) - 1))
    if len(t):
        _animate_person(p, first, b, anim)
    return person, body


def body_skin(p, human=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One person's body in the rig's rest pose (pelvis at the origin): vertices, normals, faces, skin
    joints (V, 4) and weights (V, 4). ``human``: a HumanBody (the person's own MakeHuman body, fitted to
    their bones and stature, 4 influences per vertex); None: the capsule mannequin (one joint each)."""
    lengths, dirs = np.asarray(p.bone_lengths, dtype=np.float64), np.asarray(p.rest_directions, dtype=np.float64)
    if human is not None:
        from nvwa.export.ply import vertex_normals
        from nvwa.grounding.scale import stature_from_bones

        fit = human.fit(lengths, dirs, stature_from_bones(lengths))
        v = fit.vertices.astype(np.float32)
        return v, vertex_normals(v, fit.faces), fit.faces, fit.skin_joints, fit.skin_weights
    avatar = build_avatar(lengths, dirs)
    joints = np.zeros((len(avatar.vertices), 4), dtype=np.uint8)
    joints[:, 0] = avatar.joint
    weights = np.zeros((len(avatar.vertices), 4), dtype=np.float32)
    weights[:, 0] = 1.0
    return avatar.vertices, avatar.normals, avatar.faces, joints, weights


def _body_mesh(p, gltf: g.GLTF2, b: _Builder, rest: np.ndarray, stand: float, joints: list[int], human=None) -> int:
    """The body (human or capsule) skinned to the 24 joints, plus two unused vertices on the root joint at
    the corners of the person's motion box (players size culling from them) -> the mesh index."""
    pid = int(p.person_id)
    body_v, body_n, faces, body_j, body_w = body_skin(p, human)
    lo, hi = motion_bounds(p)
    verts = np.concatenate([body_v + np.array([0.0, stand, 0.0], dtype=np.float32), np.array([lo, hi], dtype=np.float32)])
    normals = np.concatenate([body_n, np.array([[0, 1, 0], [0, 1, 0]], dtype=np.float32)])
    ibm = np.tile(np.eye(4, dtype=np.float32), (25, 1, 1))
    ibm[:24, :3, 3] = -rest  # rest pose: identity rotations, so the bind matrix is a translation
    skin_joints = np.concatenate([body_j, np.array([[24, 0, 0, 0]] * 2, dtype=np.uint8)])  # bounds: the still root joint
    weights = quantize_weights(np.concatenate([body_w, np.array([[1, 0, 0, 0]] * 2, dtype=np.float32)]))
    skin_joints[weights == 0] = 0  # glTF: an influence that weighs nothing names joint 0
    colours = None
    if human is not None and getattr(p, "colours", None) is not None:  # the person's own clothes and skin
        colours = np.concatenate([clothing_colours(body_j[:, 0], p.colours), np.full((2, 4), 255, np.uint8)])
    gltf.skins.append(g.Skin(name=f"person_{pid}_skin", joints=joints, skeleton=joints[-1],
                             inverseBindMatrices=b.accessor(np.transpose(ibm, (0, 2, 1)).reshape(25, 16), FLOAT, "MAT4")))
    gltf.materials.append(g.Material(name=f"person_{pid}", pbrMetallicRoughness=g.PbrMetallicRoughness(
        baseColorFactor=[1.0, 1.0, 1.0, 1.0] if colours is not None else [*person_colour(pid), 1.0],
        metallicFactor=0.0, roughnessFactor=0.8)))
    index_type = USHORT if len(verts) < 65536 else UINT
    prim = g.Primitive(attributes=g.Attributes(
        POSITION=b.accessor(verts, FLOAT, "VEC3", target=ARRAY_BUFFER, bounds=True),
        NORMAL=b.accessor(normals, FLOAT, "VEC3", target=ARRAY_BUFFER),
        JOINTS_0=b.accessor(skin_joints, UBYTE, "VEC4", target=ARRAY_BUFFER),
        WEIGHTS_0=b.accessor(weights, UBYTE, "VEC4", target=ARRAY_BUFFER, normalized=True),
        COLOR_0=None if colours is None else b.accessor(colours, UBYTE, "VEC4", target=ARRAY_BUFFER, normalized=True)),
        indices=b.accessor(np.asarray(faces).reshape(-1).astype(np.uint16 if index_type == USHORT else np.uint32),
                           index_type, "SCALAR", target=ELEMENT_ARRAY_BUFFER),
        material=len(gltf.materials) - 1)
    gltf.meshes.append(g.Mesh(name=f"person_{pid}_body", primitives=[prim]))
    return len(gltf.meshes) - 1


def _animate_person(p, pelvis: int, b: _Builder, anim: g.Animation) -> None:
    """The pelvis path, 24 rotations at the real timestamps, and the pelvis's step scale (0 = absent)."""
    t = np.asarray(p.timestamp_s, dtype=np.float64)
    times = b.accessor(t.astype(np.float32), FLOAT, "SCALAR", bounds=True)

    def channel(node: int, path: str, output: int, interpolation: str = "LINEAR", input_: int = times):
        anim.samplers.append(g.AnimationSampler(input=input_, output=output, interpolation=interpolation))
        anim.channels.append(g.AnimationChannel(sampler=len(anim.samplers) - 1, target=g.AnimationChannelTarget(node=node, path=path)))

    channel(pelvis, "translation", b.accessor(np.asarray(p.root_world, dtype=np.float32), FLOAT, "VEC3"))
    q = np.asarray(p.local_rotations, dtype=np.float64)
    q = q * np.where(q[..., 3:] < 0, -1.0, 1.0)  # one hemisphere per key; glTF slerps the short way anyway
    for j in range(24):
        channel(pelvis + j, "rotation", b.accessor(quantize_rotations(q[:, j]), SHORT, "VEC4", normalized=True))
    # visible only while seen: the pelvis (so the whole body, not the bounds) scaled to 0 until half a frame
    # before the first timestamp and from half a frame after the last (keys are float32: a first key of
    # exactly t[0] may round above it, 1.2 to 1.2000000477, and the person's first frame showed folded)
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0 / 30
    shown = max(float(t[0]) - dt / 2, 0.0)
    keys, scales = [shown, float(t[-1]) + dt / 2], [[1.0] * 3, [0.0] * 3]
    if shown > 0:
        keys, scales = [0.0] + keys, [[0.0] * 3] + scales
    channel(pelvis, "scale", b.accessor(np.asarray(scales, dtype=np.float32), FLOAT, "VEC3"), "STEP",
            b.accessor(np.asarray(keys, dtype=np.float32), FLOAT, "SCALAR", bounds=True))


def motion_bounds(p, margin: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """The box (world, m) the person's body moves in over the whole video: every joint at every frame,
    widened by ``margin`` for what lies beyond the joints (capsule radii, the skull above the head joint)."""
    pts = np.asarray(p.joints_world, dtype=np.float64).reshape(-1, 3)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if not len(pts):
        pts = np.zeros((1, 3))
    return pts.min(0) - margin, pts.max(0) + margin


def colour_hex(colour) -> str:
    """Linear RGB 0-1 -> "#rrggbb" in sRGB (what a colour picker and the viewer show)."""
    return "#" + "".join(f"{int(round(float(v) * 255)):02x}" for v in srgb_from_linear(np.asarray(colour, dtype=np.float64)))


def contact_intervals(t: np.ndarray, contact: np.ndarray) -> dict[str, list[list[float]]]:
    """(T,), (T, 2) left/right planted -> {"left": [[start s, end s], ...], "right": [...]}: the viewer
    marks planted feet from these."""
    out = {}
    for k, side in enumerate(("left", "right")):
        c = contact[:, k] if contact.ndim == 2 and contact.shape[0] == len(t) else np.zeros(len(t), bool)
        out[side] = [[round(float(t[a]), 4), round(float(t[b - 1]), 4)] for a, b in true_runs(c)]
    return out


def _support_nodes(scene: Scene, gltf: g.GLTF2, b: _Builder) -> list[g.Node]:
    """Each support people stood on (a box, a stage) as a solid prism from the floor up to its top, under
    its footprint: a replay shows what they stand on. Flat-shaded: each face its own corners and normal."""
    nodes = []
    for k, sup in enumerate(scene.supports):
        poly = np.asarray(sup.get("footprint_xz", []), dtype=np.float32).reshape(-1, 2)
        top = float(sup.get("top_y_m", 0.0))
        if len(poly) < 3 or not top > 0:
            continue
        n = len(poly)
        ring = lambda y: np.column_stack([poly[:, 0], np.full(n, y), poly[:, 1]])  # noqa: E731
        verts = np.concatenate([ring(top), ring(0.0)]).astype(np.float32)
        faces = [[0, i, i + 1] for i in range(1, n - 1)]  # the top (counter-clockwise from above)
        for i in range(n):  # the sides, facing out
            j = (i + 1) % n
            faces += [[i, n + i, n + j], [i, n + j, j]]
        if not gltf.materials or gltf.materials[-1].name != "support":
            gltf.materials.append(g.Material(name="support", pbrMetallicRoughness=g.PbrMetallicRoughness(
                baseColorFactor=[0.55, 0.5, 0.42, 1.0], metallicFactor=0.0, roughnessFactor=0.9)))
        tri = verts[np.asarray(faces)]  # (F, 3, 3): flat shading, each face its own corners and normal
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
        corners = tri.reshape(-1, 3).astype(np.float32)
        normals = np.repeat(normal, 3, axis=0).astype(np.float32)
        prim = g.Primitive(attributes=g.Attributes(POSITION=b.accessor(corners, FLOAT, "VEC3", target=ARRAY_BUFFER, bounds=True),
                                                   NORMAL=b.accessor(normals, FLOAT, "VEC3", target=ARRAY_BUFFER)),
                           indices=b.accessor(np.arange(len(corners), dtype=np.uint16), USHORT, "SCALAR",
                                              target=ELEMENT_ARRAY_BUFFER),
                           material=len(gltf.materials) - 1)
        gltf.meshes.append(g.Mesh(name=f"support_{k}", primitives=[prim]))
        # extras stay flat (numbers and strings): assimp's FBX export aborts on a list in node metadata
        nodes.append(g.Node(name=f"support_{k}", mesh=len(gltf.meshes) - 1, extras={
            "top_y_m": top, "person_ids": ",".join(str(int(i)) for i in sup.get("person_ids", [])),
            "start_s": float(sup.get("start_s", 0.0)), "end_s": float(sup.get("end_s", 0.0))}))
    return nodes


def _document(scene: Scene, body=None, spool_dir: str | os.PathLike | None = None) -> tuple[g.GLTF2, _Builder]:
    """The scene's glTF document and its binary buffer (spooled in ``spool_dir``; close it once written);
    ``body``: a HumanBody for human bodies, None for capsules."""
    gltf = g.GLTF2(asset=g.Asset(version="2.0", generator=f"nvwa {__version__}"))
    b = _Builder(gltf, spool_dir)
    try:
        _fill(scene, body, gltf, b)
    except BaseException:  # (a full disk while spooling, a bad person): the spool goes with the error
        b.close()
        raise
    return gltf, b


def _fill(scene: Scene, body, gltf: g.GLTF2, b: _Builder) -> None:
    """The document's nodes, meshes and animation, their data spooled in ``b`` (see :func:`_document`)."""
    roots = []
    gltf.nodes.append(_floor_node(scene, gltf, b))
    roots.append(len(gltf.nodes) - 1)
    gltf.nodes.append(_camera_node(scene, gltf))
    roots.append(len(gltf.nodes) - 1)
    for node in _support_nodes(scene, gltf, b):
        gltf.nodes.append(node)
        roots.append(len(gltf.nodes) - 1)
    anim = g.Animation(name="motion", channels=[], samplers=[])
    _camera_animation(scene, roots[1], b, anim)
    for p in scene.people:
        roots.extend(_add_person(p, gltf, b, anim, None if p.mesh_vertices is not None else body))
    if anim.channels:
        gltf.animations.append(anim)
    gltf.scenes.append(g.Scene(name="nvwa", nodes=roots, extras={
        "generator": "nvwa", "version": __version__, "scene_format": scene.version,
        "source_video": os.path.basename(str(scene.video.get("path", ""))), "fps": moment_fps(scene.video),
        "units": "metres", "axes": "Y up, floor at Y=0, gravity -Y", **time_meaning(scene.video),
        "person_ids": [int(p.person_id) for p in scene.people],
    }))
    gltf.scene = 0
    b.align()
    gltf.buffers.append(g.Buffer(byteLength=b.length))


def _write_container(f, gltf: g.GLTF2, b: _Builder) -> None:
    """The GLB container (glTF 2.0 binary: a 12-byte header, the JSON chunk padded with spaces to 4 bytes,
    the BIN chunk) written to the binary file ``f``, the buffer copied from its spool: the same bytes
    pygltflib's ``save_to_bytes`` gives, without holding the buffer (it would, and then copy it)."""
    doc = gltf.gltf_to_json(separators=(",", ":"), indent=None).encode("utf-8")
    doc += b" " * (-len(doc) % 4)
    f.write(b"glTF" + struct.pack("<III", 2, 12 + 8 + len(doc) + 8 + b.length, len(doc)) + b"JSON")
    f.write(doc)
    f.write(struct.pack("<I", b.length) + b"BIN\x00")
    b.copy_to(f)


def write_glb(scene: Scene, path: str | os.PathLike, body=None) -> Path:
    """Write the scene to ``path`` atomically (a temp file renamed into place); ``body``: a HumanBody for
    human bodies, None for capsules."""
    path = Path(path)
    gltf, b = _document(scene, body, spool_dir=path.parent)  # (the buffer spooled on the output's own disk)
    with b:
        atomic_write(path, lambda f: _write_container(f, gltf, b))
    return path
