"""Exports: GLB (Khronos validator, independent reader + forward kinematics), BVH (the `bvh` parser +
our own FK), PLY (trimesh), the format registry, CLI and bad input."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, synthetic_person, synthetic_scene
from scipy.spatial.transform import Rotation

from nvwa.errors import InputError
from nvwa.export import export_scene, parse_formats
from nvwa.rig.skeleton import SMPL24_NAMES, SMPL24_PARENTS

VALIDATOR = REPO / "tools" / "gltf" / "validate.mjs"


# -- an independent GLB reader (struct + json, no pygltflib) ----------------------------------------

_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


class Glb:
    def __init__(self, path: Path):
        data = Path(path).read_bytes()
        magic, version, length = struct.unpack_from("<4sII", data, 0)
        assert magic == b"glTF" and version == 2 and length == len(data)
        n, kind = struct.unpack_from("<I4s", data, 12)
        assert kind == b"JSON"
        self.json = json.loads(data[20:20 + n])
        m, kind = struct.unpack_from("<I4s", data, 20 + n)
        assert kind == b"BIN\x00"
        self.bin = data[28 + n:28 + n + m]
        self.nodes = self.json["nodes"]
        self.by_name = {node.get("name"): i for i, node in enumerate(self.nodes)}

    def accessor(self, i: int) -> np.ndarray:
        a = self.json["accessors"][i]
        view = self.json["bufferViews"][a["bufferView"]]
        dtype = _COMPONENTS[a["componentType"]]
        w = _WIDTH[a["type"]]
        start = view.get("byteOffset", 0) + a.get("byteOffset", 0)
        x = np.frombuffer(self.bin, dtype=dtype, count=a["count"] * w, offset=start).reshape(a["count"], w)
        if a.get("normalized"):
            x = np.maximum(x / float(np.iinfo(dtype).max), -1.0)
        return x.astype(np.float64)

    def sample(self, time: float) -> dict[int, dict[str, np.ndarray]]:
        """Node -> {path: value} of the animation at a key time (exact key: no interpolation needed)."""
        out: dict[int, dict[str, np.ndarray]] = {}
        for anim in self.json.get("animations", []):
            for ch in anim["channels"]:
                s = anim["samplers"][ch["sampler"]]
                t = self.accessor(s["input"])[:, 0]
                v = self.accessor(s["output"])
                k = np.searchsorted(t, time + 1e-6, side="right") - 1  # step/at-key value
                out.setdefault(ch["target"]["node"], {})[ch["target"]["path"]] = v[max(k, 0)]
        return out

    def world_positions(self, time: float) -> dict[str, np.ndarray]:
        """Every node's world position at ``time``, composing T R S down the hierarchy."""
        anim = self.sample(time)
        parent = {c: i for i, node in enumerate(self.nodes) for c in node.get("children", [])}
        cache: dict[int, np.ndarray] = {}

        def world(i: int) -> np.ndarray:
            if i in cache:
                return cache[i]
            node, a = self.nodes[i], anim.get(i, {})
            M = np.eye(4)
            M[:3, :3] = Rotation.from_quat(a.get("rotation", node.get("rotation", [0, 0, 0, 1]))).as_matrix()
            M[:3, :3] *= np.asarray(a.get("scale", node.get("scale", [1, 1, 1])))[None, :]
            M[:3, 3] = a.get("translation", node.get("translation", [0, 0, 0]))
            cache[i] = (world(parent[i]) @ M) if i in parent else M
            return cache[i]

        return {node.get("name"): world(i)[:3, 3] for i, node in enumerate(self.nodes)}


def validate(*paths: Path) -> list[dict]:
    if shutil.which("node") is None or not (REPO / "tools" / "gltf" / "node_modules" / "gltf-validator").exists():
        pytest.skip("the Khronos glTF validator needs Node.js and `npm ci --prefix tools/gltf` (make test does it)")
    run = subprocess.run(["node", str(VALIDATOR), *map(str, paths)], capture_output=True, text=True, timeout=120)
    reports = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert len(reports) == len(paths), run.stderr
    return reports


