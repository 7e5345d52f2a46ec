"""The picture inside a frame with borders (a letterboxed film, a phone's portrait video in a landscape frame,
its sides black or its own picture enlarged and blurred): found on frames spread over the video, cut off
before anything looks at the frames, and only there."""

from pathlib import Path

import numpy as np
import pytest

from conftest import make_video
from nvwa.video import iter_frames, picture_borders, probe_video
from nvwa.video.picture import border_of

DATA = Path(__file__).parent / "data"


def _frames(name: str, n: int = 4) -> list[np.ndarray]:
    """``n`` real RGB frames of a test clip, spread over it."""
    frames = list(iter_frames(DATA / name))
    return [frames[i].image for i in np.linspace(0, len(frames) - 1, n).astype(int)]


def _grey(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _portrait_in_landscape(image: np.ndarray, fill: str) -> np.ndarray:
    """A portrait picture (the middle of ``image``, 9:16) in a 16:9 frame of ``image``'s height, its sides black or
    its own picture enlarged and blurred (as news and social media show a phone's video)."""
    import cv2

    h, w = image.shape[:2]
    pw = (h * 9 // 16) // 2 * 2
    picture = image[:, (w - pw) // 2:(w - pw) // 2 + pw]
    fw = (h * 16 // 9) // 2 * 2
    if fill == "black":
        frame = np.zeros((h, fw, 3), np.uint8)
    else:
        big = cv2.resize(picture, (fw, fw * h // pw))
        top = (big.shape[0] - h) // 2
        frame = cv2.blur(big[top:top + h], (61, 61))
    x = (fw - pw) // 2
    frame[:, x:x + pw] = picture
    return frame


def _landscape_in_portrait(image: np.ndarray, fill: str) -> np.ndarray:
    """``image`` (landscape) 360 px wide in the middle of a 360x640 frame, above and below it black, its own
    picture enlarged to cover the frame and blurred (as a phone's feed shows a landscape video), or the
    scenery there only smoothed where it is (a sky above, sand below: not a fill)."""
    import cv2

    picture = cv2.resize(image, (360, round(360 * image.shape[0] / image.shape[1] / 2) * 2))
    ph = picture.shape[0]
    y = (640 - ph) // 2
    if fill == "black":
        frame = np.zeros((640, 360, 3), np.uint8)
    elif fill == "blurred":
        big = cv2.resize(picture, (round(360 * 640 / ph), 640))
        x = (big.shape[1] - 360) // 2
        frame = cv2.blur(np.ascontiguousarray(big[:, x:x + 360]), (41, 41))
    else:  # the scenery above and below, smoothed in place
        frame = cv2.blur(cv2.resize(image, (360, 640)), (41, 41))
    frame[y:y + ph] = picture
    return frame


@pytest.mark.parametrize("fill", ["black", "blurred"])
def test_a_landscape_picture_in_a_portrait_frame_is_found_black_or_blurred(fill):
    frames = [_landscape_in_portrait(f, fill) for f in _frames("sports2d_3s.mp4")]
    ph = round(360 * 496 / 884 / 2) * 2
    left, top, right, bottom = border_of([_grey(f) for f in frames])
    assert (left, right) == (0, 0) and abs(top - (640 - ph) // 2) <= 1 and abs(bottom - (640 - ph) // 2) <= 1
    smoothed = [_landscape_in_portrait(f, "smoothed") for f in _frames("sports2d_3s.mp4")]
    assert border_of([_grey(f) for f in smoothed]) == (0, 0, 0, 0)  # (smooth, but not the picture enlarged)


@pytest.mark.parametrize("fill", ["black", "blurred"])
def test_a_portrait_picture_in_a_landscape_frame_is_found_black_or_blurred(fill):
    frames = [_portrait_in_landscape(f, fill) for f in _frames("sports2d_3s.mp4")]
    h, w = frames[0].shape[:2]
    pw = (h * 9 // 16) // 2 * 2
    left, top, right, bottom = border_of([_grey(f) for f in frames])
    assert (top, bottom) == (0, 0) and abs(left - (w - pw) // 2) <= 1 and abs(right - (w - pw) // 2) <= 1


def test_pictures_without_borders_and_what_only_looks_like_them_are_left_alone():
    import cv2

    for name in ("sports2d_3s.mp4", "vtest_4s.mp4"):
        assert border_of([_grey(f) for f in _frames(name)]) == (0, 0, 0, 0), name
    night = [_grey(f) for f in _frames("sports2d_3s.mp4")]
    for g in night:
        g[: g.shape[0] // 5] = 0  # a black sky above, nothing below: not a letterbox's bars
    assert border_of(night) == (0, 0, 0, 0)
    for g in night:
        g[-g.shape[0] // 16:] = 0  # ... and a dark road below, not as tall: a film's bars are alike
    assert border_of(night) == (0, 0, 0, 0)
    # a subject in focus, the scenery beside them blurring gradually towards both sides (a long lens): no fill's
    # straight edge where the picture's sharpness begins
    bokeh = []
    for f in _frames("sports2d_3s.mp4"):
        g = _grey(f).astype(np.float32)
        out = g.copy()
        for k, x in enumerate(range(0, g.shape[1] // 3, 8)):
            size = 2 * (g.shape[1] // 3 - x) // 8 + 1  # more blur the further from the middle
            blurred = cv2.blur(g, (size, size))
            out[:, x:x + 8], out[:, g.shape[1] - x - 8:g.shape[1] - x] = blurred[:, x:x + 8], blurred[:, g.shape[1] - x - 8:g.shape[1] - x]
        bokeh.append(out)
    assert border_of(bokeh) == (0, 0, 0, 0)
    assert border_of([np.full((90, 160), 120.0)] * 3) == (0, 0, 0, 0)  # a flat picture: nothing to judge by


def test_the_borders_are_cut_off_the_frames_and_the_summary_says_so(tmp_path):
    frames = [_portrait_in_landscape(f, "blurred") for f in _frames("sports2d_3s.mp4", 12)]
    h, w = frames[0].shape[:2]
    path = make_video(tmp_path / "boxed.mp4", len(frames), size=(w, h), fps=10, codec="libx264",
                      frame_fn=lambda i: frames[i])
    info = probe_video(path)
    framed = info.framed(picture_borders(path, info))
    left, _, right, _ = framed.borders
    assert framed.whole_size() == (w, h) and framed.width == w - left - right and framed.height == h
    assert 0 <= left - (w - (h * 9 // 16) // 2 * 2) // 2 <= 2 and abs(left - right) <= 2  # (found to a px or two:
    # the encoder smears the fill's last column)
    assert any("inside its" in note and "--borders keep" in note for note in framed.notes())
    cut = list(iter_frames(path, info=framed))
    assert all(f.image.shape == (framed.height, framed.width, 3) and f.image.flags["C_CONTIGUOUS"] for f in cut)
    whole = list(iter_frames(path, info=info))
    assert np.abs(cut[3].image.astype(int) - whole[3].image[:, left:w - right]).max() <= 1
    # scaled: the picture cut out of the whole frame, then scaled (scaled first, a sliver of the fill would stay)
    import cv2

    small = list(iter_frames(path, info=framed, max_side=framed.height // 2, stride=2, between=lambda image: image))
    size = framed.scaled_size(framed.height // 2)
    assert small[1].image.shape[:2] == size[::-1]
    for got, k in ((small[1].image, 2), (small[1].between[0].image(), 1)):  # (frame 1 rides on frame 2)
        want = cv2.resize(whole[k].image[:, left:w - right], size, interpolation=cv2.INTER_AREA)
        assert np.abs(got.astype(int) - want).max() <= 1, k
    # a turn the user asks for starts from the whole frame again (and its borders are looked for afresh)
    assert framed.turned(90).whole_size() == (h, w) and framed.turned(90).borders == (0, 0, 0, 0)
    assert info.framed((w, 0, 0, 0)) == info  # borders that leave next to nothing: not taken


def test_a_letterboxed_video_gives_the_scene_of_its_picture_alone(blazepose, tmp_path):
    """Sports2D's frames with black bars above and below (lossless) give the same scene to the bit as the frames
    alone, --rotate 0 included (the frames the models see cut as the sizes and K say); --borders keep analyses the
    whole frame; --K is read in the whole frame's px and given to the picture moved by its borders."""
    import av

    from nvwa.config import PipelineConfig, ReconstructConfig, VideoConfig
    from nvwa.pipeline import Pipeline
    from nvwa.scene import load_scene

    with av.open(str(DATA / "sports2d_3s.mp4")) as c:  # real people, 884x496
        frames = [f.to_ndarray(format="rgb24") for i, f in zip(range(45), c.decode(video=0))]
    boxed = [np.pad(f, ((102, 102), (0, 0), (0, 0))) for f in frames]  # 884x700
    runs = {}
    for name, imgs, video_config, K in (("alone", frames, VideoConfig(), "1000,1000,442,248"),
                                        ("boxed", boxed, VideoConfig(), "1000,1000,442,350"),
                                        ("boxed_rotate0", boxed, VideoConfig(rotate="0"), "1000,1000,442,350"),
                                        ("kept", boxed, VideoConfig(borders="keep"), None)):
        video = make_video(tmp_path / f"{name}.mp4", len(imgs), size=imgs[0].shape[1::-1], fps=30, codec="libx264",
                           frame_fn=imgs.__getitem__, lossless=True)
        config = PipelineConfig(video_config, reconstruct=ReconstructConfig(K=K))
        events = list(Pipeline(config, body=blazepose).run(video, tmp_path / name))
        runs[name] = (events[0], events[-1].data["scene"].stats.get("notes", []), *load_scene(tmp_path / name))
    a, (probe, notes, boxed_summary, b) = runs["alone"][3], runs["boxed"]
    assert probe.message.startswith("884x496 h264") and boxed_summary["video"]["borders"] == [0, 102, 0, 102]
    assert [n for n in notes if "the picture is 884x496 inside its 884x700 frame" in n]
    assert len(a["person_ids"]) >= 1
    for other in (b, runs["boxed_rotate0"][3]):
        assert a["person_ids"].tolist() == other["person_ids"].tolist()
        for key in ("K", "R_world_from_cam", "t_world_from_cam"):
            assert np.array_equal(a[key], other[key]), key
        for pid in a["person_ids"].tolist():
            assert np.array_equal(a[f"person/{pid}/joints_world"], other[f"person/{pid}/joints_world"])
    kept = runs["kept"]
    assert kept[0].message.startswith("884x700 h264") and kept[2]["video"]["borders"] == [0, 0, 0, 0]
    assert not np.array_equal(kept[3]["K"], a["K"])


def test_a_title_card_is_not_the_videos_picture(tmp_path):
    """A second of a logo on black before the video (one keyframe for all, as an encoder without scene cuts
    writes it): the frames looked at are spread over the video, not the first one eight times, and the logo's
    black surround is not taken for borders."""
    frames = _frames("sports2d_3s.mp4", 20)
    h, w = frames[0].shape[:2]
    card = np.zeros_like(frames[0])
    card[h // 3:2 * h // 3, w // 3:2 * w // 3] = 200  # a logo
    clip = [card] * 10 + frames
    path = make_video(tmp_path / "titled.mp4", len(clip), size=(w, h), fps=10, codec="libx264",
                      frame_fn=clip.__getitem__, options={"g": "1000", "sc_threshold": "0"})
    assert picture_borders(path, probe_video(path)) == (0, 0, 0, 0)
    short = make_video(tmp_path / "short.mp4", 2, size=(w, h), fps=10, codec="libx264", frame_fn=lambda i: card)
    assert picture_borders(short, probe_video(short)) == (0, 0, 0, 0)  # (two frames: too few to judge)


def test_one_frame_without_anything_border_like_ends_the_look():
    """A frame whose edges show the picture (neither black nor as smooth as a fill) settles it: no border runs
    over every frame, and a video without borders costs one decoded frame. A bordered frame, a black one, or
    one whose edge is only dark does not."""
    from nvwa.video.picture import _bare

    real = _frames("sports2d_3s.mp4")
    assert all(_bare(_grey(f)) for f in real)
    for fill in ("black", "blurred"):
        assert not any(_bare(_grey(_portrait_in_landscape(f, fill))) for f in real), fill
        assert not any(_bare(_grey(_landscape_in_portrait(f, fill))) for f in real), fill
    assert not _bare(np.zeros((90, 160), np.uint8))
