"""The GPU path's tracking, occlusion and mesh stages, and the pipeline wired through them, with stand-ins
shaped exactly like SAM 3's video predictor, SAM 3D Body's estimator and the MHR body model (the real ones
need gated weights and a GPU). The stand-ins see only what the real models see: JPEG frames on disk,
boxes, masks and K; they find the people in the pixels (coloured bodies) and give each session its own
object ids, so id carrying, batching, units and the identity lock are checked for real."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import make_video
from nvwa.body.sam3d_body import SAM3DBodyBackend
from nvwa.errors import InputError, ModelMissingError
from nvwa.occlusion import OcclusionConfig, OcclusionHandler, occluded_spans
from nvwa.scene.synthetic import synthetic_person
from nvwa.tracking.sam3 import Masklet, SAM3Config, SAM3Tracker, default_bpe_path, mask_box
from nvwa.video import VideoFrame

from test_gpu_contracts import mhr70_from_smpl

W, H = 320, 240
K = np.array([[300.0, 0, W / 2], [0, 300.0, H / 2], [0, 0, 1]])
COLOURS = {"red": (230, 30, 30), "blue": (30, 30, 230), "green": (30, 200, 30)}
N_VERTS, N_FACES = 18439, 36874


def world(n: int):
    """Three walkers in the camera (OpenCV axes, m); green comes in at frame 15."""
    people = {}
    for k, (name, x) in enumerate((("red", -1.2), ("blue", 1.0), ("green", 0.0))):
        p = synthetic_person(k + 1, n, fps=10, seed=k)
        cam = (p.joints_world - p.root_world[:, None] * [1, 0, 1]) * [1, -1, -1] + [x, 0.95, 6.0 + k]
        people[name] = (cam, range(15, n) if name == "green" else range(n))
    return people


def draw(people, i: int) -> np.ndarray:
    """Frame i: each person a filled ellipse in their colour around their projected skeleton."""
    img = np.full((H, W, 3), 90, np.uint8)
    for name, (cam, frames) in sorted(people.items(), key=lambda kv: -kv[1][0][0, 0, 2]):  # far first
        if i in frames:
            uv = (K @ cam[i].T).T
            uv = uv[:, :2] / uv[:, 2:]
            c, half = uv.mean(axis=0), np.maximum(uv.max(axis=0) - uv.min(axis=0), 8) / 2
            cv2.ellipse(img, (int(c[0]), int(c[1])), (int(half[0]) + 4, int(half[1]) + 4), 0, 0, 360, COLOURS[name], -1)
    return img


def colour_masks(img: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for name, rgb in COLOURS.items():
        m = np.abs(img.astype(int) - rgb).sum(axis=-1) < 120
        if m.sum() > 20:
            out[name] = m
    return out


def colour_of(img: np.ndarray, mask: np.ndarray) -> str:
    mean = img[mask].mean(axis=0)
    return min(COLOURS, key=lambda n: np.abs(mean - COLOURS[n]).sum())


class StandInSAM3:
    """``handle_request`` / ``handle_stream_request`` as SAM 3's video predictor documents them. Each
    session numbers its objects afresh, in an order of its own, as the real one does."""

    def __init__(self):
        self.sessions, self.closed, self.folders, self.prompts = {}, [], [], []
        self.rng = np.random.default_rng(7)

    def handle_request(self, r):
        if r["type"] == "start_session":
            folder = Path(r["resource_path"])
            files = sorted(folder.glob("*.jpg"))
            self.folders.append((folder, len(files)))
            frames = [cv2.imread(str(f))[..., ::-1] for f in files]
            ids = {n: int(v) for n, v in zip(COLOURS, self.rng.permutation(50)[:3])}
            sid = f"s{len(self.sessions)}"
            self.sessions[sid] = (frames, ids)
            return {"session_id": sid}
        if r["type"] == "add_prompt":
            self.prompts.append((r["frame_index"], r["text"]))
            return {"frame_index": r["frame_index"], "outputs": self._outputs(r["session_id"], r["frame_index"])}
        if r["type"] == "close_session":
            self.closed.append(r["session_id"])
            return {"is_success": True}
        raise AssertionError(r)

    def handle_stream_request(self, r):
        assert r["type"] == "propagate_in_video" and r["propagation_direction"] == "both"
        n, start = len(self.sessions[r["session_id"]][0]), r["start_frame_index"]
        for i in [*range(start, n), *range(start, -1, -1)]:
            yield {"frame_index": i, "outputs": self._outputs(r["session_id"], i)}

    def _outputs(self, sid, i):
        frames, ids = self.sessions[sid]
        masks = colour_masks(frames[i])
        names = sorted(masks)
        boxes = np.array([mask_box(masks[n]) for n in names]).reshape(-1, 4)
        xywh = np.c_[boxes[:, :2], boxes[:, 2:] - boxes[:, :2]] / [W, H, W, H]
        return {"out_obj_ids": np.array([ids[n] for n in names], dtype=np.int64), "out_probs": np.full(len(names), 0.9),
                "out_boxes_xywh": xywh, "out_binary_masks": np.array([masks[n] for n in names]).reshape(-1, H, W)}


def frames_of(people, n):
    return [VideoFrame(i, i / 10, draw(people, i)) for i in range(n)]


def test_sam3_tracker_keeps_ids_across_windows_and_yields_every_frame_once(tmp_path):
    n = 26
    people = world(n)
    sam3 = StandInSAM3()
    tracker = SAM3Tracker(config=SAM3Config(window=8, overlap=3), predictor=sam3)
    out = list(tracker.track(frames_of(people, n)))
    assert [f.index for f, _ in out] == list(range(n))
    assert tracker.windows == len(sam3.sessions) >= 4 and sorted(sam3.closed) == sorted(sam3.sessions)
    assert all(not folder.exists() and count <= 8 for folder, count in sam3.folders)  # frames on disk, then gone
    assert all(text == "person" for _, text in sam3.prompts)
    ids_of: dict[str, set] = {}
    for frame, ms in out:
        for m in ms:
            assert m.mask.shape == (H, W) and np.allclose(m.box, mask_box(m.mask))
            ids_of.setdefault(colour_of(frame.image, m.mask), set()).add(m.track_id)
        assert len(ms) == (3 if frame.index >= 15 else 2)
    assert all(len(v) == 1 for v in ids_of.values()), ids_of  # one id per person, through every window
    assert len(set.union(*ids_of.values())) == 3  # the newcomer got a new id, nobody took another's


def test_sam3_tracker_refuses_bad_output_and_bad_windows():
    class Broken(StandInSAM3):
        def _outputs(self, sid, i):
            o = super()._outputs(sid, i)
            o["out_binary_masks"] = o["out_binary_masks"][:, :100]
            return o

    people = world(6)
    with pytest.raises(ValueError, match=r"SAM 3 output for frame \d+: masks"):
        list(SAM3Tracker(config=SAM3Config(window=4, overlap=1), predictor=Broken()).track(frames_of(people, 6)))
    with pytest.raises(ValueError, match="overlap at most half"):
        SAM3Tracker(config=SAM3Config(window=8, overlap=6), predictor=StandInSAM3())


def test_sam3_builder_gets_the_vocabulary_path(monkeypatch, tmp_path):
    import sys
    import types

    calls = {}
    builder = types.ModuleType("sam3.model_builder")
    builder.build_sam3_video_predictor = lambda **kw: calls.update(kw) or StandInSAM3()
    monkeypatch.setitem(sys.modules, "sam3", types.ModuleType("sam3"))
    monkeypatch.setitem(sys.modules, "sam3.model_builder", builder)
    vocab = tmp_path / "bpe_simple_vocab_16e6.txt.gz"
    vocab.write_bytes(b"x")
    monkeypatch.setenv("NVWA_SAM3_BPE", str(vocab))
    SAM3Tracker("ck/sam3.pt", default_bpe_path())
    assert calls == {"checkpoint_path": "ck/sam3.pt", "bpe_path": str(vocab)}
    monkeypatch.delenv("NVWA_SAM3_BPE")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ModelMissingError, match="bpe_simple_vocab_16e6.txt.gz: .*NVWA_SAM3_BPE"):
        default_bpe_path()


def test_occluded_spans_pad_merge_and_split():
    iou = np.ones(60)
    iou[[10, 11, 14]] = 0.5  # one run once padded by 2 (8..16), merged
    iou[30:59] = 0.2  # 29 frames, padded to 28..59 -> split at 25
    assert occluded_spans(iou, 0.7, 2, 25) == [(8, 17), (28, 53), (53, 60)]
    assert occluded_spans(np.ones(5), 0.7, 2, 25) == []


class StandInAmodal:
    """The whole body's mask: what the person's own ellipse would cover with nothing in front."""

    def __init__(self, full):
        self.full, self.calls = full, []

    def amodal_masks(self, images, modal):
        self.calls.append(len(images))
        return np.stack([next(f for f in self.full if (f & m).sum() >= m.sum() * 0.99) for m in modal])


def test_occlusion_stage_gives_hidden_frames_the_amodal_mask_and_box():
    n = 30
    full = np.zeros((H, W), bool)
    full[40:200, 100:160] = True
    frames, stream, fulls = [], [], []
    for i in range(n):
        visible = full.copy()
        if 12 <= i < 16:
            visible[120:] = False  # a wall hides the legs for 4 frames
        frames.append(VideoFrame(i, i / 10, np.zeros((H, W, 3), np.uint8)))
        stream.append((frames[-1], [Masklet(1, visible, mask_box(visible))]))
    completed = []

    class Completion:
        def complete(self, images, modal, amodal):
            completed.append(len(images))
            return np.full(images.shape, 200, np.uint8)

    handler = OcclusionHandler(StandInAmodal([full]), OcclusionConfig(chunk=64, complete_content=True), Completion())
    out = list(handler.apply(iter(stream)))
    occluded = [f.index for f, ms in out if ms[0].occluded]
    assert occluded == list(range(10, 18))  # 12..15 padded by 2
    for f, ms in out:
        m = ms[0]
        assert np.allclose(m.box, [100, 40, 160, 200]) if m.occluded else m.image is None
        if m.occluded:
            assert m.mask.sum() == full.sum() and m.image is not None and m.image.mean() == 200
    assert completed == [8] and handler.occluded_frames == 8
    with pytest.raises(ValueError, match="complete_content needs a completion model"):
        OcclusionHandler(StandInAmodal([full]), OcclusionConfig(complete_content=True))


class StandInMHR:
    """The MHR TorchScript body model's call: (shape (B, 45), model params (B, 204), expression (B, 72))
    -> (vertices (B, V, 3) cm in MHR's y-up axes, skeleton). The body's size follows shape[0] and the
    first scale entry, so a locked identity shows as one size."""

    def __init__(self):
        rng = np.random.default_rng(3)
        self.template = rng.uniform(-1, 1, (N_VERTS, 3)) * [0.25, 0.85, 0.15]  # m, OpenCV axes, about the pelvis

    def size(self, shape0, scale0):
        return (1 + 0.2 * shape0) * (1 + 0.2 * scale0)

    def __call__(self, shape, params, expr):
        assert shape.shape[1:] == (45,) and params.shape[1:] == (204,) and expr.shape[1:] == (72,)
        s = self.size(np.asarray(shape)[:, 0], np.asarray(params)[:, 136])
        return (self.template[None] * s[:, None, None] * [1, -1, -1] * 100).astype(np.float32), None


class StandInBody:
    """SAM3DBodyEstimator.process_one_image as documented, for the walkers of ``world``: finds whose body
    each box holds by the colour under its mask, and reports that skeleton (MHR70) where it stands."""

    def __init__(self, people, mhr):
        self.people, self.mhr, self.calls, self.rng = people, mhr, [], np.random.default_rng(11)
        self.faces = np.random.default_rng(5).integers(0, N_VERTS, (N_FACES, 3))
        self.raw_sizes: dict[str, list] = {}

    def process_one_image(self, img, bboxes=None, masks=None, cam_int=None, use_mask=False, **kw):
        i = len(self.calls)  # one batched call per frame, in order
        self.calls.append(len(bboxes))
        assert masks is not None and use_mask and np.allclose(np.asarray(cam_int)[0], K)
        outs = []
        for box, mask in zip(bboxes, masks):
            name = colour_of(img, mask)
            j = self.people[name][0][i]
            kp = mhr70_from_smpl(j)
            root = (j[1] + j[2]) / 2
            proj = (K @ kp.T).T
            shape = np.zeros(45, np.float32)
            shape[0] = 0.1 * ("rgb".index(name[0])) + self.rng.normal(0, 0.05)  # noisy per frame, as estimates are
            params = np.zeros(204, np.float32)
            params[136] = self.rng.normal(0, 0.05)
            verts, _ = self.mhr(shape[None], params[None], np.zeros((1, 72)))
            verts = verts[0] * 0.01 * [1, -1, -1]
            self.raw_sizes.setdefault(name, []).append(float(np.sqrt((verts ** 2).sum(axis=1).mean())))
            outs.append({"pred_keypoints_3d": (kp - root).astype(np.float32), "pred_cam_t": root.astype(np.float32),
                         "pred_keypoints_2d": (proj[:, :2] / proj[:, 2:]).astype(np.float32),
                         "pred_vertices": verts.astype(np.float32), "shape_params": shape,
                         "scale_params": np.zeros(28, np.float32), "mhr_model_params": params})
        return outs


def test_gpu_path_frames_carry_no_frames_between(tmp_path):
    """At a stride, SAM 3's window (240 frames) would hold every frame between's decoder frame with them: the
    GPU path's frames come without them (the camera is followed on the analysed frames there)."""
    from nvwa.pipeline import Pipeline, PipelineConfig
    from nvwa.config import VideoConfig
    from nvwa.reconstruct import ReconstructConfig

    n = 24
    people = world(n)
    video = make_video(tmp_path / "walkers.avi", n, size=(W, H), fps=10, frame_fn=lambda i: draw(people, i))
    mhr = StandInMHR()
    body = SAM3DBodyBackend("unused", "unused", estimator=StandInBody(people, mhr), mhr=mhr)
    tracker = SAM3Tracker(config=SAM3Config(window=12, overlap=4), predictor=StandInSAM3())
    seen, track = [], tracker.track
    tracker.track = lambda frames: track(seen.append(f) or f for f in frames)
    config = PipelineConfig(video=VideoConfig(stride=2), reconstruct=ReconstructConfig(K="300,300,160,120", min_person_s=0.5))
    [e for e in Pipeline(config, body=body, tracker=tracker).run(video, tmp_path / "out")]
    assert [f.index for f in seen] == list(range(0, n, 2)) and all(f.between == () for f in seen)


def test_pipeline_gpu_path_end_to_end_with_stand_ins(tmp_path, monkeypatch):
    """Video file -> SAM 3 masklets -> batched SAM 3D Body with masks and K -> the rig, smoothing and
    grounding -> a scene whose people keep their ids, stand where the backend put them, and carry one
    identity-locked mesh each -> PLY with the backend's topology."""
    import trimesh

    from nvwa.export import export_scene
    from nvwa.pipeline import Pipeline, PipelineConfig
    from nvwa.reconstruct import ReconstructConfig
    from nvwa.scene import read_scene

    n = 30
    people = world(n)
    video = make_video(tmp_path / "walkers.avi", n, size=(W, H), fps=10, frame_fn=lambda i: draw(people, i))
    mhr = StandInMHR()
    est = StandInBody(people, mhr)
    body = SAM3DBodyBackend("unused", "unused", estimator=est, mhr=mhr)
    tracker = SAM3Tracker(config=SAM3Config(window=12, overlap=4), predictor=StandInSAM3())

    def no_root_solve(*a, **k):
        raise AssertionError("the GPU path places people from the backend's translation")

    monkeypatch.setattr("nvwa.reconstruct.solve_root_translations", no_root_solve)
    pipe = Pipeline(PipelineConfig(reconstruct=ReconstructConfig(K="300,300,160,120", min_person_s=0.5, smoothing="fast")), body=body, tracker=tracker)
    done = [e for e in pipe.run(video, tmp_path / "out")][-1]
    scene = done.data["scene"]
    assert est.calls == [2] * 15 + [3] * 15  # every person of a frame in one call
    assert len(scene.people) == 3 and scene.mesh_faces.shape == (N_FACES, 3)
    by_colour = {}
    for p in scene.people:
        assert p.keypoint_set == "mhr70" and p.mesh_vertices.shape == (len(p.frame_index), N_VERTS, 3)
        assert p.mhr_model_params.shape == (len(p.frame_index), 204) and p.shape_params.shape == (45,)
        name = "green" if p.frame_index[0] >= 15 else ("red" if p.joints_cam[0, 0, 0] < 0 else "blue")
        by_colour[name] = p
        truth = people[name][0][p.frame_index]
        pelvis_truth = (truth[:, 1] + truth[:, 2]) / 2
        # depth from the backend, not re-solved: the pelvis distance agrees within 10% (grounding may pin depth)
        assert np.median(np.abs(p.joints_cam[:, 0, 2] / pelvis_truth[:, 2] - 1)) < 0.1
        # identity lock: one body size in every frame, though the per-frame estimates varied by ~5%
        size = np.sqrt((p.mesh_vertices.astype(np.float32) ** 2).sum(axis=2).mean(axis=1))
        raw = np.array(est.raw_sizes[name])
        assert raw.std() / raw.mean() > 0.01 and size.std() / size.mean() < 2e-3
        assert abs(size.mean() / np.median(raw) - 1) < 0.03
    assert set(by_colour) == {"red", "blue", "green"}
    assert len({p.person_id for p in scene.people}) == 3

    saved = read_scene(tmp_path / "out")  # the mesh survives the scene file
    assert saved.mesh_faces.shape == (N_FACES, 3) and saved.people[0].mesh_vertices.dtype == np.float16
    export_scene(saved, tmp_path / "out", ["ply"])
    p = by_colour["blue"]
    ply = tmp_path / "out" / "ply" / f"person_{p.person_id}" / f"frame_{int(p.frame_index[3]):06d}.ply"
    mesh = trimesh.load(ply, process=False)
    assert mesh.vertices.shape == (N_VERTS, 3) and mesh.faces.shape == (N_FACES, 3)
    centre = np.asarray(mesh.vertices).mean(axis=0)
    assert np.linalg.norm(centre - p.root_world[3]) < 0.1  # the mesh stands where the person does


def test_gpu_choices_are_checked(tmp_path):
    from nvwa.config import ModelsConfig
    from nvwa.pipeline import Pipeline, PipelineConfig, load_body

    class NoMasks:
        keypoint_set = "blazepose33"

        def close(self):
            pass

    with pytest.raises(InputError, match="cannot take masks; use sam3d_body"):
        Pipeline(PipelineConfig(models=ModelsConfig(tracker="sam3")), body=NoMasks(), tracker=SAM3Tracker(predictor=StandInSAM3()))
    with pytest.raises(InputError, match="occlusion: needs masks"):
        Pipeline(PipelineConfig(models=ModelsConfig(occlusion=True)), body=NoMasks())
    with pytest.raises(InputError, match="body_model='smpl'"):
        load_body(body_model="smpl")
    with pytest.raises(ModelMissingError, match="nvwa models download"):
        load_body(body_model="sam3d_body", checkpoints_dir=str(tmp_path))
