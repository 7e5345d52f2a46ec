"""An edited video's one shot: a scene is one camera's view, so the observations of a video that cuts from
shot to shot (``stats["cuts_frame"]``, found as it was observed: :class:`nvwa.video.cuts.ShotCuts`) are
cut to the shot with the most of the people's time before anything is reconstructed from them."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np

from nvwa.camera.background import KEYFRAME, LOST, CameraTrack
from nvwa.observations import Observations
from nvwa.tracking.handover import frames_of


def at_or_before(t: float) -> float:
    """A cut's time to the millisecond, never after it: at or before the new shot's first frame and after the
    old shot's last (frames under a millisecond apart aside), so ``--start``/``--end`` at it split them."""
    return math.floor(t * 1000) / 1000


def seconds_text(t: float) -> str:
    """A time to the millisecond, without trailing zeros ("3", "1.5", "1234.567")."""
    return f"{t:.3f}".rstrip("0").rstrip(".")


def shots_note(cuts: list[tuple[float, int]], start_s: float, end_s: float | None) -> str:
    """What a run whose video cuts from shot to shot tells its user: where, and how to analyse each shot."""
    at = [at_or_before(t) for t, _ in cuts]
    edges = [start_s or None, *at, end_s]
    spans = "; ".join(" ".join(([f"--start {seconds_text(a)}"] if a is not None else []) + ([f"--end {seconds_text(b)}"] if b is not None else []))
                      for a, b in itertools.pairwise(edges))
    where = ", ".join(seconds_text(t) for t in at[:5]) + (f" and {len(at) - 5} more" if len(at) > 5 else "")
    return (f"the video cuts to another shot at {where} s: a scene is one camera's view, so one shot is "
            f"reconstructed; analyse each of the {len(at) + 1} on its own with {spans}")


def _frame_s(here: np.ndarray, everywhere: np.ndarray) -> float:
    """The seconds an analysed frame stands for in a shot: the mean step between the analysed frames' times
    there (``here``; a film's 24 pictures a second cut into a 30-fps video, its repeated frames not analysed:
    steps of 1, 1, 1 and 2 30ths, a 24th of a second on average), the whole video's (``everywhere``) where the
    shot has one; times that are not numbers left out."""
    def mean_step(times: np.ndarray) -> float:
        times = np.unique(times[np.isfinite(times)])
        return float(times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else 0.0

    return mean_step(here) or mean_step(everywhere) or 1.0


def one_shot(obs: Observations) -> tuple[Observations, str]:
    """``obs`` cut to its shot with the most of the people's time (their frames there, each the shot's usual
    step between analysed frames, :func:`_frame_s`; the people's frames, the scene's straight
    edges and the background's track there, the track's homographies counted from the shot's first frame),
    and a note saying which; ``obs`` and "" where the video has one shot. A dissolve's frames that show both
    shots at once (``stats["mixed_frames"]``) are in neither: their people are half one camera's."""
    cuts = [int(k) for k in obs.stats.get("cuts_frame") or []]
    if not cuts:
        return obs, ""
    edges = [-np.inf, *cuts, np.inf]  # shot k: frames edges[k] <= n < edges[k + 1], those mixed aside
    mixed = [(int(m0), int(m1)) for m0, m1 in obs.stats.get("mixed_frames") or []]

    def inside(n: np.ndarray, a: float, b: float) -> np.ndarray:
        return (n >= a) & (n < b) & ~np.any([(n >= m0) & (n <= m1) for m0, m1 in mixed] or [np.zeros(len(n), bool)], axis=0)

    frames = [np.asarray(p.frame_index) for p in obs.people]
    counts = [sum(int(inside(f, a, b).sum()) for f in frames) for a, b in itertools.pairwise(edges)]
    track = obs.camera_track  # (every analysed frame; observations from before it: the frames someone is seen on)
    if track is not None and len(track.frame_index):
        analysed, at = np.asarray(track.frame_index), np.asarray(track.timestamp_s, np.float64)
    else:
        analysed = np.concatenate(frames or [np.zeros(0, np.int64)])
        at = np.concatenate([np.asarray(p.timestamp_s, np.float64) for p in obs.people] or [np.zeros(0)])
    seconds = [n * _frame_s(at[inside(analysed, a, b)], at) for n, (a, b) in zip(counts, itertools.pairwise(edges))]
    k = int(np.argmax(np.round(seconds, 6)))  # (a tie, two shots alike to a float's last bits: the first)
    a, b = edges[k], edges[k + 1]
    people = tuple(replace(p, **frames_of(p, inside(f, a, b))) for p, f in zip(obs.people, frames) if inside(f, a, b).any())
    lines = obs.scene_lines
    if lines is not None:
        lines = lines[inside(lines[:, 4], a, b)]
    times = [float(t) for t in obs.stats.get("cuts_s") or []]
    span = " to ".join(["the start" if k == 0 else f"{seconds_text(times[k - 1])} s", "the end" if k == len(cuts) else f"{seconds_text(times[k])} s"])
    note = (f"the scene is the video's shot from {span}, the one with the most of the people's time ({seconds[k]:.3g} of "
            f"{sum(seconds):.3g} person-seconds); its {len(cuts)} other{'s are' if len(cuts) > 1 else ' is'} left out")
    dissolved = sum(max(0.0, min(m1 + 1, b) - max(m0, a)) for m0, m1 in mixed)
    note += f", and its {dissolved:.0f} frame{'s' * (dissolved != 1)} of a dissolve showing both shots" * bool(dissolved)
    return replace(obs, people=people, scene_lines=lines,
                   camera_track=None if track is None else _within(track, inside(track.frame_index, a, b))), note


def _within(track: CameraTrack, keep: np.ndarray) -> CameraTrack:
    """The background's track over the frames ``keep`` says (one shot's), its homographies counted from the
    first of them."""
    rows = {name: value[keep] for name, value in vars(track).items()}
    for name in ("H_first_from_frame", "H_raw_first_from_frame"):
        if len(rows[name]):
            rows[name] = np.linalg.inv(rows[name][0]) @ rows[name]
    if len(rows["status"]) and rows["status"][0] == LOST:  # (lost at the cut itself: the shot's track begins there)
        rows["status"] = rows["status"].copy()
        rows["status"][0] = KEYFRAME
    return CameraTrack(**rows)


__all__ = ["at_or_before", "one_shot", "seconds_text", "shots_note"]
