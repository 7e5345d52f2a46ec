"""The CPU tracker on real video: a far walker (about 30 px tall, 3-5 px wide side-on) found as soon as
the detector is sure of her and followed as one person, not two."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "vtest.mp4"
# the far walker on the path at the top left: vtest_people.json's box (checked by eye) at frame 81
FAR_WALKER = {81: [275, 52, 284, 84]}


def _inside(kp: np.ndarray, box, grow: float = 0.1) -> float:
    x0, y0, x1, y1 = box
    gx, gy = grow * (x1 - x0), grow * (y1 - y0)
    return float(((kp[:, 0] >= x0 - gx) & (kp[:, 0] <= x1 + gx) & (kp[:, 1] >= y0 - gy) & (kp[:, 1] <= y1 + gy)).mean())


@pytest.fixture(scope="module")
def first_125(blazepose):
    from dataclasses import replace

    from nvwa.pipeline import Pipeline, PipelineConfig

    config = PipelineConfig()
    config = replace(config, video=replace(config.video, max_frames=125))
    *_, done = Pipeline(config, body=blazepose).observe(SAMPLE)
    return done.data["observations"]


def _on(obs, frame: int, box) -> list[int]:
    """The ids of the tracks with most of their keypoints in ``box`` at ``frame``."""
    ids = []
    for p in obs.people:
        i = np.flatnonzero(p.frame_index == frame)
        if len(i) and _inside(p.keypoints_2d[i[0]], box) >= 0.5:
            ids.append(p.person_id)
    return ids


def test_a_box_where_nobody_was_found_is_checked_again_when_the_detector_grows_sure():
    """vtest.avi, the far walker: at frame 78 the detector is unsure of her (0.40) and the pose check finds
    nobody; at 81 it is sure (0.72), and its box overlaps the first by half. The "nobody here" memory is
    for clutter the detector keeps proposing about as surely (a pole, a bush); a proposal 0.2 surer is
    checked again (before, she was first found at frame 84), and after ``empty_memory_s`` any is."""
    from nvwa.tracking.tracker import PeopleTracker

    tracker = PeopleTracker(body=None, propose=None)
    tracker._empty.append((np.array([275.0, 54.0, 291.0, 85.0]), 7.8, 0.40))
    at_81 = np.array([273.0, 54.0, 285.0, 86.0])
    assert not tracker._nobody_there(at_81, 0.72, 8.1)
    assert tracker._nobody_there(at_81, 0.45, 8.1)  # about as sure: the same clutter
    assert not tracker._nobody_there(at_81, 0.45, 8.9)  # remembered for a second
    assert not tracker._nobody_there(np.array([200.0, 54.0, 212.0, 86.0]), 0.40, 8.1)  # elsewhere


def test_a_far_walker_stays_one_person(first_125):
    """Her landmarks' box is 3-5 px wide: a pose check on her was not taken for the track already on her
    (its box overlapped a thin sliver), so a second track followed her from frame 93; and a few frames of
    fragments shrank her track's box until the detector's box beside it no longer counted as hers (a new
    id at frame 120). One person, one id, from frame 81 to 124."""
    first = _on(first_125, 81, FAR_WALKER[81])
    assert first, "not found at frame 81"
    walker = [p for p in first_125.people if p.person_id == first[0]][0]
    assert walker.frame_index.max() >= 124, walker.frame_index.max()
    for f in range(93, 115, 3):  # one track on her, not two
        near = [p.person_id for p in first_125.people if f in p.frame_index
                and np.abs(p.keypoints_2d[p.frame_index == f][0].mean(0) - walker.keypoints_2d[walker.frame_index == f][0].mean(0)).max() < 15]
        assert near == [walker.person_id], (f, near)
