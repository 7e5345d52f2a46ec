"""HDR video shown as an ordinary screen shows it. A phone films HDR by default (an iPhone's HEVC is HLG, an
Android's HDR10 is PQ): its 10-bit values code light up to 1,000 nits and beyond, in BT.2020's wider colours.
Converted as if they were ordinary video (BT.709, a 100-nit white), a PQ frame comes out flat and grey (on a
Sports2D copy made PQ, 1% to 99% of its pixels spanned grey levels 53-146, against 41-253) and an HLG frame
dim, both washed of colour: the people's colours came out grey, and the world drawn from a PQ copy's lines
had its camera 4% low and its focal 10% long (README).

Frames whose transfer is PQ (SMPTE ST 2084) or HLG (ARIB STD-B67) are tone-mapped here the way players map
them for an SDR screen (BT.2408's conventions): the light each value codes (PQ's absolute nits; HLG's scene
light through its 1,000-nit display's system gamma), with HDR's diffuse white (203 nits) as SDR's white,
BT.2020's colours taken into BT.709's (those past its gamut mixed with their own grey until inside, not
clipped), highlights above 0.75 of white rolled off smoothly to the brightest the video holds (its MaxCLL,
else its mastering display's peak, else 1,000 nits), then coded for a BT.1886 screen (gamma 2.4). The
mapping is a 65-point 3D LUT (made once a process, ~0.25 s) applied by FFmpeg's ``lut3d`` (tetrahedral) to
the frame made 16-bit RGB by its scaler at the analysed size: ~7 ms more than an ordinary frame's conversion
at 1280x720. Dolby Vision's profile 5 (streaming's, no HDR10 or HLG base) is not mapped.
"""

from __future__ import annotations

import os
import tempfile
import threading
from functools import lru_cache
from itertools import pairwise

import numpy as np

PQ, HLG = 16, 18  # FFmpeg's AVColorTransferCharacteristic: SMPTE ST 2084, ARIB STD-B67
TRANSFERS = {PQ: "PQ", HLG: "HLG"}
WHITE_NITS = 203.0  # HDR's diffuse white (BT.2408), SDR's 1.0
DEFAULT_PEAK_NITS = 1000.0  # where the file does not say how bright its brightest is
KNEE = 0.75  # of SDR's white: brighter is rolled off towards the video's peak
LUT_POINTS = 65  # a side: 33 was 5 grey levels off on average for saturated colours past BT.709's, 65 half that
_BT2020_TO_BT709 = np.array([[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]])
_BT2020_LUMA = np.array([0.2627, 0.6780, 0.0593])
_BT709_LUMA = np.array([0.2126, 0.7152, 0.0722])
_MATRICES = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}  # AVColorSpace


def transfer_code(tagged) -> str:
    """"PQ" or "HLG" where a frame's or a codec context's transfer tag says it is HDR, else ""."""
    return TRANSFERS.get(int(getattr(tagged, "color_trc", 0) or 0), "")


def hdr_kind(frame, default: str = "") -> str:
    """"PQ" or "HLG" where a decoded frame is HDR by its own transfer tag, ``default`` (the stream's) where it
    has none, else ""."""
    code = int(getattr(frame, "color_trc", 0) or 0)
    return TRANSFERS.get(code, default if code in (0, 2) else "")  # (2: unspecified)


def side_data(frame) -> list[tuple[str, bytes]]:
    """A decoded frame's side data as (type name, bytes). PyAV up to 18.1.0 hands the side data over as it is
    iterated, 18.1.1 their types (a mapping to them, whose values 18.1.0 cannot give); none where a PyAV has
    no frame side data."""
    try:
        side = frame.side_data
        items = [item if hasattr(item, "type") else side[item] for item in side]
        return [(getattr(sd.type, "name", str(sd.type)), bytes(sd)) for sd in items]
    except (AttributeError, TypeError, ValueError, KeyError):
        return []


