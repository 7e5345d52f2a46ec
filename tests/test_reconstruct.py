"""Observe once, reconstruct many times: the observations a run saves give the same scene again with no
model, other options change only what comes after the models, and bad folders are refused in one line
with nothing overwritten. The CLI (`nvwa reconstruct`) and the service (POST /jobs/{id}/reconstruct)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import DATA, REPO

from nvwa.observations import OBSERVATIONS_VERSION, load_observations  # noqa: E402
from nvwa.reconstruct import ReconstructConfig, reconstruct  # noqa: E402


def _nvwa(*args):
    return subprocess.run([sys.executable, "-m", "nvwa", *map(str, args)], capture_output=True, text=True, cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def processed(sports_export):
    """(scene, out dir) of `Pipeline.run` on the Sports2D clip: it wrote observations.npz beside the scene."""
    scene, out = sports_export
    assert (out / "observations.npz").exists()
    return scene, out


def test_reconstruct_gives_the_same_scene_without_a_model(processed):
    scene, out = processed
    obs = load_observations(out, body_model="blazepose")
    again = reconstruct(obs, ReconstructConfig())  # the options `process` ran with: the defaults
    assert [p.person_id for p in again.people] == [p.person_id for p in scene.people]
    for a, b in zip(again.people, scene.people):
        assert np.array_equal(a.timestamp_s, b.timestamp_s) and np.array_equal(a.frame_index, b.frame_index)
        assert np.abs(a.joints_world - b.joints_world).max() < 1e-3
    assert np.allclose(again.K, scene.K) and np.allclose(again.R_world_from_cam, scene.R_world_from_cam)


def test_a_long_videos_people_are_reconstructed_group_by_group_to_the_same_scene(processed, monkeypatch):
    """Fitting and phase 3 run on groups of people of at most PEOPLE_FRAMES_AT_ONCE frames together (a long
    video's reconstruction holds a bounded amount at once): with a group per person, the same scene bit
    for bit (Sports2D's two people: the grouped steps of fitting, smoothing, phase 3 and the soles)."""
    import dataclasses

    import nvwa.rig.segments as segments

    _, out = processed
    obs = load_observations(out, body_model="blazepose")
    whole = reconstruct(obs, ReconstructConfig())
    monkeypatch.setattr(segments, "PEOPLE_FRAMES_AT_ONCE", 1)
    calls = []
    original = segments.in_groups
    monkeypatch.setattr("nvwa.reconstruct.in_groups", lambda n: calls.append(original(n)) or original(n))
    grouped = reconstruct(obs, ReconstructConfig())
    assert calls and all(len(g) == 1 for c in calls for g in c) and max(len(c) for c in calls) >= 2
    assert [p.person_id for p in grouped.people] == [p.person_id for p in whole.people]
    for a, b in zip(whole.people, grouped.people):
        for f in dataclasses.fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name)
            assert np.array_equal(x, y, equal_nan=True) if isinstance(x, np.ndarray) else x == y, f.name
    assert np.array_equal(whole.R_world_from_cam, grouped.R_world_from_cam) and whole.supports == grouped.supports


def test_each_tracks_colour_samples_are_kept_with_their_frames(processed, tmp_path):
    """observations.npz keeps what each track's colours are the medians of, sample by sample with its frame
    (a track that went on with someone else changes clothes there); observations from before they were
    kept load without them."""
    from nvwa.body.colours import person_colours

    _, out = processed
    obs = load_observations(out)
    sampled = [p for p in obs.people if p.colours is not None]
    assert sampled
    for p in sampled:
        f = p.colour_frames
        assert f.dtype == np.int64 and len(f) >= 1 and np.all(np.diff(f) > 0) and np.isin(f, p.frame_index).all()
        assert p.colour_samples.shape == (len(f), 3, 3) and p.colour_samples.dtype == np.float32
        assert np.array_equal(person_colours(list(p.colour_samples)), p.colours)
    with np.load(out / "observations.npz") as z:
        older = {k: z[k] for k in z.files if "/colour_" not in k}
    np.savez_compressed(tmp_path / "observations.npz", **older)
    again = load_observations(tmp_path)
    assert all(p.colour_frames is None and p.colour_samples is None for p in again.people)
    assert [p.colours is None for p in again.people] == [p.colours is None for p in obs.people]


def test_other_options_change_only_what_follows_the_models(processed):
    scene, out = processed
    obs = load_observations(out)
    fast = reconstruct(obs, ReconstructConfig(smoothing="none"))
    assert fast.stats["options"]["smoothing"] == "none"
    differs = max(np.abs(a.joints_world - b.joints_world).max() for a, b in zip(fast.people, scene.people))
    assert differs > 1e-3  # the smoothing really changed
    focal = reconstruct(obs, ReconstructConfig(focal_px=2000.0))
    assert focal.K[0, 0] == pytest.approx(2000.0) and focal.stats["options"]["intrinsics"] == "focal"


def test_cli_reconstruct_rewrites_the_folder_in_place(processed, tmp_path):
    _, out = processed
    folder = tmp_path / "copy"
    shutil.copytree(out, folder)
    r = _nvwa("reconstruct", folder, "--smoothing", "fast", "--format", "glb,bvh", "--quiet")
    assert r.returncode == 0, r.stderr
    summary = json.loads((folder / "scene.json").read_text())
    assert summary["stats"]["options"]["smoothing"] == "fast"
    assert (folder / "scene.glb").stat().st_mtime >= (folder / "observations.npz").stat().st_mtime
    # scene.json is written last: nothing in the folder is newer
    newest = max(p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file())
    assert (folder / "scene.json").stat().st_mtime_ns == newest


@pytest.mark.parametrize("bad", ["empty", "other_version", "other_model", "corrupt", "samples_cut_short"])
def test_bad_folders_are_one_line_and_nothing_is_overwritten(processed, tmp_path, bad):
    _, out = processed
    folder = tmp_path / bad
    shutil.copytree(out, folder)
    args = []
    if bad == "empty":
        (folder / "observations.npz").unlink()
    elif bad == "other_version":
        with np.load(folder / "observations.npz") as z:
            data = {k: z[k] for k in z.files}
        meta = json.loads(str(data["meta"]))
        meta["version"] = "nvwa.observations/0"
        data["meta"] = np.array(json.dumps(meta))
        np.savez_compressed(folder / "observations.npz", **data)
    elif bad == "other_model":
        args = ["--body-model", "sam3d_body"]
    elif bad == "corrupt":
        (folder / "observations.npz").write_bytes(b"PK\x03\x04 not really a zip")
    else:  # a file whose arrays do not fit together (edited by hand, or by another program)
        with np.load(folder / "observations.npz") as z:
            data = {k: z[k] for k in z.files}
        pid = json.loads(str(data["meta"]))["person_ids"][0]
        data[f"person/{pid}/colour_samples"] = data[f"person/{pid}/colour_samples"][:-1]
        np.savez_compressed(folder / "observations.npz", **data)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    r = _nvwa("reconstruct", folder, *args)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].startswith("nvwa: error: ") and str(folder) in lines[0]
    expected = {"empty": "no observations here", "other_version": f"this nvwa reads {OBSERVATIONS_VERSION!r}",
                "other_model": "body model 'blazepose', not 'sam3d_body'", "corrupt": "unreadable observations",
                "samples_cut_short": "do not fit their frames"}[bad]
    assert expected in lines[0]
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


_UNFIT = {  # what is done to the first person's arrays -> what the one line says
    "samples_without_frames": (lambda d, k: d.pop(k + "colour_frames"), "colour samples come without their frames"),
    "frames_without_samples": (lambda d, k: d.pop(k + "colour_samples"), "colour frames come without their samples"),
    "samples_cut_short": (lambda d, k: d.update({k + "colour_samples": d[k + "colour_samples"][:-1]}), "do not fit their frames"),
    "samples_outside_the_track": (lambda d, k: d.update({k + "colour_frames": d[k + "colour_frames"] + 100_000}), "outside the track's frames"),
    "keypoints_cut_short": (lambda d, k: d.update({k + "keypoints_2d": d[k + "keypoints_2d"][:-1]}), "keypoints_2d is shaped"),
    "keypoints_of_another_set": (lambda d, k: d.update({k + "keypoints_2d": d[k + "keypoints_2d"][:, :17]}), "keypoints_2d is shaped"),
    "visibility_flat": (lambda d, k: d.update({k + "visibility": d[k + "visibility"][:, 0]}), "visibility is shaped"),
    "colours_flat": (lambda d, k: d.update({k + "colours": d[k + "colours"][0]}), "colours is shaped"),
    "no_frame_index": (lambda d, k: d.pop(k + "frame_index"), "frame_index is missing"),
    "frame_index_true_false": (lambda d, k: d.update({k + "frame_index": d[k + "frame_index"] > 0}), "frame_index is not numbers"),
    "frames_shuffled": (lambda d, k: d.update({k + "frame_index": d[k + "frame_index"][::-1]}), "frames are not in order"),
    "timestamps_falling": (lambda d, k: d.update({k + "timestamp_s": d[k + "timestamp_s"][::-1]}), "not rising"),
    "timestamps_nan": (lambda d, k: d[k + "timestamp_s"].__setitem__(1, np.nan), "not finite"),
    "keypoints_infinite": (lambda d, k: d[k + "keypoints_2d"].__setitem__(0, np.inf), "keypoints_2d holds infinities"),
}


@pytest.mark.parametrize("bad", list(_UNFIT))
def test_observations_whose_arrays_do_not_fit_together_are_refused_naming_the_file_and_person(processed, tmp_path, bad):
    """A person's arrays in observations.npz, edited by hand or by another program: numbers only, frames in
    order, one row a frame, the keypoint set's keypoints, timestamps finite and rising, the colour samples
    and their frames both or neither, as many, inside the track. Refused on loading, one line naming the
    file and the person (before, the clothes' change crashed on samples without frames, and the
    reconstruction on the others somewhere inside)."""
    from nvwa.errors import InputError

    _, out = processed
    with np.load(out / "observations.npz") as z:
        data = {k: z[k].copy() for k in z.files}
    pid = json.loads(str(data["meta"]))["person_ids"][0]
    change, expected = _UNFIT[bad]
    change(data, f"person/{pid}/")
    np.savez_compressed(tmp_path / "observations.npz", **data)
    with pytest.raises(InputError, match=f"person {pid}'s .*{expected}") as caught:
        load_observations(tmp_path)
    assert str(tmp_path / "observations.npz") in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("bad", ["a_person_twice", "another_keypoint_set", "k_2x2", "camera_track_cut_short"])
def test_observations_whose_people_keypoints_k_or_camera_track_were_changed_are_refused(processed, tmp_path, bad):
    """The file's own fields, edited: one line naming it (before: a KeyError, an IndexError in the
    reconstruction)."""
    from nvwa.errors import InputError

    _, out = processed
    with np.load(out / "observations.npz") as z:
        data = {k: z[k] for k in z.files}
    meta = json.loads(str(data["meta"]))
    if bad == "a_person_twice":
        meta["person_ids"] = meta["person_ids"] + meta["person_ids"][:1]
    elif bad == "another_keypoint_set":
        meta["keypoint_set"] = "coco17"
    elif bad == "k_2x2":
        data["K_observed"] = np.eye(2)
    else:
        assert "camera_H_first_from_frame" in data, "the fixture's observations keep the camera's track"
        data["camera_H_first_from_frame"] = data["camera_H_first_from_frame"][:-1]
    data["meta"] = np.array(json.dumps(meta))
    np.savez_compressed(tmp_path / "observations.npz", **data)
    expected = {"a_person_twice": "listed twice", "another_keypoint_set": "'coco17' is not one this nvwa knows",
                "k_2x2": "K_observed is not a 3x3 matrix", "camera_track_cut_short": "the camera's track H_first_from_frame is shaped"}[bad]
    with pytest.raises(InputError, match=expected) as caught:
        load_observations(tmp_path)
    assert str(tmp_path / "observations.npz") in str(caught.value)


