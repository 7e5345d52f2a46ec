"""Frames that repeat the picture before them, measured: the same clips with pictures shown twice, each picture analysed once or every frame as it comes.

    python bench/repeated_frames.py [--only sports2d_24in30,cam03_20in60] [--out bench/results/repeated_frames.json]

A 24-fps film stored at 30 shows every 4th picture twice; a 15-fps webcam or a slow screen recording stored
at 30, every picture twice; a recorder that drops frames fills each with the picture before. Here
``../shared/data/video/sports2d_demo.mp4`` (30 fps) and ``../shared/data/calibrated/pose2sim_single/cam03.mp4``
(60 fps, with true camera and joints) are so copied (x264 CRF 18, the clip's length; "...crf28": at CRF 28, a web
video's coarse re-encoding, whose repeats differ from their picture by up to 34 grey levels): "XinY" is a Y-fps copy
showing X pictures a second, picture j (the source frame nearest j/X s) from the first copy frame at or after
j/X s until the next is due ("24in30" and "15in30" of Sports2D, "20in60" of cam03: every 3rd source frame
three times, "20in30" of cam03: every 3rd source frame at 30 fps, once and twice by turns), "dropped" shows
each source frame at its own time except where, one time in three (seeded), the frame before is shown again.
The copy with every source frame once ("none", encoded the same way) is the reference. Each copy is processed
twice (``nvwa process``): with ``--repeated-frames keep`` (every frame as it comes, as before) and as by
default (each picture once); where the default found a film's steady cadence (its pictures timed an even step
apart, ``nvwa.video.cadence``) its observations are made a scene again with ``--film-cadence shown`` (each
picture at its first showing). Per run: the repeats found against the copy's own, the frames analysed, the
seconds observing took and their ratio to the keep run's, the people (Sports2D: whether the jumper keeps his
id through his landing), how far the scene's times are from the moments its frames picture (ms: median and
most), how much the longest-seen person's root speed changes from frame to frame (m/s, the mean: a stutter's
measure, beside the reference's), their observed 2D keypoints against the reference run's at its frames (the
run's interpolated in time to them: a picture analysed again at a later time puts its people where they were a
frame earlier), and cam03's against the truth at the scene's own times (at a repeated frame, the moment it was
shown at, not the one it pictures; a picture timed as filmed, the moment it pictures).
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
# the metric-world bench's truth, the slow-motion bench's runs and figures
from metric_world import CAL
from slow_motion import asked, matched, nvwa_process, scored, with_references

SHARED = ROOT.parent / "shared" / "data"
CLIPS = {"cam03": CAL / "cam03.mp4", "sports2d": SHARED / "video" / "sports2d_demo.mp4"}
KINDS = {"sports2d": ("24in30", "24in30crf28", "15in30", "dropped"), "cam03": ("20in60", "20in30", "dropped")}
COPIES = [f"{clip}_{kind}" for clip, kinds in KINDS.items() for kind in kinds]
DROPPED = 1 / 3  # "dropped": the share of frames that show the picture before again


def copy_rate(kind: str, fps: float) -> float:
    """The frames a second of a ``kind`` copy of a ``fps`` source."""
    return float(kind.split("crf")[0].split("in")[1]) if "in" in kind else fps


def copy_crf(kind: str) -> int:
    """The x264 CRF a ``kind`` copy is encoded at: 18, or the ``crfNN`` its name ends with."""
    return int(kind.split("crf")[1]) if "crf" in kind else 18


def shown_frames(kind: str, frames: int, fps: float, seed: int = 0) -> list[int]:
    """For each frame of a ``kind`` copy of ``frames`` source frames at ``fps`` (as long, at :func:`copy_rate`),
    the source frame it shows."""
    if kind == "none":
        return list(range(frames))
    if kind == "dropped":
        again = np.random.default_rng(seed).random(frames) < DROPPED
        shown = [0]
        for k in range(1, frames):  # (a frame dropped after one dropped shows the same picture a third time)
            shown.append(shown[-1] if again[k] else k)
        return shown
    content, rate = float(kind.split("in")[0]), copy_rate(kind, fps)  # pictures a second; the copy's frames a second
    return [min(frames - 1, round(np.floor(k * content / rate + 1e-9) * fps / content)) for k in range(round(frames * rate / fps))]


def repeated_copy(src: str | Path, dst: str | Path, shown: list[int] | None = None, rate: float | None = None,
                  crf: int = 18) -> Path:
    """``src`` with frame k of the copy showing source frame ``shown[k]`` (all frames once: None), at ``rate``
    frames a second (the source's: None); libx264 at ``crf`` (0: lossless, the source's pixels exactly)."""
    import av

    with av.open(str(src)) as inp:
        vin = inp.streams.video[0]
        rate = Fraction(rate or vin.average_rate).limit_denominator(1001)
        pictures = [f.reformat(format="yuv420p").to_ndarray() for f in inp.decode(vin)]  # (YUV: crf 0 keeps them)
        width, height = vin.codec_context.width, vin.codec_context.height
    shown = list(range(len(pictures))) if shown is None else shown
    with av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "ultrafast" if crf == 0 else "fast", "threads": "1",
                          **({"qp": "0"} if crf == 0 else {})}
        stream.time_base = 1 / rate
        for k, i in enumerate(shown):
            made = av.VideoFrame.from_ndarray(pictures[i], format="yuv420p")
            made.pts, made.time_base = k, 1 / rate
            out.mux(stream.encode(made))
        out.mux(stream.encode())
    return Path(dst)


def _times_off(scene, shown: list[int], fps: float) -> list[float] | None:
    """How far (ms: median, most) the scene's people's times are from the moments their frames picture (a copy
    frame k pictures source frame ``shown[k]``, at ``fps``; the copies start at 0)."""
    off = [np.abs(np.asarray(p.timestamp_s) - np.asarray(shown)[np.asarray(p.frame_index)] / fps) for p in scene.people]
    off = np.concatenate(off) if off else np.zeros(0)
    return [round(1000 * float(np.median(off)), 1), round(1000 * float(off.max()), 1)] if len(off) else None


def _jitter(scene) -> float | None:
    """The mean change of the longest-seen person's root speed from one frame to the next (m/s, the world's)."""
    if not scene.people:
        return None
    p = max(scene.people, key=lambda q: len(q.timestamp_s))
    t, root = np.asarray(p.timestamp_s), np.asarray(p.root_world)
    return round(float(np.abs(np.diff(np.linalg.norm(np.diff(root, axis=0), axis=1) / np.diff(t))).mean()), 3) if len(t) > 2 else None


def _at_own_times(scene, fps: float):
    """``scene`` with each person's frames numbered by their times at ``fps`` (the truth's rows: the moment each is
    timed at)."""
    from dataclasses import replace

    return replace(scene, people=tuple(replace(p, frame_index=np.round(np.asarray(p.timestamp_s) * fps).astype(np.int64))
                                       for p in scene.people))


def _keypoints_off(scene, reference) -> list[float | None]:
    """Per reference person: the median distance (px, over joints and frames) between their observed 2D keypoints
    and those of the scene's person nearest them, interpolated in time to the reference's frames."""
    offs = []
    for p, q, _, _ in matched(scene, reference, least=5):
        tq, tp = np.asarray(q.timestamp_s), np.asarray(p.timestamp_s)
        inside = (tp >= tq[0]) & (tp <= tq[-1])
        kq, kp = np.asarray(q.keypoints_2d, np.float64), np.asarray(p.keypoints_2d, np.float64)[inside]
        at = np.stack([np.stack([np.interp(tp[inside], tq, kq[:, j, c]) for c in (0, 1)], axis=-1)
                       for j in range(kq.shape[1])], axis=1)
        gap = np.linalg.norm(at - kp, axis=-1)  # (frames, joints)
        offs.append(round(float(np.nanmedian(gap)), 1) if np.isfinite(gap).any() else None)
    return offs


def main() -> int:
    import av

    from nvwa.observations import load_observations
    from nvwa.reconstruct import ReconstructConfig, reconstruct

    line = asked(__doc__, COPIES, "repeated_frames.json", lambda c: CLIPS[c.split("_")[0]])
    if line is None:
        return 2
    args, picked = line
    rows, references = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for clip, name, how in with_references(picked):
            with av.open(str(CLIPS[clip])) as c:
                frames, fps = c.streams.video[0].frames, float(c.streams.video[0].average_rate)
            shown = shown_frames(how, frames, fps)
            video = repeated_copy(CLIPS[clip], tmp / f"{name}.mp4", shown, rate=copy_rate(how, fps), crf=copy_crf(how))
            again = sum(a == b for a, b in itertools.pairwise(shown))
            observe_s = {}
            for mode in (("keep", "skip") if how != "none" else ("skip",)):
                nvwa_process(video, tmp / f"{name}_{mode}", "--repeated-frames", mode)
                obs = load_observations(tmp / f"{name}_{mode}")
                observe_s[mode] = float(obs.stats["observe_s"])
                scene = reconstruct(obs)
                filmed = any(w.startswith("a film stored at a faster rate") for w in scene.grounding.get("warnings", []))
                for cadence in ("even", "shown") if filmed else ("even",):
                    if cadence == "shown":
                        scene = reconstruct(obs, ReconstructConfig(film_cadence="shown"))
                    if how == "none":
                        references[clip] = scene
                    row = {"copy": name, "repeated_frames": mode, **({"film_cadence": cadence} if filmed else {}),
                           "repeats": again, "repeats_found": obs.stats["repeated_frames"],
                           "analysed": obs.stats["frames"], "observe_s": round(observe_s[mode], 2),
                           **({"observe_vs_keep": round(observe_s[mode] / observe_s["keep"], 3)} if "keep" in observe_s else {}),
                           "times_off_ms": _times_off(scene, shown, fps), "speed_jitter_m_s": _jitter(scene),
                           **scored(clip, scene if clip == "sports2d" else _at_own_times(scene, fps),
                                    references[clip] if how != "none" else None)}
                    if how != "none":
                        row["reference_jitter_m_s"] = _jitter(references[clip])
                        row["keypoints_off_reference_px"] = _keypoints_off(scene, references[clip])
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps({"runs": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