def peak_nits(frame) -> float:
    """How bright the video's brightest is (nits), from the frame's side data: its content light level
    (MaxCLL), else its mastering display's peak, else DEFAULT_PEAK_NITS."""
    found = {}
    for name, raw in side_data(frame):
        if name.endswith("CONTENT_LIGHT_LEVEL") and len(raw) >= 4:
            found["cll"] = float(np.frombuffer(raw[:4], "<u4")[0])
        elif name.endswith("MASTERING_DISPLAY_METADATA") and len(raw) >= 88:
            ints = np.frombuffer(raw[:88], "<i4")  # 10 rationals (primaries, white point, min, max), 2 flags
            if ints[21] and ints[19] > 0:
                found["mastering"] = ints[18] / ints[19]
    for key in ("cll", "mastering"):
        if 50.0 <= found.get(key, 0.0) <= 10000.0:
            return found[key]
    return DEFAULT_PEAK_NITS


def _pq_nits(coded: np.ndarray) -> np.ndarray:
    """PQ's EOTF (SMPTE ST 2084): coded values in [0, 1] -> nits."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = np.power(np.clip(coded, 0.0, 1.0), 1.0 / m2)
    return 10000.0 * np.power(np.maximum(p - c1, 0.0) / (c2 - c3 * p), 1.0 / m1)


def _hlg_nits(coded: np.ndarray, display_nits: float = 1000.0) -> np.ndarray:
    """HLG's inverse OETF and its OOTF on a 1,000-nit display (BT.2100, system gamma 1.2): coded RGB -> nits."""
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    x = np.clip(coded, 0.0, 1.0)
    scene = np.where(x <= 0.5, x * x / 3.0, (np.exp((x - c) / a) + b) / 12.0)
    luma = np.maximum(scene @ _BT2020_LUMA, 1e-12)[..., None]
    return display_nits * np.power(luma, 0.2) * scene


def to_sdr(coded: np.ndarray, kind: str, peak: float = DEFAULT_PEAK_NITS) -> np.ndarray:
    """HDR R'G'B' (BT.2020, (..., 3) in [0, 1]) -> SDR R'G'B' (BT.709, BT.1886's gamma 2.4, in [0, 1])."""
    nits = _pq_nits(coded) if kind == "PQ" else _hlg_nits(coded)
    light = into_bt709(nits / WHITE_NITS)  # 1.0: diffuse white
    top = max(peak / WHITE_NITS, 1.0 + 1e-6)  # the brightest, in whites
    if top > 1.0 + 1e-3:  # above the knee, rolled off so the video's peak lands on 1.0 (slope 1 at the knee)
        u, span = np.maximum(light - KNEE, 0.0) / (1.0 - KNEE), (top - KNEE) / (1.0 - KNEE)
        light = np.where(light <= KNEE, light, KNEE + (1.0 - KNEE) * u * (1.0 + u / span ** 2) / (1.0 + u))
    return np.power(np.clip(light, 0.0, 1.0), 1.0 / 2.4)


def into_bt709(light: np.ndarray) -> np.ndarray:
    """Linear BT.2020 RGB (..., 3) -> linear BT.709 RGB, a colour past BT.709's gamut (a channel below 0: a
    jersey's green, a neon sign's red) brought inside by mixing in the grey of its own luminance, just enough:
    its hue and its brightness kept (clipped, BT.2020's own green came out BT.709's, 19% brighter)."""
    light = np.asarray(light, np.float64) @ _BT2020_TO_BT709.T
    luma = np.maximum(light @ _BT709_LUMA, 0.0)[..., None]
    low = light.min(axis=-1, keepdims=True)
    share = np.where(low < 0.0, luma / np.maximum(luma - low, 1e-12), 1.0)
    return np.maximum(luma + share * (light - luma), 0.0)


@lru_cache(maxsize=4)
def _cube_text(kind: str, peak: float) -> str:
    """The mapping as a .cube 3D LUT (red fastest), LUT_POINTS a side (kept for the process's next runs)."""
    grid = np.linspace(0.0, 1.0, LUT_POINTS)
    b, g, r = np.meshgrid(grid, grid, grid, indexing="ij")
    table = to_sdr(np.stack([r, g, b], -1).reshape(-1, 3), kind, peak)
    return f"LUT_3D_SIZE {LUT_POINTS}\n" + ("%.5f %.5f %.5f\n" * len(table)) % tuple(table.ravel().tolist())