def test_a_backend_that_placed_people_keeps_its_k(processed):
    """SAM 3D Body places people with the K it was given: another K would contradict it, so it is refused."""
    import dataclasses

    from nvwa.errors import InputError

    _, out = processed
    obs = load_observations(out)
    placed = dataclasses.replace(obs, people=tuple(dataclasses.replace(p, translation_cam=np.tile([0, 0, 5.0], (len(p.timestamp_s), 1)))
                                                   for p in obs.people))
    with pytest.raises(InputError, match="placed the people with the K it was given"):
        reconstruct(placed, ReconstructConfig(focal_px=1500.0))
    assert reconstruct(placed, ReconstructConfig()).people  # with the observed K it runs


def test_the_service_reconstructs_a_finished_job_without_reupload(models_dir, tmp_path):
    httpx = pytest.importorskip("httpx", reason="the service tests need the dev extra (httpx)")
    from conftest import post_video, sse
    from test_hostile import Hostile, assert_clean

    from nvwa.service import Settings

    with Hostile(Settings(data_dir=tmp_path, models_dir=str(models_dir))) as s, httpx.Client(base_url=s.url, timeout=120) as c:
        first = post_video(c, DATA / "sports2d_3s.mp4", {"smoothing": "fast", "max_frames": 60}).json()
        early = c.post(f"/jobs/{first['id']}/reconstruct", json={"smoothing": "quality"})
        assert early.status_code in (202, 409)  # 409 while it has no observations yet
        if early.status_code == 202:
            sse(c, f"/jobs/{early.json()['id']}/events")
        assert sse(c, f"/jobs/{first['id']}/events")[-1]["event"] == "complete"
        r = c.post(f"/jobs/{first['id']}/reconstruct", json={"smoothing": "quality", "exports": ["glb", "bvh"]})
        assert r.status_code == 202, r.text
        again = r.json()
        assert again["options"]["max_frames"] == 60 and again["options"]["smoothing"] == "quality"
        events = sse(c, f"/jobs/{again['id']}/events")
        kinds = [e["event"] for e in events]
        assert kinds[-1] == "complete" and "frame" not in kinds  # no model ran
        assert "no model run" in json.loads(events[kinds.index("init")]["data"])["message"]
        job = c.get(f"/jobs/{again['id']}").json()
        assert {"scene.glb", "bvh.zip", "observations.npz"} <= {a["name"] for a in job["artifacts"]}
        assert c.get(f"/jobs/{again['id']}/video").status_code == 200  # its own copy of the video
        for bad in ({"smoothing": "turbo"}, {"focal_px": float("inf")}, {"max_side": 64}):
            assert c.post(f"/jobs/{first['id']}/reconstruct", content=json.dumps(bad).replace("Infinity", "1e999"),
                          headers={"content-type": "application/json"}).status_code == 422, bad
        assert c.post("/jobs/0123456789abcdef/reconstruct", json={}).status_code == 404
        assert c.delete(f"/jobs/{first['id']}").status_code == 204  # the new job stands on its own
        assert c.get(f"/jobs/{again['id']}/artifacts/scene.glb").status_code == 200
        assert_clean(s, c)


def test_every_field_of_a_person_is_persisted_and_read_back(processed):
    """The NPZ's per-person list is explicit: every PersonMotion field is in it, and a scene read back
    equals the one written (depth_scale included, which lived only in scene.json before)."""
    from dataclasses import fields

    from nvwa.scene import read_scene
    from nvwa.scene.schema import PERSON_ARRAYS, PERSON_OPTIONAL_ARRAYS, PERSON_SCALARS, PersonMotion

    listed = set(PERSON_ARRAYS) | set(PERSON_OPTIONAL_ARRAYS) | set(PERSON_SCALARS) | {"person_id"}
    assert listed == {f.name for f in fields(PersonMotion)}
    scene, out = processed
    back = read_scene(out)
    for a, b in zip(scene.people, back.people):
        assert a.depth_scale == b.depth_scale and a.keypoint_set == b.keypoint_set
        for name in PERSON_ARRAYS:
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
    with np.load(out / "scene.npz") as z:
        assert f"person/{scene.people[0].person_id}/depth_scale" in z.files


def test_a_person_lost_for_a_moment_is_moved_through_the_gap_and_marked_unseen(processed):
    """Frames cut out of a real track (the body model lost the person): gaps up to fill_gaps_s come back,
    with keypoint confidence 0 (unseen) and a body that moves on between its neighbours instead of
    jumping; a longer gap stays a gap; 0 turns the filling off."""
    from dataclasses import replace

    _, out = processed
    obs = load_observations(out)
    p = max(obs.people, key=lambda q: len(q.frame_index))
    short, long_ = np.arange(40, 44), np.arange(70, 90)  # 4 frames (0.13 s), 20 frames (0.67 s)
    keep = np.setdiff1d(np.arange(len(p.frame_index)), np.concatenate([short, long_]))
    cut = replace(p, **{f: np.asarray(getattr(p, f))[keep] for f in ("frame_index", "timestamp_s", "keypoints_2d",
                                                                     "keypoints_3d", "visibility")})
    holed = replace(obs, people=tuple(cut if q.person_id == p.person_id else q for q in obs.people))
    scene = reconstruct(holed, ReconstructConfig())
    q = next(x for x in scene.people if x.person_id == p.person_id)
    back = np.isin(q.frame_index, np.asarray(p.frame_index)[short])
    assert back.sum() == len(short) and not np.isin(q.frame_index, np.asarray(p.frame_index)[long_]).any()
    assert (q.keypoint_confidence[back] == 0).all() and (q.keypoint_confidence[~back].max(axis=1) > 0).all()
    i = np.flatnonzero(back)
    step = np.linalg.norm(np.diff(q.root_world[i[0] - 1: i[-1] + 2], axis=0), axis=1)
    usual = np.median(np.linalg.norm(np.diff(q.root_world, axis=0), axis=1))
    assert step.max() < 4 * usual + 0.02  # through the gap at the walker's own pace, no jump
    off = reconstruct(holed, ReconstructConfig(fill_gaps_s=0))
    assert not np.isin(next(x for x in off.people if x.person_id == p.person_id).frame_index,
                       np.asarray(p.frame_index)[short]).any()


def test_a_short_track_whose_body_never_stands_up_is_not_a_person():
    """A body folded on the floor for 1 s (vtest's 22-px figure 91 m away: 77 deg) is a broken pose and is
    dropped with a warning; the same body upright, or lying for longer than 2 s, is a person."""
    from scipy.spatial.transform import Rotation

    from nvwa.reconstruct import never_upright
    from nvwa.rig.motion import RigMotion

    def body(seconds, lean_deg):
        T = int(seconds * 10)
        q = np.tile([0.0, 0.0, 0.0, 1.0], (T, 24, 1))
        q[:, 0] = Rotation.from_euler("x", lean_deg, degrees=True).as_quat()
        return RigMotion(np.full(24, 0.15), q, np.zeros((T, 3))), np.arange(T) / 10

    assert "never stood upright" in never_upright(*body(1.0, 80))
    assert never_upright(*body(1.0, 10)) == ""
    assert never_upright(*body(3.0, 80)) == ""


def test_a_short_crouch_is_still_a_person():
    """A landing crouch leans the spine ~50 deg (Sports2D's jumper): short or not, that is a person."""
    from scipy.spatial.transform import Rotation

    from nvwa.reconstruct import never_upright
    from nvwa.rig.motion import RigMotion

    q = np.tile([0.0, 0.0, 0.0, 1.0], (9, 24, 1))
    q[:, 0] = Rotation.from_euler("x", 50, degrees=True).as_quat()
    assert never_upright(RigMotion(np.full(24, 0.15), q, np.zeros((9, 3))), np.arange(9) / 10) == ""


def _person(pid, frames, kp, vis=None):
    from nvwa.observations import PersonObservations

    kp = np.asarray(kp, dtype=np.float64)
    vis = np.ones(kp.shape[:2]) if vis is None else np.asarray(vis, dtype=np.float64)
    return PersonObservations(pid, np.asarray(frames), np.asarray(frames) / 10.0, kp, np.zeros(kp.shape[:2] + (3,)), vis)


def test_a_second_track_on_someones_head_and_shoulders_is_a_piece_of_them_and_no_one_else_is():
    """vtest 137-155 (tests/data/vtest_sign_holder_piece.npz): the man behind the sign is found twice, his
    whole body (from 138) and his head and shoulders (137-155); the piece stepped up to 1 m a frame beside
    him in the replay and was a false track in the recall bench. It is dropped as a piece of him; he is
    not a piece of it. On synthetic walkers: a piece level with the whole one's top is one; someone further
    off seen over a nearer person's shoulder, or a child in front of an adult, is not (their head is not
    level with the other's); nor is a piece that shares too few of its frames with the whole one."""
    from nvwa.tracking.people import pieces_of_others

    d = np.load(DATA / "vtest_sign_holder_piece.npz")
    piece, whole = (_person(pid, d[f"frame_index_{pid}"], d[f"keypoints_2d_{pid}"], d[f"visibility_{pid}"]) for pid in (15, 16))
    found = pieces_of_others([piece, whole])
    assert list(found) == [15] and "a piece of person 16" in found[15]
    assert pieces_of_others([whole]) == {}

    y = np.linspace(180.0, 248.0, 33)  # head to feet, 68 px
    walk = np.stack([np.column_stack([300.0 + 3 * i + np.where(np.arange(33) % 2, 8.0, -8.0), y]) for i in range(40)])
    head_and_shoulders = walk[:, :12].repeat(3, axis=1)[:, :33]  # its points all in the top 20 px
    over_the_shoulder = walk.copy()
    over_the_shoulder[..., 1] = 200.0 + (y - 180.0) * 0.4  # a whole person 27 px tall, head at the other's shoulders
    child = walk.copy()
    child[..., 1] = 214.0 + (y - 180.0) * 0.55  # 37 px tall, feet level with the adult's, head at their chest
    beside = walk + [5.0, 0.0]  # someone as tall a step beside, overlapping
    small_beside = head_and_shoulders + [40.0, 0.0]  # a smaller person beside, their head level with the other's
    frames = np.arange(40)
    whole = _person(1, frames[:30], walk[:30])
    assert list(pieces_of_others([whole, _person(2, frames[5:20], head_and_shoulders[5:20])])) == [2]
    for other in (over_the_shoulder, child, beside, small_beside):
        assert pieces_of_others([whole, _person(2, frames[5:20], other[5:20])]) == {}
    # sharing 5 of its 15 frames with the whole one: not a piece of them
    assert pieces_of_others([whole, _person(2, frames[25:40], head_and_shoulders[25:40])]) == {}
    # the longer-lived of two is never the piece: followed for 2 s as head and shoulders, whole for 1.5 s of it
    assert pieces_of_others([_person(1, frames[5:20], walk[5:20]), _person(2, frames[:20], head_and_shoulders[:20])]) == {}


def _track(d, key: str, pid: int, shift=(0.0, 0.0), frames=None):
    from nvwa.observations import PersonObservations

    sel = slice(None) if frames is None else np.isin(d[f"{key}_frame_index"], frames)
    return PersonObservations(person_id=pid, frame_index=d[f"{key}_frame_index"][sel], timestamp_s=d[f"{key}_timestamp_s"][sel],
                              keypoints_2d=d[f"{key}_keypoints_2d"][sel] + np.float32(shift),
                              keypoints_3d=d[f"{key}_keypoints_3d"][sel], visibility=d[f"{key}_visibility"][sel])


