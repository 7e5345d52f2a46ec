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
    assert 0 <= left - (w - (h * 9 // 16) // 2 * 2) // 2 <= 4  # (up to the far side of the looked-at pixel)
    assert any("inside its" in note and "--borders keep" in note for note in framed.notes())
    cut = list(iter_frames(path, info=framed))
    assert all(f.image.shape == (framed.height, framed.width, 3) and f.image.flags["C_CONTIGUOUS"] for f in cut)
    whole = list(iter_frames(path, info=info))
    assert np.abs(cut[3].image.astype(int) - whole[3].image[:, left:w - right]).max() <= 1
    # scaled: the picture analysed at its own longer side's limit, cut out of the frame scaled alike
    small = list(iter_frames(path, info=framed, max_side=framed.height // 2, stride=2, between=lambda image: image))
    assert small[1].image.shape[:2] == framed.scaled_size(framed.height // 2)[::-1]
    assert small[1].between[0].image().shape == small[1].image.shape
    # a turn the user asks for starts from the whole frame again (and its borders are looked for afresh)
    assert framed.turned(90).whole_size() == (h, w) and framed.turned(90).borders == (0, 0, 0, 0)
    assert info.framed((w, 0, 0, 0)) == info  # borders that leave next to nothing: not taken