class ToneMap:
    """HDR frames made SDR RGB for one run (its frames and, on other threads, its frames between). ``default``
    ("PQ", "HLG" or ""): what a frame that does not say its transfer is (the stream's, where the container says
    it and the coded frames do not). The video's peak is read from its first HDR frame (a stream repeats it
    at keyframes, or not at all); the filter graph is built at that frame and again where the size, the
    format or the transfer changes."""

    def __init__(self, default: str = ""):
        self.default = default
        self._lock = threading.Lock()
        self._graph = self._sink = self._key = None
        self._peak: float | None = None
        self._luma: dict = {}

    def kind(self, frame) -> str:
        """"PQ" or "HLG" where the frame is HDR (by its own tag, else by the stream's), else ""."""
        return hdr_kind(frame, self.default)

    def peak(self, frame) -> float:
        """The video's peak (nits), as its first HDR frame says."""
        if self._peak is None:
            self._peak = peak_nits(frame)
        return self._peak

    def image(self, frame, size: tuple[int, int]) -> np.ndarray:
        """An HDR frame as SDR RGB (H, W, 3) uint8 at ``size`` (width, height), as stored (not turned). A
        failure here is the tone map's, never the file's: a RuntimeError, not FFmpeg's (which the decoding
        loop takes for a damaged packet)."""
        import av

        with self._lock:
            key = (frame.width, frame.height, frame.format.name, size, self.kind(frame), self.peak(frame),
                   int(frame.colorspace or 0), int(frame.color_range or 0))
            try:
                if key != self._key:
                    self._graph, self._sink = self._build(frame, size, key)
                    self._key = key
                self._graph.push(frame)
                return self._sink.pull().to_ndarray()
            except (av.error.FFmpegError, OSError) as exc:
                self._key = None
                raise RuntimeError(f"tone-mapping the HDR video's frames failed ({exc})") from exc

    @staticmethod
    def _build(frame, size, key):
        import av.filter

        kind, peak, space, rng = key[4:]
        fd, cube = tempfile.mkstemp(prefix="nvwa-hdr-", suffix=".cube")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(_cube_text(kind, peak))
            graph = av.filter.Graph()
            chain = [graph.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                                      time_base=frame.time_base),
                     graph.add("scale", w=str(size[0]), h=str(size[1]), flags="bilinear",
                               in_color_matrix=_MATRICES.get(space, "bt2020"), in_range="pc" if rng == 2 else "tv"),
                     graph.add("format", pix_fmts="gbrp16le"), graph.add("lut3d", file=cube, interp="tetrahedral"),
                     graph.add("format", pix_fmts="rgb24"), graph.add("buffersink")]
            for a, b in pairwise(chain):
                a.link_to(b)
            graph.configure()  # (the LUT file is read here)
        finally:
            os.remove(cube)
        return graph, chain[-1]

    def luma_table(self, frame) -> np.ndarray:
        """A 1,024-entry table: an HDR frame's 10-bit brightness code (limited range) -> the SDR frame's 8-bit
        one, greys mapped as :func:`to_sdr` maps them (for a glance at the frame, :func:`nvwa.video.shown.glance`)."""
        key = (self.kind(frame), self.peak(frame))
        table = self._luma.get(key)
        if table is None:  # (made once; two threads making it at once make the same table)
            grey = np.clip((np.arange(1024) - 64) / 876.0, 0.0, 1.0)
            table = self._luma[key] = np.round(16 + 219 * to_sdr(np.repeat(grey[:, None], 3, axis=1), *key)[:, 0]).astype(np.uint8)
        return table


__all__ = ["ToneMap", "hdr_kind", "into_bt709", "peak_nits", "side_data", "to_sdr", "transfer_code"]