@pytest.mark.parametrize("case", ["scattered", "piece", "ended", "short"])
def test_a_track_that_went_on_over_a_scattered_pose_or_a_piece_hands_over_to_the_new_one(case):
    """Sports2D re-encoded (CRF 18 at 1920 px, slow; CRF 12 at 1768 px; CRF 30): the jumper's track lost
    him as he landed and went on for 0.2-0.4 s, over a pose scattered across the trees (drawn at 2-2.5x its
    usual pixels a metre) or over his head and chest inside the new track that had him whole, or ended over
    the trees 0.16 s before the new one began: one person now, of the older id, its own frames up to the
    new one's first (less the scattered ones before it), then the new one's. ``short``: as a phone's HEVC
    (libx265, CRF 22, 8-bit), his track went on over a piece of him for 2 frames and the new one had only
    his last 0.63 s, too short to keep of its own: joined all the same (before, his landing was lost). Not
    joined: the new track far off, or seen under 0.5 s where too short to keep; a second older track that
    would do as well; the older track's tail on someone else (a whole pose of its usual size)."""
    from nvwa.tracking.handover import handed_over

    d = np.load(DATA / "sports2d_handovers.npz")
    old, young = _track(d, f"{case}_old", 0), _track(d, f"{case}_young", 2)
    first = int(young.frame_index[0])
    people, why = handed_over([old, young])
    assert [p.person_id for p in people] == [0] and list(why) == [2] and "person 2 is person 0" in why[2]
    joined = people[0]
    assert np.all(np.diff(joined.frame_index) > 0) and joined.frame_index[-1] == young.frame_index[-1]
    assert np.array_equal(joined.keypoints_2d[joined.frame_index >= first], young.keypoints_2d)
    kept_own = joined.frame_index[joined.frame_index < first]
    before = np.sum(old.frame_index < first)
    # the scattered frames just before the new one's first are dropped (the tracks that went on over a piece had none)
    assert 0 < len(kept_own) <= before if case in ("piece", "short") else 0 < len(kept_own) <= before - 2
    assert handed_over([old, young], among={2}) == ([old, young], {})  # the older one too short to keep
    # the new one too short to keep of its own: joined where seen over 0.5 s (all four are), not under
    assert list(handed_over([old, young], among={0})[1]) == [2]
    brief = _track(d, f"{case}_young", 2, frames=young.frame_index[young.timestamp_s < young.timestamp_s[0] + 0.45])
    assert handed_over([old, brief], among={0}) == ([old, brief], {})
    assert list(handed_over([old, brief])[1]) == [2]  # (kept of its own, as among=None says: joined)
    # a second, brief track on them beside the kept new one (0.6 s, 40 px off) gives way to it, not bars it
    extra = _track(d, f"{case}_young", 3, shift=(40.0, 0.0), frames=young.frame_index[young.timestamp_s < young.timestamp_s[0] + 0.6])
    assert list(handed_over([old, young, extra], among={0, 2})[1]) == [2]

    assert handed_over([old, _track(d, f"{case}_young", 2, shift=(900.0, 0.0))])[1] == {}  # far off
    twin = _track(d, f"{case}_old", 5)
    assert handed_over([old, twin, young])[1] == {}  # two older tracks would do: neither
    # the older track's last frames a whole pose of its usual size, elsewhere: someone else, not him
    other = _track(d, f"{case}_old", 0)
    late = (other.frame_index >= first) | (other.frame_index > other.frame_index[-1] - 8)  # (ended: its last frames)
    calm = other.frame_index[other.frame_index < first - 20][-int(late.sum()):]
    rows = np.searchsorted(other.frame_index, calm)
    other.keypoints_2d[late] = other.keypoints_2d[rows] + np.float32([300.0, 0.0])
    other.keypoints_3d[late], other.visibility[late] = other.keypoints_3d[rows], other.visibility[rows]
    assert handed_over([other, young])[1] == {}
    # ... and that whole pose inside the new track's box, someone 3.5 times as big (a person passing behind a
    # nearer one: their pose keeps its size, a piece's shrinks): not joined
    from dataclasses import replace

    mid = np.nanmedian(young.keypoints_2d, axis=1, keepdims=True)
    nearer = replace(young, keypoints_2d=mid + 3.5 * (young.keypoints_2d - mid))
    for i in np.flatnonzero(late):  # each of its frames centred in the new one's box there (or its first)
        j = min(np.searchsorted(young.frame_index, other.frame_index[i]), len(young.frame_index) - 1)
        other.keypoints_2d[i] += np.float32(mid[j, 0] - np.nanmedian(other.keypoints_2d[i], axis=0))
    assert handed_over([other, nearer])[1] == {}


def test_a_track_that_went_on_with_someone_its_person_crossed_hands_over_to_the_new_one():
    """vtest 13.9-14.2 s: a man in black walking right crossed a man in jeans walking left; his track went
    on with the man in jeans for three frames, and he was found again as a new track (0.8 s, too short to
    keep of its own) until he left the picture. The new one began where his walk led, while his old track's
    poses lay beside it, by the man in jeans' track: one person now, of the older id, its frames up to
    where his walk led to the new one (frame 138 or 139), then the new one's, also where the new one's
    first two poses (139, 140) are too unsure to draw a box. Not joined: the new track beginning half his height off
    his walk, 1.5 times his size, or walking back; no track by the old one's last poses (he stopped or
    turned back while a stranger walked on); those poses on the new one's person (one person, not a
    crossing) or far off; the old track too short to keep."""
    from dataclasses import replace

    from nvwa.tracking.handover import handed_over

    d = np.load(DATA / "vtest_crossed_onto.npz")
    old, young, crossed = _track(d, "old", 7), _track(d, "young", 17), _track(d, "crossed", 13)
    people, why = handed_over([old, crossed, young], among={7, 13})
    assert [p.person_id for p in people] == [7, 13] and list(why) == [17] and "crossed" in why[17]
    joined = people[0]
    own = joined.frame_index[joined.frame_index < 141]  # his frames up to 138 or 139; from 140 on the other man's
    assert 138 <= own[-1] <= 139 and list(own) == list(old.frame_index[old.frame_index <= own[-1]])
    assert np.array_equal(joined.frame_index[joined.frame_index >= 141], young.frame_index)
    assert np.array_equal(joined.keypoints_2d[joined.frame_index >= 141], young.keypoints_2d)
    assert handed_over([old, crossed, young], among={13, 17})[1] == {}  # the older one too short to keep
    # nobody followed where his old track's poses went: he stopped or turned back, and a stranger walked on
    assert handed_over([old, young], among={7})[1] == {}
    # the new track's first two poses (139, 140) too unsure to draw a box: it begins at its first sure one
    two = np.searchsorted(old.frame_index, [139, 140])
    blind = replace(young, **{k: np.concatenate([getattr(old, k)[two], getattr(young, k)]) for k in
                              ("frame_index", "timestamp_s", "keypoints_2d", "keypoints_3d", "visibility")})
    blind.visibility[:2] = 0.0
    people, why = handed_over([old, crossed, blind], among={7, 13})
    assert list(why) == [17] and np.all(np.diff(people[0].frame_index) > 0)
    assert np.array_equal(people[0].frame_index[people[0].frame_index >= 141], young.frame_index)

    height = 75.0
    for shift in ((0.5 * height, 0.0), (-0.5 * height, 0.0), (0.0, 0.5 * height)):
        assert handed_over([old, crossed, _track(d, "young", 17, shift=shift)], among={7, 13})[1] == {}
    mid = np.nanmedian(young.keypoints_2d, axis=1, keepdims=True)
    big = replace(young, keypoints_2d=mid + 1.5 * (young.keypoints_2d - mid))
    assert handed_over([old, crossed, big], among={7, 13})[1] == {}
    back = replace(young, keypoints_2d=young.keypoints_2d.copy())  # where his walk led, but walking back
    back.keypoints_2d[..., 0] -= 2.0 * (mid[:, :, 0] - mid[0, 0, 0])
    assert handed_over([old, crossed, back], among={7, 13})[1] == {}
    late = old.frame_index >= 141
    for moved in ("onto the new one", "far off"):
        other = replace(old, keypoints_2d=old.keypoints_2d.copy())
        rows = np.searchsorted(young.frame_index, old.frame_index[late])
        other.keypoints_2d[late] = young.keypoints_2d[rows] if moved == "onto the new one" else \
            old.keypoints_2d[late] + np.float32([0.0, 1.5 * height])
        assert handed_over([other, crossed, young], among={7, 13})[1] == {}, moved


def test_a_track_that_swapped_people_at_a_crossing_is_swapped_back():
    """vtest 16.1-17.3 s (tests/data/vtest_swapped_crossing.npz): a man in a striped jumper walking left
    crossed a man in jeans behind the sign; his track had no pose for three frames (162-164), then went on
    with the man in jeans, walking right, to the end of the video, while a new track found him 1.2 s
    later, walking on where he was going; the man in jeans' own track had lost him at 156, where the
    jumper's track went on. Swapped back: his id keeps his frames to 161, then the new track's; the new
    track's id takes the older one's frames from 165 on (the man in jeans). Not swapped: the older track
    too short to keep; the new one far off his walk, 1.5 times his size, or walking back; the older track
    walking on where he was going (still on him); its poses beside the new one's (one person found
    twice); a man standing, not walking; two new tracks that would both do; no track of someone crossed
    (he stopped or turned, and a stranger walked on), or it lost them far off or walking the other way;
    the older track dressed unlike both the new one and the one crossed."""
    from dataclasses import replace

    from nvwa.tracking.swaps import swapped

    d = np.load(DATA / "vtest_swapped_crossing.npz")
    old, young, jeans = _track(d, "old", 13), _track(d, "young", 21), _track(d, "jeans", 1)

    def swaps(*tracks, crossed=jeans):
        return list(swapped([crossed, *tracks], among={1, 13, 21})[1])

    people, why = swapped([jeans, old, young], among={1, 13, 21})
    assert [p.person_id for p in people] == [1, 13, 21] and list(why) == [13] and "swapped back" in why[13]
    assert people[0] is jeans
    his, other = people[1], people[2]
    before = old.frame_index <= 161
    assert np.array_equal(his.frame_index, np.r_[old.frame_index[before], young.frame_index])
    assert np.array_equal(his.keypoints_2d, np.concatenate([old.keypoints_2d[before], young.keypoints_2d]))
    assert np.array_equal(other.frame_index, old.frame_index[~before]) and other.frame_index[0] == 165
    assert np.array_equal(other.keypoints_2d, old.keypoints_2d[~before])
    assert swapped([jeans, old, young], among={1, 21})[1] == {}  # the older track too short to keep
    # colours are a track's medians: the new one's are his; the older one's, most of it after the crossing, the other man's
    red, blue, green = (np.full((3, 3), c, np.uint8) for c in ([200, 30, 30], [30, 30, 200], [30, 160, 30]))
    people, _ = swapped([replace(jeans, colours=red), replace(old, colours=red), replace(young, colours=blue)], among={1, 13, 21})
    assert np.array_equal(people[1].colours, blue) and np.array_equal(people[2].colours, red)
    people, _ = swapped([jeans, replace(old, colours=red), young], among={1, 13, 21})
    assert people[1].colours is None and np.array_equal(people[2].colours, red)
    assert swaps(replace(old, colours=red), replace(young, colours=red), crossed=replace(jeans, colours=green)) == [13]
    # with colour samples, each piece's colours are the medians of its own: the jumper red, the man in jeans blue
    f = old.frame_index[::5]
    sampled = replace(old, colour_frames=f, colour_samples=np.where((f <= 161)[:, None, None], red, blue).astype(np.float32))
    young_red = replace(young, colour_frames=young.frame_index[::5],
                        colour_samples=np.repeat(red[None].astype(np.float32), len(young.frame_index[::5]), axis=0))
    people, _ = swapped([jeans, sampled, young_red], among={1, 13, 21})
    assert np.array_equal(people[1].colours, red) and np.array_equal(people[2].colours, blue)
    assert people[2].colour_frames.tolist() == f[f > 161].tolist()
    assert swaps(replace(old, colours=red), replace(young, colours=blue), crossed=replace(jeans, colours=green)) == []
    meshed = replace(old, vertices=np.zeros((len(old.frame_index), 4, 3), np.float16))
    assert swaps(meshed, young) == []  # a mesh backend's identity is locked per track

    height = 76.0
    assert swaps(old, young, crossed=_track(d, "jeans", 1, shift=(0.0, 1.5 * height))) == []  # lost far off
    assert swaps(old, young, crossed=_track(d, "jeans", 1, frames=np.arange(140, 149))) == []  # lost 1.7 s before
    assert swapped([old, young], among={13, 21})[1] == {}  # nobody crossed: he stopped or turned, a stranger walked on
    mirrored = replace(jeans, keypoints_2d=jeans.keypoints_2d.copy())  # lost there, but walking the other way
    mirrored.keypoints_2d[..., 0] = 2 * np.nanmedian(jeans.keypoints_2d[-1, :, 0]) - jeans.keypoints_2d[..., 0]
    assert swaps(old, young, crossed=mirrored) == []
    for shift in ((1.5 * height, 0.0), (-1.5 * height, 0.0), (0.0, 1.5 * height)):
        assert swaps(old, _track(d, "young", 21, shift=shift)) == [], shift
    mid = np.nanmedian(young.keypoints_2d, axis=1, keepdims=True)
    assert swaps(old, replace(young, keypoints_2d=mid + 1.5 * (young.keypoints_2d - mid))) == []
    back = replace(young, keypoints_2d=young.keypoints_2d.copy())  # where his walk led, but walking back
    back.keypoints_2d[..., 0] -= 2.0 * (mid[:, :, 0] - mid[0, 0, 0])
    assert swaps(old, back) == []
    # the older track still on him, walking on, and the new one a second track a little below him
    on = replace(old, keypoints_2d=old.keypoints_2d.copy())
    at, pace = old.keypoints_2d[before][-1], (old.keypoints_2d[before][-1] - old.keypoints_2d[old.frame_index == 151][0]) / 10
    on.keypoints_2d[~before] = at + pace * (old.frame_index[~before] - 161)[:, None, None].astype(np.float32)
    below = _track(d, "young", 21, shift=(0.0, 0.4 * height))
    assert swaps(old, below) == [13] and swaps(on, below) == []
    # the older track's poses beside the new one's, half his height off his walk: one person found twice
    off_walk = _track(d, "young", 21, shift=(0.0, 0.5 * height))
    beside = replace(old, keypoints_2d=old.keypoints_2d.copy())
    late = np.isin(old.frame_index, young.frame_index) & (old.frame_index >= 176)  # (after a second of his walk away)
    beside.keypoints_2d[late] = off_walk.keypoints_2d[np.searchsorted(young.frame_index, old.frame_index[late])] + np.float32([3.0, 0.0])
    assert swaps(old, off_walk) == [13] and swaps(beside, off_walk) == []
    standing = replace(old, keypoints_2d=old.keypoints_2d.copy())
    standing.keypoints_2d[before] = old.keypoints_2d[before][-1]  # at his last pose before the crossing all along
    assert swaps(standing, young) == []
    twin = _track(d, "young", 22, shift=(4.0, 0.0))
    assert list(swapped([jeans, old, young, twin], among={1, 13, 21, 22})[1]) == []
    assert list(swapped([jeans, old, twin], among={1, 13, 22})[1]) == [13]


