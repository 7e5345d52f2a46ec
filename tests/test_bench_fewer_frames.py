"""bench/fewer_frames.py's recall: both ways scored on the labelled frames both runs analysed, no other."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from fewer_frames import recall_on  # noqa: E402  the bench's own scoring
from test_bench_recall import LABELS, P0, P10, Q0, Q10, _person, _scene  # noqa: E402  the recall bench's scenes


def test_recall_is_scored_on_the_labelled_frames_both_runs_analysed():
    every = {"scene": _scene(_person(1, {0: P0, 10: P10}), _person(2, {0: Q0, 10: Q10})), "analysed": {0, 5, 10}}
    half = {"scene": _scene(_person(1, {0: P0})), "analysed": {0, 6}}  # frame 10 not analysed; Q missed at 0
    report = recall_on([every, half], LABELS)
    assert (report["labelled_frames"], report["labelled_people"]) == (1, 2)  # frame 0 only
    assert [s["found"] for s in report["scores"]] == [2, 1]
    assert [s["false_tracks"] for s in report["scores"]] == [0, 0]
    # with both analysing both frames, both are scored there (the half run's misses at 10 count)
    half["analysed"] = {0, 10}
    report = recall_on([every, half], LABELS)
    assert (report["labelled_frames"], report["labelled_people"]) == (2, 4)
    assert [s["found"] for s in report["scores"]] == [4, 1]
