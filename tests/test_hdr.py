"""HDR video (a phone's HLG, an HDR10 file's PQ) is shown as an ordinary screen shows it: tone-mapped, not read
as if its values were SDR's. The HDR files here are made from a real SDR frame by the standards' own
formulas (BT.2100's PQ and HLG, BT.2408's 203-nit diffuse white), written independently of the module's."""

from pathlib import Path

import numpy as np
import pytest

from nvwa.video import iter_frames, probe_video
from nvwa.video.decode import FrameBetween
from nvwa.video.hdr import DEFAULT_PEAK_NITS, KNEE, WHITE_NITS, peak_nits, to_sdr

DATA = Path(__file__).parent / "data"
_BT709_TO_BT2020 = np.array([[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]])


def _sdr_frame() -> np.ndarray:
    """A real frame (Sports2D's, both people in it) at 320x180."""
    import av
    import cv2

    with av.open(str(DATA / "sports2d_3s.mp4")) as container:
        frame = next(f for i, f in enumerate(container.decode(video=0)) if i == 45)
    return cv2.resize(frame.to_ndarray(format="rgb24"), (320, 180), interpolation=cv2.INTER_AREA)


def _pq_code(nits: np.ndarray) -> np.ndarray:
    m1, m2, c1, c2, c3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875
    y = np.power(np.clip(nits / 10000.0, 0.0, 1.0), m1)
    return np.power((c1 + c2 * y) / (1.0 + c3 * y), m2)


def _hlg_code(nits: np.ndarray) -> np.ndarray:
    """Display light on a 1,000-nit HLG display -> HLG's coded values (the inverse OOTF, then the OETF)."""
    display = np.maximum(nits / 1000.0, 0.0)
    luma = np.maximum(display @ np.array([0.2627, 0.6780, 0.0593]), 1e-12)[..., None]
    scene = display * np.power(luma, 1.0 / 1.2 - 1.0)
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    return np.where(scene <= 1 / 12, np.sqrt(3 * scene), a * np.log(np.maximum(12 * scene - b, 1e-12)) + c)


def _hdr_video(path: Path, image: np.ndarray, kind: str, n: int = 4, *, rotation: float | None = None,
               x265: str = "") -> Path:
    """``image`` (SDR, BT.709, as a BT.1886 screen shows it) filmed as HDR: its light with SDR's white at 203
    nits, in BT.2020's colours, coded PQ or HLG, 10-bit 4:2:0 HEVC (x265, near-lossless) tagged so;
    ``rotation``: degrees counter-clockwise a player turns it (a phone's portrait video: -90)."""
    light = np.power(image / 255.0, 2.4) @ _BT709_TO_BT2020.T * WHITE_NITS
    return _coded_video(path, _pq_code(light) if kind == "PQ" else _hlg_code(light), kind, n, rotation, x265)