def test_a_walker_still_followed_is_not_swapped_for_a_companion_found_again():
    """Synthetic, 10 and 30 fps: two people walk left side by side (1 height a second, the companion 0.3 of
    a height lower in the picture); the companion's track loses them at 2 s and a new track finds them
    again 0.3 s later, walking on. The walker's own track went on with the walker (on their walk's line):
    no swap, though the companion's track ended where it went on, at its pace, and the new track began
    where the walker's walk led (within reach), walking on as they had."""
    from nvwa.tracking.swaps import swapped

    walker = _walker
    for fps in (10.0, 30.0):
        t = np.arange(0, round(5 * fps)) / fps
        own = walker(1, t, 1600.0 - 80.0 * t, 500.0, fps)
        lost, again = t < 2.0 - 1e-9, t >= 2.3 - 1e-9
        companion = walker(2, t[lost], 1600.0 - 80.0 * t[lost], 524.0, fps)
        found = walker(3, t[again], 1600.0 - 80.0 * t[again], 524.0, fps)
        assert swapped([own, companion, found], among={1, 2, 3})[1] == {}, fps


def _walker(pid, t, x, feet_y, fps, height=80.0):
    """A synthetic walker: 33 keypoints over an upright body box ``height`` px tall, feet at (``x``,
    ``feet_y``) at times ``t`` (s), frames at ``fps``."""
    from dataclasses import replace

    across, down = np.linspace(-0.2, 0.2, 33)[np.random.default_rng(1).permutation(33)], np.linspace(-1.0, 0.0, 33)
    x, feet_y = np.broadcast_to(np.asarray(x, float), t.shape), np.broadcast_to(np.asarray(feet_y, float), t.shape)
    kp = np.stack(np.broadcast_arrays(x[:, None] + across * height, feet_y[:, None] + down[None] * height), axis=-1)
    return replace(_person(pid, np.rint(t * fps).astype(int), kp), timestamp_s=t)


def _dressed(p, look, skin=(200.0, 160.0, 130.0), every=5):
    """``p`` with a colour sample every ``every``-th frame: ``look(frame)`` -> (upper, lower) sRGB, plus
    ``skin``, with a little noise (seeded); its colours their medians."""
    from dataclasses import replace

    from nvwa.body.colours import person_colours

    rng = np.random.default_rng(int(p.person_id))
    frames = np.asarray(p.frame_index)[::every]
    samples = [np.clip(np.array([*look(int(f)), skin], np.float32) + rng.normal(0, 3, (3, 3)), 0, 255).astype(np.float32)
               for f in frames]
    return replace(p, colour_frames=frames.astype(np.int64), colour_samples=np.stack(samples), colours=person_colours(samples))


def _sampled(d, key: str, pid: int, **kw):
    from dataclasses import replace

    return replace(_track(d, key, pid, **kw), colour_frames=d[f"{key}_colour_frames"], colour_samples=d[f"{key}_colour_samples"])


def test_a_track_whose_clothes_changed_gives_the_frames_after_to_the_person_lost_beside_it():
    """vtest 0-12 s (tests/data/vtest_clothes_changed.npz): a man in black walking right to the sign passed a
    man in jeans walking left, whose track lost him at frame 30 (his legs behind the first man); the black
    one's track went on with the man in jeans from frame 41 while he stood behind the sign (its lower
    clothing black in the samples at 0-20, jeans from 51). The frames after go to the man in jeans' track,
    with their samples. Not changed: the track too short to keep; the one lost far off, dressed like the
    track before the change, or only roughly like it after, or not lost (it goes on past the first sample
    after); no change of clothes,
    or only a sample or a quarter of them off; two lost tracks that would both do; a mesh backend's."""
    from dataclasses import replace

    from nvwa.body.colours import person_colours
    from nvwa.tracking.clothes import clothes_changed

    d = np.load(DATA / "vtest_clothes_changed.npz")
    black, jeans = _sampled(d, "black", 1), _sampled(d, "jeans", 2)

    def changed(*tracks, among=frozenset({1, 2, 3})):
        return list(clothes_changed(list(tracks), among=set(among))[1])

    people, why = clothes_changed([black, jeans], among={1, 2})
    assert list(why) == [1] and "person 2" in why[1] and "frame 39" in why[1]
    mine = black.frame_index <= 39
    assert np.array_equal(people[0].frame_index, black.frame_index[mine])
    assert np.array_equal(people[0].keypoints_2d, black.keypoints_2d[mine])
    assert people[0].colour_frames.tolist() == [0, 15, 20]
    assert np.array_equal(people[1].frame_index, np.r_[jeans.frame_index, black.frame_index[~mine]])
    assert np.array_equal(people[1].keypoints_2d, np.concatenate([jeans.keypoints_2d, black.keypoints_2d[~mine]]))
    assert people[1].colour_frames.tolist() == [5, 10, 15, 24, 51, 91, 96, 101, 111, 116]
    assert np.array_equal(people[1].colour_samples, np.concatenate([jeans.colour_samples, black.colour_samples[3:]]))
    # each one's colours are now the medians of their own samples: black trousers, jeans
    assert people[0].colours[1].max() < 20 and people[1].colours[1, 2] > people[1].colours[1, 0] + 20
    assert np.array_equal(people[0].colours, person_colours(list(black.colour_samples[:3])))
    assert changed(black, jeans, among={2}) == []  # the track too short to keep

    height = 71.0
    assert changed(black, _sampled(d, "jeans", 2, shift=(1.5 * height, 0.0))) == []  # lost far off
    like_before = replace(jeans, colour_samples=np.repeat(black.colour_samples[:1], len(jeans.colour_frames), axis=0))
    assert changed(black, like_before) == []  # the one lost there dressed like the track before
    assert changed(black, replace(jeans, colour_frames=None, colour_samples=None)) == []  # dressed how: only its colours
    on = np.r_[jeans.frame_index, 60]  # not lost: its track goes on past the first sample after
    assert changed(black, _track_frames(jeans, on)) == []
    faint = _track_frames(jeans, np.r_[jeans.frame_index, 45, 60])  # ... if only with poses it is unsure of
    faint.visibility[-2:] = 0.0
    assert changed(black, faint) == []
    early = _track_frames(jeans, np.r_[jeans.frame_index, 45])  # an unsure pose inside the taker's frames after the cut
    early.visibility[-1] = 0.0
    people, why = clothes_changed([black, early], among={1, 2})
    assert list(why) == [1] and np.all(np.diff(people[1].frame_index) > 0) and 45 in people[1].frame_index
    one = replace(jeans, colour_frames=jeans.colour_frames[:1], colour_samples=jeans.colour_samples[:1])
    assert changed(black, one) == []  # one sample (and colours whose unseen parts are a placeholder) tell nothing
    lighter = replace(jeans, colour_samples=jeans.colour_samples + np.float32(50.0))  # ~26 apart from the track after
    assert changed(black, lighter) == []  # like it, but not closely: the track's own person in a shadow, a stranger lost there
    red = np.array([[200, 30, 30], [200, 30, 30], [200, 150, 120]], np.float32)
    assert changed(black, replace(jeans, colour_samples=np.repeat(red[None], len(jeans.colour_frames), axis=0))) == []
    assert changed(black, jeans, replace(black, person_id=3)) == []  # two tracks went on with them: whose, unknown
    gone = np.isin(black.frame_index, np.arange(24, 37), invert=True)  # the track had no pose near when they were lost
    assert changed(_track_frames(black, black.frame_index[gone]), jeans) == []
    same = replace(black, colour_samples=np.repeat(black.colour_samples[:1], len(black.colour_frames), axis=0))
    assert changed(same, jeans) == []  # no change of clothes
    one = black.colour_samples.copy()
    one[3:] = one[0]
    one[5] = black.colour_samples[5]
    assert changed(replace(black, colour_samples=one), jeans) == []  # one sample (a passer-by in it)
    B, J = black.colour_samples[0], black.colour_samples[5]  # 3 of 8 after dressed as before: no change, a mix
    mixed = replace(black, colour_frames=np.array([0, 15, 20, 51, 61, 71, 81, 91, 101, 111, 116]),
                    colour_samples=np.stack([B, B, B, J, B, J, B, J, J, B, J]))
    assert changed(mixed, jeans) == []
    shade = black.colour_samples.copy()
    shade[3:] = shade[0] + 25.0  # lighter after (out of a shadow), by less than two people's clothes
    assert changed(replace(black, colour_samples=shade), replace(jeans, colour_samples=shade[3:7])) == []
    twin = replace(jeans, person_id=3)
    assert changed(black, jeans, twin) == []  # two lost there, dressed alike: whose, unknown
    meshed = replace(black, vertices=np.zeros((len(black.frame_index), 4, 3), np.float16))
    assert changed(meshed, jeans) == []


