"""bench/recall.py's identity score: whether each labelled person keeps one track from sighting to sighting."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from recall import identity_score, score  # noqa: E402  the bench's own scoring

from nvwa.scene.schema import PersonMotion, Scene  # noqa: E402

# two people at two labelled frames: P walks right along y 100-200, Q left along y 300-400
LABELS = {"frames": [
    {"frame_index": 0, "people": [{"box": [100, 100, 140, 200], "min_height_px": 100},
                                  {"box": [500, 300, 540, 400], "min_height_px": 100}]},
    {"frame_index": 10, "people": [{"box": [400, 300, 440, 400], "min_height_px": 100},  # Q first here
                                   {"box": [200, 100, 240, 200], "min_height_px": 100}]},
]}
IDENTITIES = {"frames": {"0": [0, 1], "10": [1, 0]}}  # P is identity 0, Q identity 1


def _person(person_id: int, where: dict[int, list[float]]) -> PersonMotion:
    """A scene person whose 33 keypoints fill the box ``where[frame]`` at each of its frames."""
    frames = sorted(where)
    T = len(frames)
    kp = np.stack([np.column_stack([np.linspace(b[0] + 5, b[2] - 5, 33), np.linspace(b[1] + 5, b[3] - 5, 33)])
                   for b in (where[f] for f in frames)])
    z = np.zeros((T, 24, 3))
    return PersonMotion(person_id, "blazepose33", np.array(frames), np.array(frames) / 10.0, z, z, np.zeros((T, 3)),
                        np.zeros((T, 24, 3, 3)), np.ones(23), np.zeros((23, 3)), np.ones((T, 24)), kp, np.ones((T, 33)),
                        np.zeros((T, 2), bool))


def _scene(*people: PersonMotion) -> Scene:
    return Scene({}, np.eye(3), np.eye(3), np.zeros(3), {}, tuple(people))


P0, P10, Q0, Q10 = [100, 100, 140, 200], [200, 100, 240, 200], [500, 300, 540, 400], [400, 300, 440, 400]


def test_one_track_for_each_person_keeps_every_sighting():
    s = identity_score(_scene(_person(5, {0: P0, 10: P10}), _person(6, {0: Q0, 10: Q10})), LABELS, IDENTITIES)
    assert (s["kept"], s["broken"], s["people_split"], s["tracks_on_two_people"]) == (2, 0, 0, 0)
    assert s["sightings_kept"] == 1.0


def test_two_tracks_that_swapped_their_people_break_both_and_each_is_on_two_people():
    s = identity_score(_scene(_person(5, {0: P0, 10: Q10}), _person(6, {0: Q0, 10: P10})), LABELS, IDENTITIES)
    assert (s["kept"], s["broken"], s["people_split"], s["tracks_on_two_people"]) == (0, 2, 2, 2)
    assert sorted(b["person"] for b in s["breaks"]) == [0, 1]
    assert s["two"] == {"5": [0, 1], "6": [0, 1]}


def test_a_person_found_again_under_a_new_track_is_split_but_no_track_holds_two_people():
    s = identity_score(_scene(_person(5, {0: P0}), _person(7, {10: P10}), _person(6, {0: Q0, 10: Q10})),
                       LABELS, IDENTITIES)
    assert (s["kept"], s["broken"], s["people_split"], s["tracks_on_two_people"]) == (1, 1, 1, 0)
    assert s["breaks"] == [{"person": 0, "frames": [0, 10], "tracks": [5, 7]}]
    assert s["split"] == {"0": [5, 7]}


def test_a_person_missed_at_one_sighting_is_left_to_recall():
    scene = _scene(_person(5, {0: P0}), _person(6, {0: Q0, 10: Q10}))
    s = identity_score(scene, LABELS, IDENTITIES)
    assert (s["kept"], s["broken"]) == (1, 0)
    assert score(scene, LABELS)["found"] == 3


def test_identities_that_do_not_name_every_labelled_person_are_refused():
    with pytest.raises(SystemExit, match="frame 10 names 1 people, the labels have 2"):
        identity_score(_scene(), LABELS, {"frames": {"0": [0, 1], "10": [1]}})
    with pytest.raises(SystemExit, match="frame 10 names 0 people, the labels have 2"):
        identity_score(_scene(), LABELS, {"frames": {"0": [0, 1]}})


def test_a_person_who_left_and_came_back_is_one_person_where_the_identities_say_so():
    labels = {"frames": LABELS["frames"] + [{"frame_index": 20, "people": [{"box": [300, 100, 340, 200], "min_height_px": 100}]}]}
    back = {"frames": {**IDENTITIES["frames"], "20": [2]}}  # P came back as a new number ...
    scene = _scene(_person(5, {0: P0, 10: P10, 20: [300, 100, 340, 200]}), _person(6, {0: Q0, 10: Q10}))
    assert identity_score(scene, labels, back)["tracks_on_two_people"] == 1  # ... so the track that kept him is on two
    s = identity_score(scene, labels, {**back, "same": [[0, 2]]})
    assert (s["kept"], s["broken"], s["tracks_on_two_people"]) == (3, 0, 0)


@pytest.mark.parametrize("codec, bits, pix", [("h264", 8, "yuv420p"), ("hevc", 8, "yuv420p"), ("hevc", 10, "yuv420p10le")])
def test_a_copy_is_every_frame_again_at_the_sources_own_rate(tmp_path, codec, bits, pix):
    """--copies (and bench/reencodes.py) encode every frame at the source's rate: a 10-fps copy made at 30 fps
    would put vtest's labelled frames at other times, and Sports2D's copies stay at its 30. The HEVC copies
    (a phone's codec) are HEVC, of the bits asked."""
    import av
    from reencodes import encode

    src = Path(__file__).resolve().parent / "data" / "vtest_4s.mp4"
    encode(src, tmp_path / "copy.mp4", 23, 384, "ultrafast", codec, bits)
    with av.open(str(src)) as a, av.open(str(tmp_path / "copy.mp4")) as b:
        va, vb = a.streams.video[0], b.streams.video[0]
        assert vb.codec_context.name == codec and vb.codec_context.pix_fmt == pix
        times = [float(f.time) for f in b.decode(vb)]
        assert vb.average_rate == va.average_rate == 10
        assert len(times) == sum(1 for _ in a.decode(va)) == 40
        assert np.allclose(np.diff(times), 0.1) and (vb.width, vb.height) == (384, 288)


def test_a_person_who_came_back_twice_is_still_one_person():
    labels = {"frames": LABELS["frames"] + [{"frame_index": 20, "people": [{"box": [300, 100, 340, 200], "min_height_px": 100}]},
                                            {"frame_index": 30, "people": [{"box": [400, 100, 440, 200], "min_height_px": 100}]}]}
    back = {"frames": {**IDENTITIES["frames"], "20": [2], "30": [3]}, "same": [[0, 2], [2, 3]]}
    scene = _scene(_person(5, {0: P0, 10: P10, 20: [300, 100, 340, 200], 30: [400, 100, 440, 200]}), _person(6, {0: Q0, 10: Q10}))
    s = identity_score(scene, labels, back)
    assert (s["kept"], s["people_labelled"], s["tracks_on_two_people"]) == (4, 2, 0)


def test_identities_that_name_one_person_twice_in_a_frame_are_refused():
    with pytest.raises(SystemExit, match=r"frame 10 names one person twice \(\[0, 0\]\)"):
        identity_score(_scene(), LABELS, {"frames": {"0": [0, 1], "10": [0, 2]}, "same": [[0, 2]]})


def test_a_track_inside_two_overlapping_boxes_is_the_one_whose_centre_it_sits_on():
    """Two people overlapping, the track's keypoints inside both boxes: it covers the one it is centred on,
    whichever the labels list first."""
    near_first = {"frames": [{"frame_index": 0, "people": [{"box": [90, 90, 170, 230], "min_height_px": 140},
                                                           {"box": [100, 100, 140, 200], "min_height_px": 100}]}]}
    s = score(_scene(_person(5, {0: P0})), near_first)
    assert [m["box"] for m in s["missed"]] == [[90, 90, 170, 230]]
    assert identity_score(_scene(), {"frames": []}, {"frames": {}})["sightings_kept"] is None


def test_the_held_out_frames_are_other_frames_labelled_as_the_first_set():
    """bench/data/vtest_people_held_out.json: 24 frames 16 after each of the first set's (every 33rd from 15), boxes
    as the first set writes them (pixel edges inside the 768x576 frame, min_height_px their height, left to right);
    152 people, as the README quotes."""
    import json

    from recall import HELD_OUT

    held = json.loads(HELD_OUT.read_text())
    assert [fr["frame_index"] for fr in held["frames"]] == [31 + 33 * k for k in range(24)]
    for fr in held["frames"]:
        assert fr["timestamp_s"] == pytest.approx(fr["frame_index"] / 10) and fr["people"]
        assert [p["box"][0] for p in fr["people"]] == sorted(p["box"][0] for p in fr["people"])
        for p in fr["people"] + fr["ignore"]:
            x0, y0, x1, y1 = p["box"]
            assert all(isinstance(v, int) for v in p["box"]) and 0 <= x0 < x1 <= 768 and 0 <= y0 < y1 <= 576, (fr["frame_index"], p)
        for p in fr["people"]:
            assert p["min_height_px"] == p["box"][3] - p["box"][1] and isinstance(p["full_body"], bool) and p["uncertain"] is False
    assert sum(len(fr["people"]) for fr in held["frames"]) == 152


def _held_out_report(tmp_path, monkeypatch, held=None, held_ids=None) -> dict:
    """recall.py's report on the two-people scene, the labels above as the first set and ``held`` / ``held_ids`` as
    the held-out files (None: the file is absent)."""
    import json
    from dataclasses import replace

    import recall

    from nvwa.scene.schema import save_scene

    for name, content in (("LABELS", LABELS), ("IDENTITIES", IDENTITIES), ("HELD_OUT", held), ("HELD_OUT_IDENTITIES", held_ids)):
        path = tmp_path / f"{name}.json"
        if content is not None:
            path.write_text(json.dumps({"width": 768, **content}))
        monkeypatch.setattr(recall, name, path)
    scene = replace(_scene(_person(5, {0: P0, 10: P10}), _person(6, {0: Q0, 10: Q10})),
                    floor={"normal_cam": [0.0, -1.0, 0.0], "offset": 1.5})
    save_scene(scene, tmp_path / "scene")
    assert recall.main(["--scene", str(tmp_path / "scene"), "--out", str(tmp_path / "recall.json")]) == 0
    return json.loads((tmp_path / "recall.json").read_text())


# the held-out files of the tests below: the labels' two frames and a third where a person nobody tracks stands
HELD = {"frames": LABELS["frames"] + [{"frame_index": 20, "people": [{"box": [600, 100, 640, 200], "min_height_px": 100}], "ignore": []}]}


def test_the_report_scores_the_held_out_frames_and_their_identities_beside_the_first(tmp_path, monkeypatch, capsys):
    import json

    # who is who on the held-out frames says the two swapped places (the first set's identities say they did not)
    report = _held_out_report(tmp_path, monkeypatch, HELD, {"frames": {"0": [7, 8], "10": [7, 8], "20": [9]}})
    assert (report["found"], report["labelled"], report["identity"]["kept"]) == (4, 4, 2)
    held = report["held_out"]
    assert (held["found"], held["labelled"], held["false_tracks"]) == (4, 5, 0)
    assert [m["box"] for m in held["missed"]] == [[600, 100, 640, 200]]
    assert (held["identity"]["kept"], held["identity"]["broken"], held["identity"]["tracks_on_two_people"]) == (0, 2, 2)
    printed = json.loads(capsys.readouterr().out)
    assert "missed" not in printed["held_out"] and "breaks" not in printed["held_out"]["identity"]
    assert printed["held_out"]["recall"] == 0.8


def test_without_the_held_out_files_the_report_has_no_held_out_figures(tmp_path, monkeypatch):
    assert "held_out" not in _held_out_report(tmp_path, monkeypatch)
    assert "identity" not in _held_out_report(tmp_path, monkeypatch, HELD)["held_out"]


def test_held_out_identities_that_do_not_fit_their_labels_are_refused_by_name(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match=r"HELD_OUT_IDENTITIES\.json: frame 20 names 0 people, the labels have 1"):
        _held_out_report(tmp_path, monkeypatch, HELD, {"frames": {"0": [7, 8], "10": [7, 8]}})


def test_the_held_out_identities_name_every_labelled_person_once():
    """bench/data/vtest_identities_held_out.json: one identity for each labelled person of each held-out frame, none
    twice in a frame; each pair of numbers it joins as one person ("same", who left and came back) is seen apart in
    time, the first before the second; 18 people, as the README quotes."""
    import json

    from recall import HELD_OUT, HELD_OUT_IDENTITIES

    held, ids = json.loads(HELD_OUT.read_text()), json.loads(HELD_OUT_IDENTITIES.read_text())
    assert sorted(ids["frames"], key=int) == [str(fr["frame_index"]) for fr in held["frames"]]
    for fr in held["frames"]:
        who = ids["frames"][str(fr["frame_index"])]
        assert len(who) == len(fr["people"]) and len(set(who)) == len(who), fr["frame_index"]
    seen = {}
    for f, who in ids["frames"].items():
        for i in who:
            seen.setdefault(i, []).append(int(f))
    assert all(max(seen[a]) < min(seen[b]) for a, b in ids["same"])
    assert identity_score(_scene(), held, ids)["people_labelled"] == 18


def test_a_zoomed_copy_s_labels_are_moved_by_its_zoom_and_those_it_cropped_left_out():
    """--zoomed: each labelled box moved by its frame's zoom about the picture's centre (a track on the person
    as the zoomed frame shows them covers them; one where the unzoomed box was does not), the people the zoom
    pushed out of the picture left out of recall and identity alike; at 1x, nothing changes."""
    from recall import zoomed_labels

    labels = {"width": 640, "height": 480, **LABELS}
    same, ids, left = zoomed_labels(labels, IDENTITIES, lambda f: 1.0)
    assert (same["frames"], ids, left) == (LABELS["frames"], IDENTITIES, 0)
    moved, ids, left = zoomed_labels(labels, IDENTITIES, lambda f: 1.0 if f == 0 else 2.0)
    assert left == 1 and ids["frames"] == {"0": [0, 1], "10": [0]}  # Q (400-440 px) left the picture at 2x; P stays
    assert moved["frames"][1]["people"] == [{"box": [80.5, -39.5, 160.5, 160.5], "min_height_px": 200.0}]
    assert labels["frames"][1]["people"][1]["box"] == P10  # (the labels given are left as they were)
    zoomed = _person(5, {0: P0, 10: [80.5, -39.5, 160.5, 160.5]})
    assert score(_scene(zoomed), moved)["found"] == 2 and score(_scene(_person(5, {0: P0, 10: P10})), moved)["found"] == 1
    on_q = _person(6, {10: [480.5, 360.5, 560.5, 480]})  # what the picture still shows of Q at 2x
    assert score(_scene(zoomed, on_q), moved)["false_tracks"] == 0 and score(_scene(on_q), LABELS)["false_tracks"] == 1