# -- a real clip through the pipeline, exported in every format ------------------------------------

@pytest.fixture(scope="module")
def real_export(sports_export):
    return sports_export


def test_real_clip_glb_passes_the_khronos_validator(real_export):
    _, out = real_export
    (report,) = validate(out / "scene.glb")
    assert report["errors"] == 0, report["messages"]
    assert report["warnings"] == 0, report["messages"]


def test_glb_forward_kinematics_match_the_scene_within_1mm(real_export):
    scene, out = real_export
    glb = Glb(out / "scene.glb")
    for p in scene.people:
        assert f"person_{p.person_id}" in glb.by_name and f"person_{p.person_id}_body" in glb.by_name
        for i in np.linspace(0, len(p.timestamp_s) - 1, 5).astype(int):
            pos = glb.world_positions(float(p.timestamp_s[i]))
            got = np.array([pos[f"person_{p.person_id}_{n}"] for n in SMPL24_NAMES])
            err = np.linalg.norm(got - p.joints_world[i], axis=1).max()
            assert err < 1e-3, (p.person_id, i, err)


def test_glb_camera_floor_metadata_and_skin(real_export):
    scene, out = real_export
    glb = Glb(out / "scene.glb")
    cam = glb.nodes[glb.by_name["camera"]]
    persp = glb.json["cameras"][cam["camera"]]["perspective"]
    K = scene.K
    assert persp["yfov"] == pytest.approx(2 * np.arctan(scene.video["height"] / (2 * K[1, 1])), rel=1e-6)
    assert persp["aspectRatio"] == pytest.approx(scene.video["width"] / scene.video["height"])
    assert np.allclose(cam["translation"], scene.t_world_from_cam, atol=1e-6)
    # the node looks down its -Z: that is the OpenCV camera's +Z in the world
    look = Rotation.from_quat(cam["rotation"]).apply([0, 0, -1])
    assert np.allclose(look, scene.R_world_from_cam[:, 2], atol=1e-6)
    floor = glb.accessor(glb.json["meshes"][glb.nodes[glb.by_name["floor"]]["mesh"]]["primitives"][0]["attributes"]["POSITION"])
    assert np.all(floor[:, 1] == 0)
    extras = glb.json["scenes"][0]["extras"]
    assert extras["units"] == "metres" and extras["source_video"] == "sports2d_3s.mp4" and extras["fps"] > 0
    assert extras["person_ids"] == [p.person_id for p in scene.people]
    # skin: 24 joints in SMPL order, then the (still) root joint; inverse bind matrices undo the rest
    # pose (static node transforms); every joint weighs some vertex (assimp keeps only those as bones)
    for p in scene.people:
        body = glb.nodes[glb.by_name[f"person_{p.person_id}_body"]]
        skin = glb.json["skins"][body["skin"]]
        names = [glb.nodes[j]["name"] for j in skin["joints"]]
        assert names == [f"person_{p.person_id}_{n}" for n in SMPL24_NAMES] + [f"person_{p.person_id}_root"]
        assert glb.nodes[skin["skeleton"]]["name"] == f"person_{p.person_id}_root"
        ibm = glb.accessor(skin["inverseBindMatrices"]).reshape(25, 4, 4).transpose(0, 2, 1)
        rest = {}
        for j, parent in enumerate(SMPL24_PARENTS):
            M = np.eye(4)
            M[:3, 3] = glb.nodes[skin["joints"][j]]["translation"]
            rest[j] = M if parent < 0 else rest[parent] @ M
        assert all(np.allclose(ibm[j] @ rest[j], np.eye(4), atol=1e-5) for j in range(24))
        assert np.allclose(ibm[24], np.eye(4))
        attrs = glb.json["meshes"][body["mesh"]]["primitives"][0]["attributes"]
        joint_of = glb.accessor(attrs["JOINTS_0"])[:, 0]
        assert set(joint_of.tolist()) == set(range(25))
        # the root joint's two vertices span the box the person moves in, whatever time a player starts at
        corners = glb.accessor(attrs["POSITION"])[joint_of == 24]
        assert len(corners) == 2
        joints = np.asarray(p.joints_world).reshape(-1, 3)
        assert np.all(joints >= corners.min(0)) and np.all(joints <= corners.max(0))