def test_a_track_whose_look_changed_keeps_its_frames_where_its_person_walked_on_or_the_light_changed():
    """What the clothes' change must tell from a track that went on with someone else (synthetic walkers,
    10 fps, 80 px tall, and the real vtest tracks). Kept: someone walking on as they walked while their
    look changes (a white jacket taken off, black under it) just as a stranger dressed so, walking the
    other way, is lost beside them; the track's last two samples dressed as before (the change not for
    good: a passer-by read over them, or the track back on its person; the last one alone is given over); the track's person walking into shade (their
    skin darker with their clothes) while a stranger dressed as the shade shows them is lost beside them.
    Given over: the same with the track after on the stranger's walk; two walking side by side the same
    way (the stranger 0.4 of a height beside: near where the track's own walk led, but nearer where the
    stranger's did); the same with the stranger lost with their legs hidden (their walk from the poses
    drawn whole); the shade's look on a stranger whose skin is as lit as before; a change to darker clothes
    that some light explains one way but none back. The cut at a crossing
    falls where the track jumped from one to the other, not at a frame the detector missed before it, and
    a runner's at the jump, not at a stride (their walk taken out of each step)."""
    from dataclasses import replace

    from nvwa.tracking.clothes import clothes_changed

    white, black, jeans = (225.0, 225.0, 220.0), (25.0, 25.0, 28.0), (70.0, 90.0, 125.0)
    fps, h = 10.0, 80.0
    t = np.arange(60) / fps
    a_x = 200.0 + h * t  # walking right a height a second
    end = 28  # the stranger's track's last frame, between the samples at 25 and 30
    b_x = a_x[end] + 0.3 * h - 1.2 * h * (t - t[end])  # walking left, lost 0.3 of a height beside
    stranger = _dressed(_walker(2, t[: end + 1], b_x[: end + 1], 500.0 - 0.15 * h, fps), lambda f: (black, jeans))

    def look(f):
        return (white if f < 30 else black, jeans)

    def changed(*tracks):
        return clothes_changed(list(tracks), among={1, 2})

    walked_on = _dressed(_walker(1, t, a_x, 500.0, fps), look)
    assert changed(walked_on, stranger)[1] == {}
    on_b = t > t[end] + 1e-9
    went_on = _dressed(_walker(1, t, np.where(on_b, b_x, a_x), np.where(on_b, 500.0 - 0.15 * h, 500.0), fps), look)
    people, why = changed(went_on, stranger)
    assert list(why) == [1] and people[0].frame_index.max() == end and people[1].frame_index.min() == 0
    side_x = a_x + 0.4 * h  # side by side, the same way
    side = _dressed(_walker(2, t[: end + 1], side_x[: end + 1], 500.0 - 0.1 * h, fps), lambda f: (black, jeans))
    went_on = _dressed(_walker(1, t, np.where(on_b, side_x, a_x), np.where(on_b, 500.0 - 0.1 * h, 500.0), fps), look)
    assert list(changed(went_on, side)[1]) == [1]

    # the stranger walking the same way a little faster, 0.1 of a height behind, lost with their legs hidden
    # over their last 3 frames (their feet then drawn half a height higher, against their walk)
    b_x = a_x[end] + h * (t - t[end])
    behind = _walker(2, t[: end + 1], b_x[: end + 1], 500.0 - 0.1 * h, fps)
    legs = behind.visibility.copy()
    legs[-3:, np.argsort(behind.keypoints_2d[0, :, 1])[-16:]] = 0.0  # the 16 lowest keypoints unseen
    behind = _dressed(replace(behind, visibility=legs), lambda f: (black, jeans))
    on_b = t > t[end] + 1e-9
    went_on = _dressed(_walker(1, t, np.where(on_b, b_x, a_x), np.where(on_b, 500.0 - 0.1 * h, 500.0), fps), look)
    assert list(changed(went_on, behind)[1]) == [1]
    # a runner (3 heights a second: 0.3 a frame, a stride over CHANGED_STEP) whose track jumps at frame 29 onto
    # a stranger running beside them 0.3 of a height behind, lost at 26: the cut at the jump, not a stride
    r_x = 200.0 + 3 * h * t
    runner_b = _dressed(_walker(2, t[:27], r_x[:27] - 0.3 * h, 500.0 - 0.1 * h, fps), lambda f: (black, jeans))
    on_b = t > 2.85
    ran_on = _dressed(_walker(1, t, np.where(on_b, r_x - 0.3 * h, r_x), np.where(on_b, 500.0 - 0.1 * h, 500.0), fps), look)
    people, why = changed(ran_on, runner_b)
    assert list(why) == [1] and people[0].frame_index.max() == 28

    # a crossing: the stranger lost at 3.0 s where they met; the track stays on its person to frame 35, then
    # jumps to the stranger; the detector missed frame 32; the person is not seen clearly (no sample) 2.6-3.9 s
    cross_x = a_x[30] - h * (t - t[30])
    stranger = _dressed(_walker(2, t[:31], cross_x[:31], 500.0 + 0.1 * h, fps), lambda f: (black, jeans))
    on_b, kept = t > 3.5 + 1e-9, np.rint(t * fps) != 32
    crossed = _walker(1, t[kept], np.where(on_b, cross_x, a_x)[kept], np.where(on_b, 500.0 + 0.1 * h, 500.0)[kept], fps)
    crossed = _dressed(crossed, lambda f: (black, jeans) if f > 35 else (white, jeans), every=1)
    clear = np.abs(crossed.colour_frames - 32.5) > 6.5
    crossed = replace(crossed, colour_frames=crossed.colour_frames[clear][::5], colour_samples=crossed.colour_samples[clear][::5])
    people, why = changed(crossed, stranger)
    assert list(why) == [1] and people[0].frame_index.max() == 35 and "after frame 35" in why[1]

    d = np.load(DATA / "vtest_clothes_changed.npz")
    black_track, jeans_track = _sampled(d, "black", 1), _sampled(d, "jeans", 2)
    frames = np.r_[0, 15, 20, np.arange(51, 120, 5)]  # a sample every 5th frame after the change: 14 of them
    back = np.stack([black_track.colour_samples[0]] * 3 + [black_track.colour_samples[5]] * 14)
    back[-2:] = back[0]  # the last two dressed as before (12 of 14 as after: sure): not for good
    assert changed(replace(black_track, colour_frames=frames, colour_samples=back), jeans_track)[1] == {}
    back[-2] = back[-3]  # the last one only: a passer-by in it, the change stands
    assert list(changed(replace(black_track, colour_frames=frames, colour_samples=back), jeans_track)[1]) == [1]

    def lit(rgb, gain, tint=(0.85, 1.0, 1.2)):  # sRGB seen under ``gain`` times the light, bluish
        c = np.asarray(rgb, float) / 255.0
        c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4) * gain * np.asarray(tint)
        return np.float32(255.0 * np.where(c <= 0.0031308, c * 12.92, 1.055 * np.clip(c, 0, 1) ** (1 / 2.4) - 0.055))

    sun = np.float32([(190, 170, 135), (140, 130, 95), (200, 160, 130)])  # beige, khaki, skin
    for skin_too, cut in ((True, False), (False, True)):
        shade = lit(sun, 0.2)
        if not skin_too:
            shade[2] = sun[2]
        samples = np.where(np.arange(len(black_track.colour_frames))[:, None, None] < 3, sun, shade).astype(np.float32)
        taker = replace(black_track, colour_samples=samples)
        lost = replace(jeans_track, colour_samples=np.repeat(shade[None], len(jeans_track.colour_frames), axis=0))
        assert (list(changed(taker, lost)[1]) == [1]) == cut, skin_too
    # light jeans and beige to black and brown (skin unseen): some light takes the first to the second, none
    # the second back (the dark ones lie close together): two people, given over
    first = np.float32([(120, 140, 170), (190, 170, 135), (np.nan,) * 3])
    second = np.float32([(25, 25, 28), (95, 65, 45), (np.nan,) * 3])
    samples = np.where(np.arange(len(black_track.colour_frames))[:, None, None] < 3, first, second).astype(np.float32)
    lost = replace(jeans_track, colour_samples=np.repeat(second[None], len(jeans_track.colour_frames), axis=0))
    assert list(changed(replace(black_track, colour_samples=samples), lost)[1]) == [1]


def _track_frames(p, frames):
    """``p`` with a pose at each of ``frames`` (its own where it has one, else its last)."""
    from dataclasses import replace

    at = np.minimum(np.searchsorted(p.frame_index, frames), len(p.frame_index) - 1)
    return replace(p, frame_index=np.asarray(frames), timestamp_s=np.asarray(frames) / 10.0,
                   **{n: getattr(p, n)[at] for n in ("keypoints_2d", "keypoints_3d", "visibility")})


