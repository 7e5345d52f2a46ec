"""Depth pinned to the floor, and the running median under it, for many people at once: each person
gets exactly what they get alone, and the windows are the written-out ones."""

import warnings

import numpy as np
import pytest

from mocap_people import degraded_people, world_motions
from nvwa.grounding.floor import Floor, pin_depth_to_floor, pin_depth_to_floor_many, running_median

FEET = [7, 10, 8, 11]


def _camera_frame_feet():
    """Each bench person back in their camera frame: (root, sole points - root, their confidence, t, floor)."""
    out = []
    motions, ts, confs = world_motions()
    for m, t, c, (*_, R_cw, t_cw) in zip(motions, ts, confs, degraded_people()):
        cam = m.in_frame(R_cw, t_cw)
        j = cam.joints()
        floor = Floor(R_cw[:, 1], float(-R_cw[:, 1] @ t_cw), 0, 0, 0.0, "true")
        out.append((cam.root_position, j[:, FEET] - j[:, :1], c[:, FEET], t, floor))
    return out


def test_pinning_everyone_at_once_equals_pinning_each_alone():
    people = _camera_frame_feet()
    root, rel, conf, t, floor = people[4]
    uneven = np.sort(np.random.default_rng(3).choice(len(t), len(t) // 2, replace=False))  # dropped frames
    people.append((root[uneven], rel[uneven], conf[uneven], t[uneven], floor))
    people.append((root[:2], rel[:2], conf[:2], t[:2], floor))  # too short to smooth
    people.append((root[:9], rel[:9], np.zeros_like(conf[:9]), t[:9], Floor(np.array([1.0, 0, 0]), 0.0, 0, 0, 0.0, "t")))  # rays along it
    roots, rels, confs, ts, floors = (list(x) for x in zip(*people))
    together = pin_depth_to_floor_many(roots, rels, confs, floors, ts)
    for (root, rel, conf, t, floor), scale in zip(people, together):
        assert np.array_equal(scale, pin_depth_to_floor(root, rel, conf, floor, t))
    assert not np.allclose(together[0], 1.0) and np.array_equal(together[-1], np.ones(9))
    one_floor = pin_depth_to_floor_many([p[0] for p in people[:3]], [p[1] for p in people[:3]], [p[2] for p in people[:3]],
                                        people[0][4], [p[3] for p in people[:3]])
    for (root, rel, conf, t, _), scale in zip(people[:3], one_floor):
        assert np.array_equal(scale, pin_depth_to_floor(root, rel, conf, people[0][4], t))


@pytest.mark.parametrize("at_once", [1 << 20, 40])
def test_running_median_is_the_windows_median(at_once, monkeypatch):
    """The written-out rule: per sample, np.nanmedian of the samples within +-window/2 (a 2-D sample
    counts only where all its coordinates are finite), the fallback where none is; the same with the
    windows taken a few samples at a time (``at_once`` values)."""
    monkeypatch.setattr("nvwa.grounding.floor.MEDIAN_VALUES_AT_ONCE", at_once)
    rng = np.random.default_rng(5)
    for t in (np.arange(80) / 30, np.cumsum(rng.uniform(0.01, 0.06, 80))):
        for x in (rng.normal(size=80), rng.normal(size=(80, 3))):
            x[rng.random(80) < 0.2] = np.nan
            x[30:50] = np.nan  # windows with nothing in them
            expected = np.empty_like(x)
            for i in range(80):
                even = np.allclose(np.diff(t), t[1] - t[0])  # evenly: 7 samples either side (0.25 s at 30 fps)
                w = x[max(i - 7, 0): i + 8] if even else x[(t >= t[i] - 0.25) & (t < t[i] + 0.25)]
                good = np.isfinite(w) if w.ndim == 1 else np.isfinite(w).all(axis=1)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    expected[i] = np.median(w[good], axis=0) if good.any() else -1.0
            assert np.array_equal(running_median(x, t, 0.5, fallback=-1.0), expected)


def test_many_peoples_running_medians_are_taken_in_pieces_each_as_alone(monkeypatch):
    """Evenly sampled people's windows are sorted side by side, each padded to the longest: a long take
    beside a hundred short tracks would be padded to the take's length a hundred times over (and every
    window sorted at once). Past MEDIAN_VALUES_AT_ONCE values they go in groups of similar length and
    pieces of frames, and each person's medians are what they are alone."""
    import nvwa.grounding.floor as floor
    from nvwa.grounding.floor import running_median_many
    from nvwa.rig.segments import Segments

    rng = np.random.default_rng(7)
    lengths = [400, 3, 60, 1, 250, 0, 90, 120]
    people = Segments(lengths)
    t = np.concatenate([np.arange(n) / 30 for n in lengths])
    for x in (rng.normal(size=people.total), rng.normal(size=(people.total, 3))):
        x[rng.random(people.total) < 0.2] = np.nan
        alone = np.concatenate([running_median(x[a:b], t[a:b], 0.5, fallback=-1.0) for a, b in zip(people.starts, people.stops)])
        assert np.array_equal(running_median_many(x, t, people, 0.5, fallback=-1.0), alone)
        monkeypatch.setattr(floor, "MEDIAN_VALUES_AT_ONCE", 500)  # a few people, a few dozen frames at a time
        assert np.array_equal(running_median_many(x, t, people, 0.5, fallback=-1.0), alone)
        groups = floor._side_by_side(np.arange(len(lengths)), people.lengths, x[:1].size)
        assert sorted(np.concatenate(groups).tolist()) == list(range(len(lengths))) and len(groups) >= 3
        assert all((np.diff(g) > 0).all() for g in groups)  # each in index order, as their rows are
        monkeypatch.undo()