def _coded_video(path: Path, coded: np.ndarray, kind: str, n: int = 4, rotation: float | None = None,
                 x265: str = "") -> Path:
    """HDR R'G'B' values (BT.2020, [0, 1]) as 10-bit limited-range 4:2:0 HEVC tagged PQ or HLG."""
    import av

    luma = coded @ np.array([0.2627, 0.6780, 0.0593])
    cb, cr = (coded[..., 2] - luma) / 1.8814, (coded[..., 0] - luma) / 1.4746
    h, w = luma.shape
    half = [c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)) for c in (cb, cr)]
    planes = [np.round(64 + 876 * luma)] + [np.round(512 + 896 * c) for c in half]
    stacked = np.concatenate([planes[0], *(p.reshape(h // 4, w) for p in planes[1:])]).astype(np.uint16)
    out = av.open(str(path), "w")
    stream = out.add_stream("libx265", rate=10)
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p10le"
    stream.options = {"crf": "4", "preset": "ultrafast", "x265-params": "log-level=error" + x265}
    if rotation is not None:
        stream.set_display_rotation(rotation)
    cc = stream.codec_context
    cc.color_primaries, cc.colorspace, cc.color_range = 9, 9, 1
    cc.color_trc = 16 if kind == "PQ" else 18
    for i in range(n):
        frame = av.VideoFrame.from_ndarray(stacked, format="yuv420p10le")
        frame.pts = i
        out.mux(stream.encode(frame))
    out.mux(stream.encode())
    out.close()
    return path


def test_the_mapping_keeps_sdrs_range_and_rolls_off_only_highlights():
    greys = np.linspace(0.0, 1.0, 1001)[:, None].repeat(3, axis=1)
    for kind in ("PQ", "HLG"):
        sdr = to_sdr(greys, kind)[:, 0]
        assert np.all(np.diff(sdr) >= 0) and sdr[0] == 0.0 and sdr[-1] == pytest.approx(1.0, abs=1e-3), kind
    # SDR's range below the knee comes out as it went in: a 100-nit grey is 100/203 of white, gamma 2.4
    for kind, code in (("PQ", _pq_code(np.full(3, 100.0))), ("HLG", _hlg_code(np.full(3, 100.0)))):
        assert to_sdr(code, kind)[0] == pytest.approx((100 / WHITE_NITS) ** (1 / 2.4), abs=2e-3), kind
    # HDR's diffuse white (203 nits, HLG's 0.75) is rolled off a little, to make room for the highlights
    white = to_sdr(np.full(3, 0.75), "HLG")[0]
    assert white == pytest.approx(to_sdr(_pq_code(np.full(3, WHITE_NITS)), "PQ")[0], abs=2e-3)
    assert KNEE ** (1 / 2.4) < white < 0.97
    # the video's own peak lands on SDR's white; a brighter one's rolls off further
    assert to_sdr(_pq_code(np.full(3, 4000.0)), "PQ", peak=4000.0)[0] == pytest.approx(1.0, abs=1e-3)
    assert to_sdr(_pq_code(np.full(3, 1000.0)), "PQ", peak=4000.0)[0] < to_sdr(_pq_code(np.full(3, 1000.0)), "PQ")[0]
    # BT.2020's colours are taken into BT.709's: BT.709's own red, coded in BT.2020, is pure red again
    red = to_sdr(_pq_code(np.array([100.0, 0.0, 0.0]) @ _BT709_TO_BT2020.T), "PQ")
    assert red[0] == pytest.approx((100 / WHITE_NITS) ** (1 / 2.4), abs=3e-3) and red[1:].max() < 0.02


@pytest.mark.parametrize("kind", ["PQ", "HLG"])
def test_colours_past_bt709s_gamut_keep_their_hue_and_brightness(kind):
    """A phone's HDR holds colours BT.709 has not (BT.2020's own green, a saturated red or teal): they are
    brought inside by mixing in their own grey, so their hue (the direction from that grey) and their
    luminance stay; clipped, BT.2020's green came out BT.709's green, 19% brighter."""
    bt2020_to_bt709 = np.linalg.inv(_BT709_TO_BT2020)
    rgb = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.02, 0.6, 0.7], [0.0, 0.0, 1.0]]) * 60.0  # nits
    code = _pq_code(rgb) if kind == "PQ" else _hlg_code(rgb)
    light = to_sdr(code, kind) ** 2.4  # (under the knee: no roll-off)
    exact = rgb / WHITE_NITS @ bt2020_to_bt709.T  # the colour in BT.709, unclipped (HLG's code is display light)
    assert (exact.min(axis=1) < -0.005).all()  # every one past BT.709's gamut
    luma = np.array([0.2126, 0.7152, 0.0722])
    assert light @ luma == pytest.approx(exact @ luma, rel=0.02)  # as bright
    for out, want in zip(light - (light @ luma)[:, None], exact - (exact @ luma)[:, None]):
        cos = out @ want / np.linalg.norm(out) / np.linalg.norm(want)
        assert cos > 0.999  # the same hue: the same direction from its grey
    assert light.min() >= 0.0 and (light.min(axis=1) < 1e-3).all()  # inside the gamut, at its edge


def test_a_frame_that_does_not_say_its_transfer_is_the_streams():
    from nvwa.video.hdr import ToneMap

    frame = type("F", (), {})()
    for code, default, kind in ((16, "", "PQ"), (18, "PQ", "HLG"), (2, "PQ", "PQ"), (0, "HLG", "HLG"), (1, "PQ", ""),
                                (2, "", "")):
        frame.color_trc = code
        assert ToneMap(default).kind(frame) == kind, (code, default)


@pytest.mark.parametrize("kind", ["PQ", "HLG"])
def test_hdr_frames_come_out_as_an_sdr_screen_shows_them(tmp_path, kind):
    import av

    sdr = _sdr_frame()
    path = _hdr_video(tmp_path / f"{kind}.mp4", sdr, kind)
    info = probe_video(path)
    assert info.hdr == kind and info.how_shown() == f", HDR ({kind}) tone-mapped"
    frames = list(iter_frames(path))
    assert len(frames) == 4 and all(f.image.shape == sdr.shape and f.image.dtype == np.uint8 for f in frames)
    error = np.abs(frames[2].image.astype(int) - sdr).mean(axis=2)
    below_knee = np.power(sdr / 255.0, 2.4).max(axis=2) < KNEE * 0.9
    # SDR's range comes back within a grey level or two (the chroma's 4:2:0 and the LUT's steps); read as if SDR,
    # the same values are grey and flat
    assert np.median(error[below_knee]) < 1.5 and np.percentile(error[below_knee], 95) < 5
    with av.open(str(path)) as container:
        naive = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert np.median(np.abs(naive.astype(int) - sdr).mean(axis=2)[below_knee]) > 8
    # the glance a cut is judged by (the brightness plane's codes, 16-235) is the SDR frame's too
    from nvwa.video.cuts import _grey

    assert np.abs(frames[2].glances[-1][2] - (16 + _grey(sdr).astype(float) * 219 / 255)).mean() < 4


def test_frames_between_are_tone_mapped_as_the_analysed_ones(tmp_path):
    path = _hdr_video(tmp_path / "pq.mp4", _sdr_frame(), "PQ", n=6)
    frames = list(iter_frames(path, stride=2, between=lambda image: image))
    between = [b for f in frames for b in f.between]
    assert between and all(isinstance(b, FrameBetween) for b in between)
    assert np.abs(between[0].image().astype(int) - frames[0].image).mean() < 1.0


class _Side:
    def __init__(self, name, raw):
        self.type, self._raw = type("T", (), {"name": name})(), raw

    def __bytes__(self):
        return self._raw


def test_the_peak_is_the_files_own_and_a_broken_one_is_not_believed():
    frame = type("F", (), {})()
    light = np.array([4000, 400], "<u4").tobytes()
    mastering = np.array([0] * 18 + [1000 * 10000, 10000, 1, 1], "<i4").tobytes()
    cases = [([], DEFAULT_PEAK_NITS), ([_Side("CONTENT_LIGHT_LEVEL", light)], 4000.0),
             ([_Side("MASTERING_DISPLAY_METADATA", mastering)], 1000.0),
             ([_Side("CONTENT_LIGHT_LEVEL", np.array([0, 0], "<u4").tobytes()),
               _Side("MASTERING_DISPLAY_METADATA", mastering)], 1000.0),  # MaxCLL unknown (0): the display's
             ([_Side("CONTENT_LIGHT_LEVEL", np.array([4_000_000, 0], "<u4").tobytes())], DEFAULT_PEAK_NITS),
             ([_Side("CONTENT_LIGHT_LEVEL", b"\x01")], DEFAULT_PEAK_NITS)]
    for side, expected in cases:
        frame.side_data = side
        assert peak_nits(frame) == expected


def test_side_data_is_read_as_pyav_18_1_0_and_18_1_1_hand_it_over():
    """PyAV up to 18.1.0 iterates a frame's side data themselves; 18.1.1 made it a mapping whose iteration gives
    their types (a fresh install then read no display matrix, and every phone video lay on its side)."""
    from collections.abc import Mapping

    from nvwa.video.hdr import side_data

    light = np.array([4000, 400], "<u4").tobytes()

    class ByType(Mapping):  # 18.1.1's: keys are the types
        def __init__(self, items):
            self._d = {s.type: s for s in items}

        def __getitem__(self, key):
            return self._d[key]

        def __iter__(self):
            return iter(self._d)

        def __len__(self):
            return len(self._d)

    for side in ([_Side("CONTENT_LIGHT_LEVEL", light)], ByType([_Side("CONTENT_LIGHT_LEVEL", light)])):
        frame = type("F", (), {"side_data": side})()
        assert side_data(frame) == [("CONTENT_LIGHT_LEVEL", light)] and peak_nits(frame) == 4000.0
    assert side_data(object()) == []  # (a PyAV without frame side data)


def test_the_lut_is_the_mapping_on_saturated_colours_too(tmp_path):
    """Blocks of colours (greys, BT.709's primaries and secondaries, and saturated colours past BT.709's gamut
    in BT.2020), each decoded and tone-mapped, against the mapping worked out exactly on the same decoded
    values: within a few grey levels where the LUT's 65 points interpolate (33 points were 5 levels off on
    average on such colours)."""
    import av

    rng = np.random.default_rng(1)
    colours = np.concatenate([rng.uniform(0.0, 0.75, (40, 3)),  # PQ values up to ~1,000 nits, any hue
                              np.array([[0.7, 0.2, 0.2], [0.2, 0.7, 0.2], [0.2, 0.2, 0.7], [0.6, 0.6, 0.1],
                                        [0.1, 0.6, 0.6], [0.6, 0.1, 0.6], [0.5, 0.5, 0.5], [0.3, 0.3, 0.3]])])
    image = np.kron(colours.reshape(6, 8, 3), np.ones((16, 16, 1)))  # 128x96, 16-px blocks
    path = _coded_video(tmp_path / "patches.mp4", image, "PQ", n=3)  # (a one-frame x265 stream failed to mux 6 times in 40)
    mapped = next(iter(iter_frames(path))).image
    with av.open(str(path)) as container:
        decoded = next(container.decode(video=0)).to_ndarray(format="rgb48le") / 65535.0
    exact = to_sdr(decoded, "PQ") * 255
    centres = (slice(4, None, 16), slice(4, None, 16))
    for y, x in ((8, 8), (6, 10), (10, 6)):
        centres = (slice(y, None, 16), slice(x, None, 16))
        error = np.abs(mapped[centres].astype(float) - exact[centres])
        assert error.mean() < 2.5 and error.max() < 12, (error.mean(), error.max())


def test_the_files_own_peak_and_a_phones_portrait_turn(tmp_path):
    """A file that says its brightest is 400 nits (x265's MaxCLL) has that brightest on SDR's white, where one
    that does not say (taken as 1,000) keeps room above it; a phone's portrait HDR video is turned as well as
    tone-mapped."""
    import av

    from nvwa.video.hdr import ToneMap

    nits = np.full((96, 128, 3), 100.0)
    nits[32:64, 32:96] = 400.0  # a highlight, the file's brightest
    dim = _coded_video(tmp_path / "dim.mp4", _pq_code(nits), "PQ", x265=":hdr10=1:max-cll=400,100")
    plain = _coded_video(tmp_path / "plain.mp4", _pq_code(nits), "PQ")
    with av.open(str(dim)) as container:
        assert ToneMap("PQ").peak(next(container.decode(video=0))) == 400.0
    a, b = (next(iter(iter_frames(p))).image.astype(int) for p in (dim, plain))
    assert a[48, 64].min() >= 254 and b[48, 64].max() <= 252  # the highlight: SDR's white, or short of it
    assert np.abs(a[10, 10] - b[10, 10]).max() <= 1  # a 100-nit grey, under the knee: the same
    sdr = _sdr_frame()
    b = next(iter(iter_frames(_hdr_video(tmp_path / "landscape.mp4", sdr, "PQ")))).image.astype(int)
    portrait = _hdr_video(tmp_path / "portrait.mp4", sdr, "PQ", rotation=-90)
    info = probe_video(portrait)
    assert (info.rotate, info.hdr, info.width, info.height) == (90, "PQ", 180, 320)
    turned = next(iter(iter_frames(portrait))).image
    assert turned.shape == (320, 180, 3) and np.abs(turned.astype(int) - np.rot90(b, -1)).max() <= 1