@pytest.mark.parametrize("case", ["woman", "walker", "blonde", "jumper"])
def test_someone_lost_in_the_picture_and_found_where_they_were_going_is_one_person(case):
    """Three people the tracker lost away from the picture's border and did not know again, found by a new
    track where they were going: vtest 20.4 s, a woman in black standing at the back (the next frame; her
    colours 0.34 alike, under re-identification's 0.55); 48.2 s, a man walking away behind two others
    (0.7 s; the new track 0.8 s long, too short to keep of its own, and lost again 0.3 s before a third
    took him on: all three one person); 76.5 s, a blonde woman in black walking away, her last pose
    drawn over a man in front (0.6 s; her height now half what it was when she was near, and the new one
    found where her walk's line, not that last pose, put her); Sports2D re-encoded at CRF 26 and
    1024 px, the jumper lost mid-flip and found as he landed (0.73 s). One person of the older id, all
    its frames then the new one's. Not joined: no picture given; either at the picture's border (someone
    walking out, someone walking in); the new one 1.5 times their size, or a body height off where they
    were going; found again 0.9 s after (RESUMED_GAP_S is 0.8); the older track too short to keep. The
    camera turned 30 px as the woman was lost: joined where its track is given, not where it is not. Not
    joined either: the new track a second one on someone another track followed all along; a track too
    short to keep that would claim the new one too; the woman's new track in a red coat (her colours as
    sampled on both tracks: joined); the man found where his walk led but walking back, or
    seen there 0.2 s only where that is too short to keep. Found
    further on the man's way (twice his walk of those 0.7 s on), out of reach of where he stood but not
    of where his walk led: joined."""
    from dataclasses import replace

    from nvwa.tracking.handover import CROSSED_WALK_S, RESUMED_REACH, _walk, handed_over
    from nvwa.tracking.people import _boxes

    d = np.load(DATA / "lost_and_found.npz")
    old, young = _track(d, f"{case}_old", 4), _track(d, f"{case}_young", 23)
    picture = (1024, 576) if case == "jumper" else (768, 576)
    people, why = handed_over([old, young], among={4}, picture=picture)
    assert [p.person_id for p in people] == [4] and list(why) == [23] and "found again" in why[23]
    assert np.array_equal(people[0].frame_index, np.r_[old.frame_index, young.frame_index])
    assert np.array_equal(people[0].keypoints_2d, np.concatenate([old.keypoints_2d, young.keypoints_2d]))

    assert handed_over([old, young], among={4})[1] == {}  # no picture: where its border is is not known
    assert handed_over([old, young], among={23}, picture=picture)[1] == {}  # the older one too short
    for last in (old.keypoints_2d[-1], young.keypoints_2d[0]):  # the border just beyond one of the two
        assert handed_over([old, young], among={4}, picture=(int(np.nanmax(last[:, 0])) + 3, picture[1]))[1] == {}
    usual = float(np.median(np.nanmax(old.keypoints_2d[..., 1], 1) - np.nanmin(old.keypoints_2d[..., 1], 1)))
    near = (int(np.nanmax(old.keypoints_2d[-1, :, 0]) + 0.25 * usual), picture[1])  # a quarter of their height off
    assert handed_over([old, young], among={4}, picture=near)[1] == {}
    mid = np.nanmedian(young.keypoints_2d, axis=1, keepdims=True)
    big = replace(young, keypoints_2d=mid + 1.5 * (young.keypoints_2d - mid))
    assert handed_over([old, big], among={4}, picture=picture)[1] == {}
    height = float(np.median(np.nanmax(old.keypoints_2d[..., 1], 1) - np.nanmin(old.keypoints_2d[..., 1], 1)))
    for shift in ((0.0, -1.2 * height), (-1.2 * height, 0.0)):
        assert handed_over([old, _track(d, f"{case}_young", 23, shift=shift)], among={4}, picture=picture)[1] == {}
    gap = float(young.timestamp_s[0] - old.timestamp_s[-1])
    later = replace(young, timestamp_s=young.timestamp_s + (0.9 - gap))  # found again 0.9 s after
    assert handed_over([old, later], among={4}, picture=picture)[1] == {}
    # the new track a second one on someone another track followed all along (a twin of theirs): not joined
    twin_frames = np.arange(old.frame_index[0] - 5, young.frame_index[-1] + 1)
    rows = np.clip(np.searchsorted(young.frame_index, twin_frames), 0, len(young.frame_index) - 1)
    twin = replace(young, person_id=99, frame_index=twin_frames, timestamp_s=young.timestamp_s[0] + (
        twin_frames - young.frame_index[0]) * float(np.median(np.diff(young.timestamp_s))),
        keypoints_2d=young.keypoints_2d[rows], keypoints_3d=young.keypoints_3d[rows], visibility=young.visibility[rows])
    assert handed_over([old, young, twin], among={4, 99}, picture=picture)[1] == {}
    # a track too short to keep that would claim the new one as well: the new one is joined to neither
    last = old.timestamp_s >= old.timestamp_s[-1] - 1.2  # (its walk the same)
    tail = replace(old, person_id=98, **{k: getattr(old, k)[last] for k in
                                         ("frame_index", "timestamp_s", "keypoints_2d", "keypoints_3d", "visibility")})
    assert handed_over([old, tail, young], among={4}, picture=picture)[1] == {}
    if case == "woman":  # her clothes' colours as sampled on each track: joined; the new one in a red coat: not
        dressed = replace(old, colours=d["woman_old_colours"]), replace(young, colours=d["woman_young_colours"])
        assert list(handed_over(list(dressed), among={4}, picture=picture)[1]) == [23]
        red = d["woman_young_colours"].copy()
        red[0] = (170, 30, 35)
        assert handed_over([dressed[0], replace(young, colours=red)], among={4}, picture=picture)[1] == {}
    if case == "woman":  # the camera turned 30 px between her last frame and the new one's first
        from nvwa.camera.background import CameraTrack

        frames = np.arange(old.frame_index[0], young.frame_index[-1] + 1)
        H = np.repeat(np.eye(3)[None], len(frames), 0)
        H[frames >= young.frame_index[0], 0, 2] = -30.0  # those frames' pixels -> the first frame's
        n = len(frames)
        cam = CameraTrack(frame_index=frames, timestamp_s=frames / 10.0, H_first_from_frame=H,
                          inliers=np.full(n, 100, np.int32), status=np.zeros(n, np.int8),
                          parallax_px=np.zeros(n, np.float32), H_raw_first_from_frame=H.copy())
        panned = _track(d, "woman_young", 23, shift=(30.0, 0.0))
        assert handed_over([old, panned], among={4}, picture=picture)[1] == {}  # 30 px off, as the picture shows
        assert list(handed_over([old, panned], among={4}, picture=picture, camera=cam)[1]) == [23]
    if case == "walker":  # lost again 0.3 s after the new track's last frame, and found by a third: one person
        nxt = _track(d, "walker_next", 40)
        people, why = handed_over([old, young, nxt], among={4, 40}, picture=picture)
        assert [p.person_id for p in people] == [4] and sorted(why) == [23, 40]
        assert np.array_equal(people[0].frame_index, np.r_[old.frame_index, young.frame_index, nxt.frame_index])
    if case == "walker":  # where his walk led but walking back; or seen there 0.2 s only (too short to keep)
        fo, bo = _boxes(old, 0.5)
        to = old.timestamp_s[np.searchsorted(old.frame_index, fo)]
        walk = _walk(to, (bo[:, :2] + bo[:, 2:]) / 2, to[-1] - CROSSED_WALK_S)  # px/s
        mid_y = np.nanmedian(young.keypoints_2d, axis=1, keepdims=True)
        dt = (young.timestamp_s - young.timestamp_s[0])[:, None, None]
        for sign, joined in ((1.0, [23]), (-1.0, [])):  # from the same first pose, on at his pace, or back
            paced = replace(young, keypoints_2d=(young.keypoints_2d - (mid_y - mid_y[:1]) + sign * walk * dt).astype(np.float32))
            assert list(handed_over([old, paced], among={4}, picture=picture)[1]) == joined
        glimpse = replace(young, **{k: getattr(young, k)[:3] for k in
                                    ("frame_index", "timestamp_s", "keypoints_2d", "keypoints_3d", "visibility")})
        assert handed_over([old, glimpse], among={4}, picture=picture)[1] == {}
        assert list(handed_over([old, glimpse], among={4, 23}, picture=picture)[1]) == [23]
    if case == "walker":  # found further on his way than he stood: where his walk led, he is found
        fo, bo = _boxes(old, 0.5)
        to = old.timestamp_s[np.searchsorted(old.frame_index, fo)]
        centre = (bo[:, :2] + bo[:, 2:]) / 2
        on = 2.0 * _walk(to, centre, to[-1] - CROSSED_WALK_S) * gap  # his walk of 0.7 s, twice over
        further = _track(d, f"{case}_young", 23, shift=tuple(on))
        fy, by = _boxes(further, 0.5)
        usual = float(np.median(bo[:, 3] - bo[:, 1]))
        assert np.linalg.norm((by[0, :2] + by[0, 2:]) / 2 - centre[-1]) > (RESUMED_REACH[0] + RESUMED_REACH[1] * gap) * usual
        assert list(handed_over([old, further], among={4}, picture=picture)[1]) == [23]


def _zoom_track(frames, zoom, centre):
    """A camera track that zoomed by ``zoom`` (one per frame) about ``centre``: each frame's pixels onto the
    first frame's."""
    from nvwa.camera.background import CameraTrack

    n = len(frames)
    H = np.repeat(np.eye(3)[None], n, 0)
    H[:, 0, 0] = H[:, 1, 1] = 1 / np.asarray(zoom)
    H[:, :2, 2] = np.asarray(centre) * (1 - 1 / np.asarray(zoom))[:, None]
    return CameraTrack(frame_index=np.asarray(frames), timestamp_s=np.asarray(frames) / 10.0, H_first_from_frame=H,
                       inliers=np.full(n, 100, np.int32), status=np.zeros(n, np.int8),
                       parallax_px=np.zeros(n, np.float32), H_raw_first_from_frame=H.copy())


def _filmed_zooming(tracks, zoom_of, about):
    """``tracks`` as a camera zooming by ``zoom_of(frame)`` about ``about`` (px) films them, and that camera's
    track."""
    from dataclasses import replace

    frames = np.arange(min(int(p.frame_index[0]) for p in tracks), max(int(p.frame_index[-1]) for p in tracks) + 1)
    zoomed = [replace(p, keypoints_2d=(about + zoom_of(np.asarray(p.frame_index))[:, None, None] * (p.keypoints_2d - about)).astype(np.float32))
              for p in tracks]
    return zoomed, _zoom_track(frames, zoom_of(frames), about)


def test_the_identity_rules_count_a_zooming_camera_s_people_in_the_first_frame_s_pixels():
    """A zoom while filming draws everyone bigger; the identity rules compare where people are on the first
    frame's pixels, and now their heights there too (before, their reach was in each frame's own heights: at
    1.3x, 1.3 times too far). vtest's blonde woman walking away (76.5 s), lost and found 0.6 s on where her
    walk led, the camera zooming in 1.5x (about the picture's centre) between her last frame and the new
    one's first: one person where the zoom is given (before: drawn 1.5 times her size, not her); not where
    it is not. The camera zoomed 1.3x in or 0.7x out 2 s before she was lost, and she found at eight offsets
    up to 1.4 of her reach aside: joined exactly where she is with the camera still (before: at 1.3x also
    1.2 of her reach to one side and 0.8 to the other, the reach 1.3 times too long; at 0.7x not at 1.0 of it
    to one side and 0.6 to the other, 0.7 times too short). And a walker's track, the camera zooming in 3x as it went on: its
    poses drawn as many pixels a metre as unzoomed, where the zoom is given (not the last 1.5 times its median,
    "scattered", to the hand-over rule)."""
    from dataclasses import replace

    from nvwa.tracking.handover import RESUMED_REACH, _size_ratio, handed_over
    from nvwa.tracking.people import _boxes
    from nvwa.tracking.seen import _seen

    d = np.load(DATA / "lost_and_found.npz")
    old, young = _track(d, "blonde_old", 4), _track(d, "blonde_young", 23)
    picture, centre = (768, 576), np.array([383.5, 287.5])
    frames = np.arange(old.frame_index[0], young.frame_index[-1] + 1)

    def zoomed(p, z):  # the frames from the new track's first on drawn z times bigger about the centre
        return replace(p, keypoints_2d=(centre + z * (p.keypoints_2d - centre)).astype(np.float32))

    cam = _zoom_track(frames, np.where(frames >= young.frame_index[0], 1.5, 1.0), centre)
    assert list(handed_over([old, zoomed(young, 1.5)], among={4}, picture=picture, camera=cam)[1]) == [23]
    assert handed_over([old, young], among={4}, picture=picture, camera=cam)[1] == {}  # (drawn as before: 1/1.5 her size)
    assert handed_over([old, zoomed(young, 1.5)], among={4}, picture=picture)[1] == {}  # the zoom not given
    bo = _boxes(old, 0.5)[1]
    reach = float(np.median(bo[-10:, 3] - bo[-10:, 1])) * (RESUMED_REACH[0] + RESUMED_REACH[1] * float(young.timestamp_s[0] - old.timestamp_s[-1]))
    outcomes = set()
    since = old.frame_index[-1] - 20  # the camera zoomed 2 s before she was lost: her last second drawn zoomed too
    for k in (-1.4, -1.2, -1.0, 0.0, 0.6, 0.8, 1.0, 1.2):  # found this many of her reach aside
        aside = _track(d, "blonde_young", 23, shift=(k * reach, 0.0))
        joined = list(handed_over([old, aside], among={4}, picture=picture)[1])
        outcomes.add(tuple(joined))
        for z in (1.3, 0.7):
            tracks, cam = _filmed_zooming([old, aside], lambda f, z=z: np.where(f >= since, z, 1.0), centre)
            assert list(handed_over(tracks, among={4}, picture=picture, camera=cam)[1]) == joined, (k, z)
    assert outcomes == {(23,), ()}

    walker = _track(d, "walker_old", 4)
    z = np.linspace(1.0, 3.0, len(walker.frame_index))
    grown = replace(walker, keypoints_2d=(centre + z[:, None, None] * (walker.keypoints_2d - centre)).astype(np.float32))
    cam = _zoom_track(np.asarray(walker.frame_index), z, centre)
    plain = _size_ratio(walker, _seen(walker, 0.5, None), 0.5)
    assert np.max(_size_ratio(grown, _seen(grown, 0.5, None), 0.5) / plain) > 1.4  # (the zoom not given: 3x over its median 2x)
    assert np.allclose(_size_ratio(grown, _seen(grown, 0.5, cam), 0.5), plain, rtol=0.01)