def test_a_variable_rate_videos_bvh_is_timed_by_its_analysed_frames(real_export):
    """A phone's clip at 60 / 30 / 60 fps averages 49.9 fps, no rate a player or Blender knows: its BVH takes
    the analysed frames' median step (1/30 s at --max-fps 30); a steady video's keeps the video's rate."""
    from dataclasses import replace

    from nvwa.export.bvh import frame_time

    scene, _ = real_export
    assert frame_time(scene) == pytest.approx(1 / scene.video["fps"])
    varying = replace(scene, stats={**scene.stats, "options": {**scene.stats.get("options", {}), "variable_rate": True}},
                      video={**scene.video, "fps": 49.9})
    steps = np.concatenate([np.diff(p.timestamp_s) for p in scene.people])
    assert frame_time(varying) == pytest.approx(float(np.median(steps[steps > 0])))


def test_bvh_parsed_by_an_independent_reader_matches_the_scene_within_1mm(real_export):
    bvh = pytest.importorskip("bvh", reason="the `bvh` parser is a dev dependency")
    scene, out = real_export
    p = scene.people[0]
    mocap = bvh.Bvh((out / "bvh" / f"person_{p.person_id}.bvh").read_text())
    assert mocap.frame_time == pytest.approx(1 / scene.video["fps"], rel=1e-6)
    names = mocap.get_joints_names()
    assert names[0] == "pelvis" and sorted(names) == sorted(SMPL24_NAMES)
    t = p.timestamp_s
    assert mocap.nframes == int(np.floor((t[-1] - t[0]) * scene.video["fps"] + 1e-6)) + 1
    for i in np.linspace(0, len(t) - 1, 5).astype(int):
        frame = int(round((t[i] - t[0]) * scene.video["fps"]))
        world = {}
        for name in names:  # parents come first in file order
            ch = mocap.joint_channels(name)
            vals = mocap.frame_joint_channels(frame, name, ch)
            M = np.eye(4)
            M[:3, 3] = np.asarray(mocap.joint_offset(name), float)
            R = np.eye(3)
            for c, v in zip(ch, vals):
                if c.endswith("rotation"):
                    R = R @ Rotation.from_euler(c[0].lower(), v, degrees=True).as_matrix()
                else:
                    M["XYZ".index(c[0]), 3] += v
            M[:3, :3] = R
            parent = mocap.joint_parent(name)
            world[name] = world[parent.name] @ M if parent is not None else M
        got = np.array([world[n][:3, 3] for n in SMPL24_NAMES]) / 100.0
        err = np.linalg.norm(got - p.joints_world[i], axis=1).max()
        assert err < 1e-3, (i, err)
    everyone = bvh.Bvh((out / "bvh" / "everyone.bvh").read_text())
    assert len(everyone.get_joints_names()) == 1 + 24 * len(scene.people)
    # when each file's frame 0 is (BVH cannot say it): timing.json beside them
    timing = json.loads((out / "bvh" / "timing.json").read_text())
    dt = timing["frame_time_s"]
    assert dt == pytest.approx(1 / scene.video["fps"])
    for q in scene.people:
        entry = timing["files"][f"person_{q.person_id}.bvh"]
        assert entry["start_s"] == pytest.approx(float(q.timestamp_s[0]), abs=1e-6)
        assert entry["frames"] == bvh.Bvh((out / "bvh" / f"person_{q.person_id}.bvh").read_text()).nframes
    start = timing["files"]["everyone.bvh"]["start_s"]
    assert start == pytest.approx(min(float(q.timestamp_s[0]) for q in scene.people), abs=1e-6)
    # in everyone.bvh an absent person is out of the scene (100 m under the floor), a present one on it
    late = max(scene.people, key=lambda q: float(q.timestamp_s[0]))
    assert float(late.timestamp_s[0]) > start + 0.2, "the clip has someone who comes later"
    y = np.array(everyone.frames_joint_channels(f"p{late.person_id}_pelvis", ["Yposition"]), dtype=float)[:, 0] / 100
    frame_t = start + np.arange(len(y)) * dt
    assert np.all(y[frame_t < float(late.timestamp_s[0]) - dt] == -100.0)
    assert np.all(np.abs(y[(frame_t > float(late.timestamp_s[0]) + dt) & (frame_t < float(late.timestamp_s[-1]) - dt)]) < 3)