def _rule_cases():
    """Every identity rule on its real cases (``tests/data``), with the tracks it must join and a stranger
    where it must not: (name, rule(tracks, camera) -> the joined ids, tracks joined, tracks not joined)."""
    from nvwa.tracking.clothes import clothes_changed
    from nvwa.tracking.handover import handed_over
    from nvwa.tracking.stand_in import stand_ins
    from nvwa.tracking.swaps import swapped

    cases = []
    d = np.load(DATA / "lost_and_found.npz")
    for case in ("woman", "walker", "blonde", "jumper"):
        picture = (1024, 576) if case == "jumper" else (768, 576)
        old = _track(d, f"{case}_old", 4)
        height = float(np.median(np.nanmax(old.keypoints_2d[..., 1], 1) - np.nanmin(old.keypoints_2d[..., 1], 1)))
        cases.append((f"lost and found, {case}", lambda t, cam, pic=picture: handed_over(t, among={4}, picture=pic, camera=cam)[1],
                      [old, _track(d, f"{case}_young", 23)], [old, _track(d, f"{case}_young", 23, shift=(-1.2 * height, 0.0))]))
    d = np.load(DATA / "sports2d_handovers.npz")
    for case in ("scattered", "piece", "ended", "short"):
        old = _track(d, f"{case}_old", 0)
        cases.append((f"hand-over, {case}", lambda t, cam: handed_over(t, camera=cam)[1],
                      [old, _track(d, f"{case}_young", 2)], [old, _track(d, f"{case}_young", 2, shift=(900.0, 0.0))]))
    d = np.load(DATA / "vtest_swapped_crossing.npz")
    old, jeans = _track(d, "old", 13), _track(d, "jeans", 1)
    cases.append(("swap", lambda t, cam: swapped(t, among={1, 13, 21}, camera=cam)[1],
                  [jeans, old, _track(d, "young", 21)], [jeans, old, _track(d, "young", 21, shift=(1.5 * 76.0, 0.0))]))
    d = np.load(DATA / "vtest_clothes_changed.npz")
    black = _sampled(d, "black", 1)
    cases.append(("changed clothes", lambda t, cam: clothes_changed(t, among={1, 2}, camera=cam)[1],
                  [black, _sampled(d, "jeans", 2)], [black, _sampled(d, "jeans", 2, shift=(1.5 * 71.0, 0.0))]))
    d = np.load(DATA / "vtest_stand_ins.npz")
    for case in ("woman", "walker"):
        first = _track(d, f"{case}_first", 4)
        height = float(np.median(np.nanmax(first.keypoints_2d[..., 1], 1) - np.nanmin(first.keypoints_2d[..., 1], 1)))
        cases.append((f"stand-in, {case}", lambda t, cam: stand_ins(t, among={4, 21}, picture=(768, 576), camera=cam)[1],
                      [first, _track(d, f"{case}_stand_in", 21)], [first, _track(d, f"{case}_stand_in", 21, shift=(-1.2 * height, 0.0))]))
    return cases


@pytest.mark.parametrize("zoom", [1.4, 0.7])
def test_every_identity_rule_joins_as_with_the_camera_still_while_it_zooms(zoom):
    """Each identity rule's real cases (people lost and found, hand-overs, a swap, changed clothes, stand-ins)
    and a stranger a body height or more off, filmed by a camera zooming from 1x to ``zoom`` over the 2 s
    before the new track begins (about where it begins): joined exactly as with the camera still, where its
    zoom is given (the rules count heights in the first frame's pixels)."""
    for name, rule, joined, stranger in _rule_cases():
        begun = min(int(p.frame_index[0]) for p in joined[1:])
        about = np.nanmean(joined[-1].keypoints_2d[np.searchsorted(joined[-1].frame_index, begun)], axis=0)

        span = 60 if name.startswith("hand-over") or name.endswith("jumper") else 20  # 2 s: Sports2D's 30 fps, vtest's 10

        def zoom_of(f, begun=begun, span=span):  # 1x until 2 s before the new track begins, ``zoom`` from it on
            return 1 + (zoom - 1) * np.clip((np.asarray(f) - (begun - span)) / span, 0.0, 1.0)
        for tracks, expected in ((joined, True), (stranger, False)):
            still = list(rule(tracks, None))
            assert bool(still) == expected, (name, still)
            assert list(rule(*_filmed_zooming(tracks, zoom_of, about))) == still, (name, zoom, expected)


def test_someone_found_again_coming_out_from_behind_something_is_one_person_and_a_chain_is_joined_link_by_link():
    """vtest's CRF 18 copy, 46-79 s: a man walking away behind two others and then behind the sign is four
    tracks: lost at 48.2 s and found again 0.7 s on (34), lost behind the sign at 54.7 s and found again
    0.3 s on (39) as his head showed over it (drawn 0.31 of his height, then 0.49 and 0.79 within 0.2 s; his
    box's centre sinking as more of him showed, while his head walked on as he had), lost at 70.8 s and
    found again 0.4 s on (51). Every link is found in the first pass: one person, of the first id, all four
    tracks' frames in order (the chain's first link each pass). Not joined to the third: drawn at most
    0.67 or 1.5 of his height over its first 0.5 s (0.85x and 1.9x his poses), or no taller than its first
    pose then, or a body height off, or its first pose 0.6 of his height to the side of the rest (not grown from
    that head); the first two are still joined. (He walks away from the camera at 0.22
    of his height a second in the picture, under RESUMED_HEADING: which way his head went is not compared;
    the walker of the test above is.)"""
    from dataclasses import replace

    from nvwa.tracking.handover import CROSSED_WALK_S, handed_over
    from nvwa.tracking.people import _boxes

    d = np.load(DATA / "vtest_crf18_behind_sign.npz")
    t = {pid: replace(_track(d, f"t{pid}", pid), colours=d[f"t{pid}_colours"]) for pid in (32, 34, 39, 51)}
    picture = (768, 576)

    def people_with(third):  # -> the people's ids ([32, 39, ...]: the third not joined to the first two)
        return [p.person_id for p in handed_over([t[32], t[34], third, t[51]], among={32, 34, 39, 51}, picture=picture)[0]]

    people, why = handed_over(list(t.values()), among=set(t), picture=picture)
    assert [p.person_id for p in people] == [32] and sorted(why) == [34, 39, 51]
    assert "found again" in why[39] and "0.30 s after" in why[39]
    assert np.array_equal(people[0].frame_index, np.concatenate([t[i].frame_index for i in (32, 34, 39, 51)]))
    assert people_with(t[39]) == [32]

    def height(p):
        return np.nanmax(p.keypoints_2d[..., 1], 1) - np.nanmin(p.keypoints_2d[..., 1], 1)
    fo, bo = _boxes(t[34], 0.5)
    to = t[34].timestamp_s[np.searchsorted(t[34].frame_index, fo)]
    usual = float(np.median((bo[:, 3] - bo[:, 1])[to >= to[-1] - CROSSED_WALK_S]))
    young = t[39]
    early = young.timestamp_s <= young.timestamp_s[0] + 0.5
    assert height(young)[0] / usual < 1 / 1.35 <= height(young)[early].max() / usual  # the case: a first pose too small
    mid = np.nanmedian(young.keypoints_2d, axis=1, keepdims=True)
    for s in (0.85, 1.9):  # his tallest then 0.67 or 1.5 of his height
        assert people_with(replace(young, keypoints_2d=mid + s * (young.keypoints_2d - mid)))[:2] == [32, 39], s
    top = np.stack([np.nanmedian(young.keypoints_2d[..., 0], 1), np.nanmin(young.keypoints_2d[..., 1], 1)], 1)[:, None]
    small = young.keypoints_2d.copy()  # over its first 0.5 s drawn at its first pose's height, about its head
    small[early] = top[early] + (small[early] - top[early]) * (height(young)[0] / height(young)[early])[:, None, None]
    assert people_with(replace(young, keypoints_2d=small))[:2] == [32, 39]
    for shift in ((0.0, -1.2 * usual), (1.2 * usual, 0.0)):
        assert people_with(replace(young, keypoints_2d=young.keypoints_2d + np.float32(shift)))[:2] == [32, 39], shift
    aside = young.keypoints_2d.copy()  # its first pose 0.6 of his height to the side of the rest: not grown from
    aside[0, :, 0] += 0.6 * usual  # that head (EMERGED_HEAD: 0.35 + 0.75 x 0.2 s), a track gone onto someone else
    assert people_with(replace(young, keypoints_2d=aside))[:2] == [32, 39]


def _emerging(pid, t, x, feet_y, fps, shown, height=80.0):
    """A synthetic walker (as :func:`_walker`, its head 0.1 of its height wide, its body 0.4; ``x``, ``feet_y``
    and ``height`` px, or per frame) of whom only the top ``shown`` share (per frame) is seen: someone coming out from behind
    something."""
    down = np.linspace(-1.0, 0.0, 33)
    across = np.where(down < -0.85, 0.05, 0.2) * np.linspace(-1.0, 1.0, 33)[np.random.default_rng(2).permutation(33)]
    x, feet_y, height = (np.broadcast_to(np.asarray(v, float), t.shape)[:, None] for v in (x, feet_y, height))
    kp = np.stack(np.broadcast_arrays(x + across * height, feet_y + down[None] * height), axis=-1)
    vis = (down[None] <= -1.0 + np.asarray(shown, float)[:, None] + 1e-9).astype(float)
    from dataclasses import replace

    return replace(_person(pid, np.rint(t * fps).astype(int), kp, vis), timestamp_s=t)


def test_a_track_begun_on_the_head_of_someone_followed_is_no_one_found_again():
    """A walker lost at 2 s, and 0.3 s later a new track begins where his walk led on a head (0.1 of his
    height shown, growing to 0.8 of it over 0.5 s, 30 fps): him coming out from behind something,
    joined. Someone whole drawn as small and growing as fast there, the top of their box level with his, their
    legs seen (far off, coming nearer), is compared at their first pose: not joined. And where someone else is followed there all along, the new track is a second one on them (its
    head's box overlaps little of their whole one until it has grown: the twin check looks from its tallest
    pose on): not joined."""
    from nvwa.tracking.handover import handed_over

    fps, h = 30, 80.0
    t_p, t_y = np.arange(0, 60) / fps, np.arange(69, 120) / fps
    walker = _walker(1, t_p, 384.0 - 0.8 * h * (2.0 - t_p), 450.0, fps)
    x_y = 384.0 + 0.8 * h * (t_y - 2.0)
    grows = np.minimum(1.0, 0.1 + 0.7 * (t_y - t_y[0]) / 0.5)
    found = _emerging(2, t_y, x_y, 450.0, fps, grows)
    assert list(handed_over([walker, found], among={1, 2}, picture=(768, 576))[1]) == [2]
    far = _emerging(2, t_y, x_y, 370.0 + h * grows, fps, np.ones(len(t_y)), height=h * grows)  # whole, legs seen,
    assert handed_over([walker, far], among={1, 2}, picture=(768, 576))[1] == {}  # head level with his: not him
    t_s = np.arange(15, 120) / fps
    stranger = _emerging(3, t_s, 384.0 + 0.8 * h * (t_s - 2.0), 450.0, fps, np.ones(len(t_s)))
    assert handed_over([walker, found, stranger], among={1, 2, 3}, picture=(768, 576))[1] == {}


@pytest.mark.parametrize("case", ["woman", "walker"])
def test_a_track_that_stood_in_for_someone_while_theirs_was_lost_is_theirs(case):
    """Two people the tracker lost, a new track took on, and whose own track found them again where the new
    one was going: vtest 15.6-17.9 s, a woman in black lost behind a man crossing in front of her, followed
    by a new track for 1.9 s that drifted onto the man beside her as her own found her again (one frame of
    both); its CRF 23 copy 72.4-77.1 s, a man lost as another crossed him, followed by a new track for 3.8 s.
    One person of the first id: its frames before the stand-in's first, the stand-in's up to where it was
    found again, its own from there, in frame order. Not joined: no picture given; either one too short to
    keep; the stand-in begun or ended a body height off where the person's walk led; running on 0.6 s after
    theirs found them again (0.5 s: joined); their poses in reverse (walking back); dressed otherwise; a
    second stand-in for the same gap, or a second track the stand-in could fill (each alone: joined); a
    rival begun in the gap 0.6 s before it (its twin check would pass the first begun only); a short track
    lost where it began; a stranger 0.85 of the person's size (each end within 1.35x, not both); the first
    track's last pose before the gap at the picture's border. A stand-in unseen from before the gap on
    does not take the first track's own poses before it."""
    from dataclasses import replace

    from nvwa.tracking.stand_in import STAND_IN_OVERLAP_S, stand_ins

    d = np.load(DATA / "vtest_stand_ins.npz")
    first, stand = _track(d, f"{case}_first", 4), _track(d, f"{case}_stand_in", 21)
    picture = (768, 576)
    people, why = stand_ins([first, stand], among={4, 21}, picture=picture)
    assert [p.person_id for p in people] == [4] and list(why) == [21] and "person 21 is person 4" in why[21]
    fa, fb = first.frame_index, stand.frame_index
    back = fa[np.searchsorted(fa, fb[0])]  # found again here
    expected = np.sort(np.r_[fa[(fa < fb[0]) | (fa >= back)], fb[fb < back]])
    assert np.array_equal(people[0].frame_index, expected) and np.all(np.diff(people[0].frame_index) > 0)
    at = np.searchsorted(fb, fb[fb < back])
    rows = np.searchsorted(people[0].frame_index, fb[fb < back])
    assert np.array_equal(people[0].keypoints_2d[rows], stand.keypoints_2d[at])
    if case == "woman":
        assert fb[-1] >= back  # the stand-in's frame on the man beside her is not kept

    assert stand_ins([first, stand], among={4, 21})[1] == {}  # no picture
    assert stand_ins([first, stand], among={4}, picture=picture)[1] == {}
    assert stand_ins([first, stand], among={21}, picture=picture)[1] == {}
    height = float(np.median(np.nanmax(first.keypoints_2d[..., 1], 1) - np.nanmin(first.keypoints_2d[..., 1], 1)))
    for shift in ((0.0, -1.2 * height), (-1.2 * height, 0.0)):  # the stand-in elsewhere
        assert stand_ins([first, _track(d, f"{case}_stand_in", 21, shift=shift)], among={4, 21}, picture=picture)[1] == {}
    after = fa >= back  # found again elsewhere: a body height off where the stand-in was going
    moved = replace(first, keypoints_2d=np.where(after[:, None, None], first.keypoints_2d + np.float32(1.2 * height), first.keypoints_2d))
    assert stand_ins([moved, stand], among={4, 21}, picture=picture)[1] == {}
    extra = np.arange(max(fb[-1] + 1, back), back + round((STAND_IN_OVERLAP_S + 0.1) * 10) + 1)  # on to 0.6 s after theirs
    longer = _track_frames(stand, np.r_[fb, extra])
    off = np.clip(longer.frame_index - extra[0] + 1, 0, None)[:, None, None] * np.float32([0.3 * height, 0.0])  # drifting off
    longer = replace(longer, timestamp_s=longer.frame_index / 10.0, keypoints_2d=(longer.keypoints_2d + off).astype(np.float32))
    assert list(stand_ins([first, replace(longer, **{n: getattr(longer, n)[:-1] for n in (
        "frame_index", "timestamp_s", "keypoints_2d", "keypoints_3d", "visibility")})], among={4, 21}, picture=picture)[1]) == [21]
    assert stand_ins([first, longer], among={4, 21}, picture=picture)[1] == {}
    back_way = replace(stand, keypoints_2d=stand.keypoints_2d[::-1].copy())  # the same places, walked the other way
    assert stand_ins([first, back_way], among={4, 21}, picture=picture)[1] == {}
    dressed = replace(first, colours=d[f"{case}_first_colours"]), replace(stand, colours=d[f"{case}_stand_in_colours"])
    assert list(stand_ins(list(dressed), among={4, 21}, picture=picture)[1]) == [21]  # as sampled: joined
    red = d[f"{case}_stand_in_colours"].copy()
    red[0] = (170, 30, 35)
    assert stand_ins([dressed[0], replace(dressed[1], colours=red)], among={4, 21}, picture=picture)[1] == {}
    beside = (0.2 * height, 0.0)  # a second stand-in for the gap, or a second track it could stand in for
    second = _track(d, f"{case}_stand_in", 22, shift=beside, frames=fb[fb < back])
    assert list(stand_ins([first, second], among={4, 22}, picture=picture)[1]) == [22]  # alone: joined
    assert stand_ins([first, stand, second], among={4, 21, 22}, picture=picture)[1] == {}
    other = _track(d, f"{case}_first", 5, shift=beside)
    assert list(stand_ins([other, stand], among={5, 21}, picture=picture)[1]) == [21]
    assert stand_ins([first, other, stand], among={4, 5, 21}, picture=picture)[1] == {}
    lost = fa[np.searchsorted(fa, fb[0]) - 1]  # a rival begun 0.6 s before the stand-in, on the same place: the first
    sooner = _track(d, f"{case}_first", 4, frames=fa[(fa <= lost - 3) | (fa >= back)])  # track lost them 0.3 s sooner
    mine, theirs = _track(d, f"{case}_first", 22, frames=fa[(fa > lost - 3) & (fa <= lost)]), _track(d, f"{case}_stand_in", 22, frames=fb[fb < back])
    rival = replace(mine, **{n: np.concatenate([getattr(mine, n), getattr(theirs, n)]) for n in
                             ("frame_index", "timestamp_s", "keypoints_2d", "keypoints_3d", "visibility")})
    rival = replace(rival, keypoints_2d=rival.keypoints_2d + np.float32(0.05 * height))  # its own poses, then the stand-in's
    assert list(stand_ins([sooner, rival], among={4, 22}, picture=picture)[1]) == [22]  # alone: joined
    assert list(stand_ins([sooner, stand], among={4, 21}, picture=picture)[1]) == [21]
    assert stand_ins([sooner, stand, rival], among={4, 21, 22}, picture=picture)[1] == {}
    tail = _track(d, f"{case}_first", 30, frames=fa[(fa < fb[0]) & (fa >= fa[np.searchsorted(fa, fb[0]) - 1] - 7)])
    assert stand_ins([first, tail, stand], among={4, 21}, picture=picture)[1] == {}  # a short track lost there too
    mid = np.nanmedian(stand.keypoints_2d, axis=1, keepdims=True)  # a stranger 0.85 of the person's size: each end
    small = replace(stand, keypoints_2d=(mid + 0.85 * (stand.keypoints_2d - mid)).astype(np.float32))  # within 1.35x
    assert stand_ins([first, small], among={4, 21}, picture=picture)[1] == {}
    lead_in = _track_frames(stand, np.r_[np.arange(fa[0], fb[0]), fb])  # unseen from before the first track's gap on
    lead_in = replace(lead_in, visibility=np.where((lead_in.frame_index < fb[0])[:, None], np.float32(0), lead_in.visibility))
    people, _ = stand_ins([first, lead_in], among={4, 21}, picture=picture)
    mine = fa[(fa <= lost) | (fa >= back)]  # the first track's own poses before its gap and after are kept
    assert np.array_equal(people[0].frame_index, np.r_[mine[mine <= lost], lead_in.frame_index[
        (lead_in.frame_index > lost) & (lead_in.frame_index < back)], mine[mine >= back]])
    assert np.array_equal(people[0].keypoints_2d[np.isin(people[0].frame_index, mine)], first.keypoints_2d[np.isin(fa, mine)])
    last = first.keypoints_2d[np.searchsorted(fa, fb[0]) - 1]  # the picture's border just past where it lost them
    assert stand_ins([first, stand], among={4, 21}, picture=(int(np.nanmax(last[:, 0])) + 3, picture[1]))[1] == {}


def test_how_long_someone_was_seen_comes_from_their_frames_where_the_file_gives_no_frame_rate():
    """A 10-fps file with no frame rate in its container: 15 frames are 1.5 s, not 0.5 s (a 30-fps guess
    dropped such people as under --min-person-s 1); with the rate given, frames x stride / fps as before."""
    from types import SimpleNamespace

    from nvwa.tracking.people import keep_people

    people = [_person(1, np.arange(15), np.zeros((15, 33, 2))), _person(2, np.arange(5), np.zeros((5, 33, 2)))]
    kept = lambda video, options: [p.person_id for p in keep_people(SimpleNamespace(video=video, options=options, people=people), 1.0)]  # noqa: E731
    assert kept({}, {}) == [1]
    assert kept({"fps": 10.0}, {}) == [1] and kept({"fps": 30.0}, {}) == [] and kept({"fps": 30.0}, {"stride": 3}) == [1]


def _variable_rate_observations(people, index=None, t=None):
    """A phone's variable-rate video as analysed at 30 fps: 1 s at 60 fps (every 2nd frame kept), 1 s at 30
    (every frame), 1 s at 60 again; the container's average is 45 fps, its step 2 (or frames ``index`` at ``t``)."""
    from nvwa.camera.background import CameraTrack
    from nvwa.observations import Observations

    if index is None:
        index = np.r_[np.arange(0, 60, 2), np.arange(60, 90), np.arange(90, 150, 2)]
        t = np.r_[np.arange(0, 60, 2) / 60, 1 + np.arange(30) / 30, 2 + np.arange(0, 60, 2) / 60]
    F = len(index)
    track = CameraTrack(index, t, np.tile(np.eye(3), (F, 1, 1)), np.full(F, 100, np.int32), np.zeros(F, np.int8),
                        np.full(F, np.nan, np.float32), np.tile(np.eye(3), (F, 1, 1)))
    return Observations(video={"width": 640, "height": 480, "fps": 45.0}, keypoint_set="blazepose33",
                        body_model="blazepose", tracker="blazepose", K_observed=np.eye(3), intrinsics_source="default",
                        options={"stride": 2, "max_fps": 30.0}, people=tuple(people), camera_track=track), index, t


def _seen_on(pid, index, t, rows):
    from nvwa.observations import PersonObservations

    T = len(rows)
    kp = np.tile(np.linspace(100, 300, 66).reshape(33, 2), (T, 1, 1)) + np.asarray(t)[rows, None, None] * 30
    return PersonObservations(pid, index[rows], t[rows], kp, np.zeros((T, 33, 3)), np.ones((T, 33)))


def test_how_long_someone_was_seen_counts_each_stretch_of_a_variable_rate_video_at_its_own_rate():
    """Each analysed frame stands for the time to its neighbour: 25 frames of the 30-fps stretch are 0.83 s
    (the average's step over its rate, 2 / 45 s a frame, made them 1.1 s: kept under --min-person-s 1), 30
    thinned frames of a 60-fps stretch 1.0 s, 20 of them 0.67 s."""
    from nvwa.tracking.people import keep_people

    _, index, t = _variable_rate_observations([])
    people = [_seen_on(1, index, t, np.arange(32, 57)), _seen_on(2, index, t, np.arange(0, 30)),
              _seen_on(3, index, t, np.arange(60, 80)), _seen_on(4, index, t, np.arange(20, 50))]
    obs, _, _ = _variable_rate_observations(people)
    assert [p.person_id for p in keep_people(obs, 1.0)] == [2, 4]
    assert [p.person_id for p in keep_people(obs, 0.8)] == [1, 2, 4]
    # a phone's clock jitters by 2 ms: someone seen 31 frames at 30 fps (1.03 s) is always kept, 29 never
    rng = np.random.default_rng(0)
    for _ in range(50):
        t = np.sort(np.arange(90) / 30 + rng.normal(0, 0.002, 90))
        people = [_seen_on(1, np.arange(90), t, np.arange(10, 41)), _seen_on(2, np.arange(90), t, np.arange(50, 79))]
        obs, _, _ = _variable_rate_observations(people, np.arange(90), t)
        assert [p.person_id for p in keep_people(obs, 1.0)] == [1]


def test_a_gap_in_a_variable_rate_video_is_filled_with_the_frames_analysed_there_at_their_own_times():
    """Lost for 0.1 s in the 30-fps stretch (3 frames) and in a thinned 60-fps one (3 of its kept frames):
    the frames put back are the analysed ones (every frame, then every 2nd), at their times, the keypoints
    linear in time between the frames seen; a step of 2 from the container would skip every other frame of
    the 30-fps stretch."""
    from nvwa.tracking.people import with_gaps_filled

    _, index, t = _variable_rate_observations([])
    rows = np.r_[np.arange(20, 40), np.arange(43, 70), np.arange(73, 85)]  # 40-42: 30-fps frames; 70-72: 60-fps ones
    whole = _seen_on(1, index, t, np.arange(20, 85))
    obs, _, _ = _variable_rate_observations([_seen_on(1, index, t, rows)])
    p = with_gaps_filled(obs, 0.5).people[0]
    assert np.array_equal(p.frame_index, index[20:85]) and np.allclose(p.timestamp_s, t[20:85], atol=1e-12)
    assert np.allclose(p.keypoints_2d, whole.keypoints_2d, atol=1e-9)  # the motion's own line through the gap
    back = ~np.isin(p.frame_index, index[rows])
    assert np.array_equal(p.frame_index[back], np.r_[index[40:43], index[70:73]]) and (p.visibility[back] == 0).all()