def test_ply_folders_are_named_by_person_id_and_read_back(real_export):
    trimesh = pytest.importorskip("trimesh", reason="trimesh reads the PLY files back (dev dependency)")
    scene, out = real_export
    assert sorted(d.name for d in (out / "ply").iterdir()) == sorted(f"person_{p.person_id}" for p in scene.people)
    p = scene.people[0]
    files = sorted((out / "ply" / f"person_{p.person_id}").glob("*.ply"))
    assert [f.name for f in files] == [f"frame_{i:06d}.ply" for i in p.frame_index]
    mesh = trimesh.load(files[len(files) // 2], process=False)
    i = len(files) // 2
    assert len(mesh.faces) > 500
    # the posed avatar surrounds its skeleton: every joint lies within 15 cm of some vertex
    d = np.linalg.norm(mesh.vertices[None] - p.joints_world[i][:, None], axis=-1).min(axis=1)
    assert d.max() < 0.15
    assert mesh.bounds[0][1] > -0.05  # nothing far under the floor


# -- synthetic scenes: sizes, edge cases, atomic replacement ---------------------------------------

def test_person_minute_at_30fps_is_under_1mb_and_valid(tmp_path):
    """A minute of one person: the animation under 1 MB (capsule body), the human body's mesh under 1.5 MB,
    its low-poly one under 0.3 MB."""
    from nvwa.export import ExportConfig

    scene = synthetic_scene([synthetic_person(3, 1800)])
    export_scene(scene, tmp_path / "capsule", ["glb"], ExportConfig(body="capsule"))
    size = (tmp_path / "capsule" / "scene.glb").stat().st_size
    assert size <= 1_000_000, size
    export_scene(scene, tmp_path, ["glb"])
    assert (tmp_path / "scene.glb").stat().st_size - size <= 1_500_000
    (report,) = validate(tmp_path / "scene.glb")
    assert report["errors"] == 0 and report["warnings"] == 0, report["messages"]
    export_scene(scene, tmp_path / "low", ["glb"], ExportConfig(body="human-lowpoly"))
    assert (tmp_path / "low" / "scene.glb").stat().st_size - size <= 300_000
    (report,) = validate(tmp_path / "low" / "scene.glb")
    assert report["errors"] == 0 and report["warnings"] == 0, report["messages"]
    low = Glb(tmp_path / "low" / "scene.glb")
    mesh = low.json["meshes"][low.nodes[low.by_name["person_3_body"]]["mesh"]]
    assert 1_000 <= low.json["accessors"][mesh["primitives"][0]["attributes"]["POSITION"]]["count"] <= 2_500
    # quantized rotations still reproduce the joints within 1 mm
    glb = Glb(tmp_path / "scene.glb")
    p = scene.people[0]
    for i in (0, 777, 1799):
        pos = glb.world_positions(float(p.timestamp_s[i]))
        got = np.array([pos[f"person_3_{n}"] for n in SMPL24_NAMES])
        assert np.linalg.norm(got - p.joints_world[i], axis=1).max() < 1e-3


def test_people_are_hidden_outside_their_time(tmp_path):
    scene = synthetic_scene([synthetic_person(1, 30), synthetic_person(2, 30, t0=2.0)])
    export_scene(scene, tmp_path, ["glb"])
    glb = Glb(tmp_path / "scene.glb")
    scale = lambda t, pid: glb.sample(t)[glb.by_name[f"person_{pid}_pelvis"]]["scale"]  # noqa: E731
    assert np.all(scale(0.5, 1) == 1) and np.all(scale(0.5, 2) == 0)
    assert np.all(scale(2.5, 1) == 0) and np.all(scale(2.5, 2) == 1)


def test_empty_scene_exports_floor_and_camera_only(tmp_path):
    scene = synthetic_scene([])
    written = export_scene(scene, tmp_path, ["glb", "bvh", "ply", "npz"])
    (report,) = validate(tmp_path / "scene.glb")
    assert report["errors"] == 0, report["messages"]
    glb = Glb(tmp_path / "scene.glb")
    assert sorted(glb.by_name) == ["camera", "floor"] and "animations" not in glb.json
    assert written["ply"] == [] and (tmp_path / "bvh" / "everyone.bvh").exists()
    bvh = pytest.importorskip("bvh", reason="the `bvh` parser is a dev dependency")
    assert bvh.Bvh((tmp_path / "bvh" / "everyone.bvh").read_text()).nframes == 1


def test_one_frame_person_exports_a_static_pose(tmp_path):
    scene = synthetic_scene([synthetic_person(5, 1, t0=1.5)])
    export_scene(scene, tmp_path, ["glb", "bvh", "ply"])
    (report,) = validate(tmp_path / "scene.glb")
    assert report["errors"] == 0, report["messages"]
    glb = Glb(tmp_path / "scene.glb")
    pos = glb.world_positions(1.5)
    got = np.array([pos[f"person_5_{n}"] for n in SMPL24_NAMES])
    assert np.linalg.norm(got - scene.people[0].joints_world[0], axis=1).max() < 1e-3
    bvh = pytest.importorskip("bvh", reason="the `bvh` parser is a dev dependency")
    assert bvh.Bvh((tmp_path / "bvh" / "person_5.bvh").read_text()).nframes == 1
    assert [f.name for f in (tmp_path / "ply" / "person_5").iterdir()] == ["frame_000045.ply"]


def test_the_glb_written_piece_by_piece_is_the_file_pygltflib_saves(tmp_path):
    """The GLB's buffer is spooled to a temporary file as it is made and copied from there into the GLB
    (held in memory, a long video's bodies made a 100-MB buffer, the peak of the whole run): the bytes are
    those of pygltflib's own ``save_to_bytes`` on the same document, header, padding and chunk lengths included."""
    import nvwa.export.glb as glb_mod

    scene = synthetic_scene([synthetic_person(1, 12), synthetic_person(2, 7, t0=0.1, seed=1)])
    path = glb_mod.write_glb(scene, tmp_path / "scene.glb")
    gltf, b = glb_mod._document(scene)
    with b:
        assert len(gltf.bufferViews) > 20 and b.length % 4 == 0  # many views, the buffer's end aligned
        blob = io.BytesIO()
        b.copy_to(blob)
    gltf.set_binary_blob(blob.getvalue())
    assert path.read_bytes() == b"".join(gltf.save_to_bytes())


def test_the_glbs_buffer_is_not_held_in_memory_while_it_is_written(tmp_path, monkeypatch):
    """A long video's GLB buffer (vtest x4: 114 MB) held in memory was the peak of the whole run: it goes
    to a temporary file as it is made, so writing the GLB allocates far less than the buffer's size; the
    temporary file is closed once the GLB is written, and when making the document fails too."""
    import tempfile
    import tracemalloc

    import nvwa.export.glb as glb_mod

    spools, real = [], tempfile.TemporaryFile

    def spool(*a, **k):
        f = real(*a, **k)
        spools.append(f)
        return f

    monkeypatch.setattr(glb_mod.tempfile, "TemporaryFile", spool)
    scene = synthetic_scene([synthetic_person(k, 3600, seed=k) for k in range(14)])
    tracemalloc.start()
    try:
        gltf, b = glb_mod._document(scene)
        held = tracemalloc.get_traced_memory()[0]  # the document made, its buffer spooled
        b.close()
        tracemalloc.reset_peak()
        glb_mod.write_glb(scene, tmp_path / "scene.glb")
        peak = tracemalloc.get_traced_memory()[1] - held
    finally:
        tracemalloc.stop()
    # held: the document's objects alone; the peak: one person's arrays as they are made, and pygltflib
    # making the JSON (with the buffer in memory, both were over the buffer's size: checked)
    assert b.length > 10_000_000 and held < 0.2 * b.length and peak < 0.8 * b.length, (b.length, held, peak)
    assert len(spools) == 2 and spools[0].closed and spools[1].closed
    assert [q.name for q in tmp_path.iterdir()] == ["scene.glb"]

    def broken(*a, **k):  # the disk fills up while the people are spooled
        raise OSError("disk full")

    monkeypatch.setattr(glb_mod, "_add_person", broken)
    with pytest.raises(OSError, match="disk full"):
        glb_mod.write_glb(scene, tmp_path / "scene.glb")
    assert len(spools) == 3 and spools[2].closed


def test_a_failed_export_leaves_the_old_files_whole(tmp_path, monkeypatch):
    import nvwa.export.glb as glb_mod
    import nvwa.export.ply as ply_mod

    scene = synthetic_scene([synthetic_person(1, 10)])
    export_scene(scene, tmp_path, ["glb", "ply"])
    old_glb = (tmp_path / "scene.glb").read_bytes()
    old_ply = sorted(p.name for p in (tmp_path / "ply" / "person_1").iterdir())

    def half_then_crash(f, *a, **k):  # the GLB's first bytes written, then the disk is full
        f.write(b"glTF" + b"\x00" * 10)
        raise OSError("disk full")

    monkeypatch.setattr(glb_mod, "_write_container", half_then_crash)
    with pytest.raises(OSError):
        export_scene(synthetic_scene([synthetic_person(1, 20)]), tmp_path, ["glb"])
    calls = {"n": 0}
    real = ply_mod.ply_bytes

    def crash_on_third(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(*a, **k)

    monkeypatch.setattr(ply_mod, "ply_bytes", crash_on_third)
    with pytest.raises(OSError):
        export_scene(synthetic_scene([synthetic_person(1, 20)]), tmp_path, ["ply"])
    assert (tmp_path / "scene.glb").read_bytes() == old_glb
    assert sorted(p.name for p in (tmp_path / "ply" / "person_1").iterdir()) == old_ply
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert [p.name for p in (tmp_path / "ply").iterdir() if p.name.startswith(".")] == []


def test_format_names_are_checked():
    assert parse_formats("glb, BVH,glb") == ("glb", "bvh")
    with pytest.raises(InputError, match="'fbx': is unknown"):
        parse_formats("glb,fbx")
    with pytest.raises(InputError, match="empty name"):
        parse_formats("glb,,bvh")


def test_cli_export_on_a_saved_scene(tmp_path, capsys):
    from nvwa.cli import main
    from nvwa.scene import save_scene

    save_scene(synthetic_scene([synthetic_person(4, 30)]), tmp_path)
    assert main(["export", str(tmp_path), "--format", "bvh,glb"]) == 0
    assert (tmp_path / "bvh" / "person_4.bvh").exists() and (tmp_path / "scene.glb").exists()
    assert main(["export", str(tmp_path), "--format", "obj"]) == 2
    assert "'obj': is unknown" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nowhere"), "--format", "glb"]) == 2
    assert "no scene" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("blender") is None, reason="Blender is not installed (`make test` installs Debian's "
                    "blender and python3-numpy where apt-get can)")
def test_blender_imports_glb_and_bvh(real_export, tmp_path):
    scene, out = real_export
    p = max(scene.people, key=lambda q: int(np.asarray(q.foot_contact).any(axis=1).sum()))
    contact = np.nonzero(np.asarray(p.foot_contact).any(axis=1))[0]
    assert len(contact), "the walker has planted feet"
    i = int(contact[len(contact) // 2])
    fps = scene.video["fps"]
    posed_out = tmp_path / "posed.npy"
    run = subprocess.run(["blender", "-b", "--factory-startup", "--python", str(REPO / "tools" / "blender_check.py"), "--",
                          str(out / "scene.glb"), str(out / "bvh" / f"person_{p.person_id}.bvh"), str(p.person_id),
                          str(p.timestamp_s[i]), str(p.timestamp_s[0]), str(fps)],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "NVWA_POSED_OUT": str(posed_out)})
    line = next((s for s in run.stdout.splitlines() if s.startswith("NVWA_CHECK ")), None)
    assert line, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(line[len("NVWA_CHECK "):])
    assert report["glb"]["bones"] == 25 and report["bvh"]["bones"] == 24  # GLB: the 24 joints + the person's root
    assert report["bvh"]["frames"] == int(np.floor((p.timestamp_s[-1] - p.timestamp_s[0]) * fps + 1e-6)) + 1
    assert report["glb"]["frames"] >= len(p.timestamp_s) - 1
    lowest = float(p.joints_world[i][[7, 8, 10, 11], 1].min())
    assert lowest < 0.05  # the scene's foot is down at a contact frame ...
    assert report["glb"]["lowest_foot_m"] == pytest.approx(lowest, abs=0.01)  # ... and so it is in Blender
    assert report["bvh"]["lowest_foot_m"] == pytest.approx(lowest, abs=0.01)
    # the human body as Blender skins it (an independent reader of our GLB): its soles on the floor at the
    # contact (within 2 cm, none more than 1 cm below), and every vertex where our own skinning puts it
    assert report["glb"]["vertices"] >= 13_000
    assert -0.01 <= report["glb"]["lowest_vertex_m"] <= 0.02
    from scipy.spatial import cKDTree

    from nvwa.body.human import HumanBody
    from nvwa.export.ply import person_meshes
    from nvwa.models.store import human_body_path

    human = HumanBody(human_body_path())
    ours = next(v for frame, v, _, _ in person_meshes(p, None, human) if frame == p.frame_index[i])
    posed = np.load(posed_out)
    gap = cKDTree(posed).query(ours)[0]
    assert np.percentile(gap, 99) < 0.01 and gap.max() < 0.03, (np.percentile(gap, 99), gap.max())
    # the body's ankles, wrists and head where the scene's joints are: the vertices around each joint in the
    # rest pose (within 4 cm beyond the nearest: a shell round it), found in Blender's posed mesh, centred within
    # 3 cm of the scene's joint
    from nvwa.export.avatar import rest_joint_positions
    from nvwa.grounding.scale import stature_from_bones
    from nvwa.rig.skeleton import global_rotations

    fit = human.fit(np.asarray(p.bone_lengths), np.asarray(p.rest_directions), stature_from_bones(np.asarray(p.bone_lengths)))
    rest = rest_joint_positions(np.asarray(p.bone_lengths), np.asarray(p.rest_directions))
    tree = cKDTree(posed)
    G = global_rotations(np.asarray(p.local_rotations)[i:i + 1])[0]
    for j in (7, 8, 15, 20, 21):  # ankles, head, wrists
        d = np.linalg.norm(fit.vertices - rest[j], axis=1)
        near = np.flatnonzero(d < d.min() + 0.04)
        centre = posed[tree.query(ours[near])[1]].mean(axis=0)
        # the shell's centre sits off the joint by a fixed offset in the joint's frame, turned with the joint
        expected = p.joints_world[i][j] + G[j] @ (fit.vertices[near].mean(axis=0) - rest[j])
        assert np.linalg.norm(centre - expected) < 0.03, (SMPL24_NAMES[j], centre, expected)


@pytest.mark.skipif(shutil.which("assimp") is None, reason="assimp is not installed (apt-get install assimp-utils; make test does it)")
def test_assimp_reads_and_converts_the_glb(real_export, tmp_path):
    """assimp (the usual road to FBX for Unity/Unreal users) reads our GLB with every person's bones and
    the animation, and converts it to FBX and OBJ."""
    scene, out = real_export
    info = subprocess.run(["assimp", "info", str(out / "scene.glb")], capture_output=True, text=True, timeout=120)
    assert info.returncode == 0, info.stdout[-2000:] + info.stderr[-2000:]
    counts = dict(re.findall(r"^(Bones|Animations|Meshes):\s+(\d+)", info.stdout, re.M))
    n = len(scene.people)
    assert len(scene.supports) == 1  # the Sports2D man's utility box: a mesh of its own
    assert counts == {"Bones": str(25 * n), "Animations": "1", "Meshes": str(n + 1 + len(scene.supports))}, counts
    for fmt, magic in (("fbx", b"Kaydara FBX Binary"), ("obj", b"")):
        target = tmp_path / f"scene.{fmt}"
        run = subprocess.run(["assimp", "export", str(out / "scene.glb"), str(target)], capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0 and target.stat().st_size > 10_000, (fmt, run.returncode, run.stderr[-2000:])
        assert target.read_bytes().startswith(magic)
    obj = subprocess.run(["assimp", "info", str(tmp_path / "scene.obj")], capture_output=True, text=True, timeout=120)
    assert obj.returncode == 0 and re.search(r"^Meshes:\s+%d$" % (n + 1 + len(scene.supports)), obj.stdout, re.M), obj.stdout[-1500:]


def test_bvh_resampling_between_frames_matches_scipy_slerp():
    from scipy.spatial.transform import Slerp

    from nvwa.export.bvh import resample

    p = synthetic_person(2, 40, fps=25.0)
    times = p.timestamp_s[0] + np.array([-0.1, 0.013, 0.5, 1.234, 5.0])  # before, between, after
    root, q = resample(p, times)
    tc = np.clip(times, p.timestamp_s[0], p.timestamp_s[-1])
    for j in (0, 4, 18):
        want = Slerp(p.timestamp_s, Rotation.from_quat(p.local_rotations[:, j]))(tc)
        assert (want.inv() * Rotation.from_quat(q[:, j])).magnitude().max() < 1e-6
    assert np.allclose(root[:, 2], np.interp(tc, p.timestamp_s, p.root_world[:, 2]))


def test_the_man_on_the_box_stands_on_a_support_in_the_scene_and_the_glb(real_export):
    """Sports2D: the man on the utility box is seen only on it. The scene lists the box as a support
    (top, footprint, who stood on it, when), his feet rest on its top, and the GLB has it as a solid."""
    import pygltflib

    scene, out = real_export
    summary = json.loads((out / "scene.json").read_text())
    (box,) = summary["supports"]
    assert 1.2 < box["top_y_m"] < 3.0 and len(box["footprint_xz"]) >= 3
    man = next(p for p in scene.people if p.person_id in box["person_ids"])
    on = (man.timestamp_s >= box["start_s"]) & (man.timestamp_s <= box["end_s"])
    lowest = man.joints_world[on][:, [7, 8, 10, 11], 1].min(axis=1)
    assert np.median(np.abs(lowest - box["top_y_m"])) < 0.05  # standing on its top, not floating
    others = [p for p in scene.people if p.person_id not in box["person_ids"]]
    assert all(np.median(p.joints_world[:, [7, 8, 10, 11], 1].min(axis=1)) < 0.05 for p in others)  # on the floor
    for p in summary["people"]:
        assert 1.3 < p["stature_m"] < 2.1
    g = summary["grounding"]
    assert g["calibration"]["vanishing_points"]["vertical_votes"] >= 20 and "contact_plane" in g["cues"]
    gltf = pygltflib.GLTF2().load(str(out / "scene.glb"))
    node = next(n for n in gltf.nodes if n.name == "support_0")
    pos = gltf.accessors[gltf.meshes[node.mesh].primitives[0].attributes.POSITION]
    assert pos.max[1] == pytest.approx(box["top_y_m"], abs=1e-3) and pos.min[1] == pytest.approx(0.0, abs=1e-6)


def test_vertex_normals_of_an_octahedron_point_out_through_its_corners():
    """Area-weighted vertex normals (summed per corner with bincount): an octahedron's point along its
    vertices, unit length, in the vertices' own dtype."""
    from nvwa.export.ply import vertex_normals

    v = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=np.float32)
    faces = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])
    n = vertex_normals(v, faces)
    assert n.dtype == np.float32 and np.allclose(n, v, atol=1e-6)
