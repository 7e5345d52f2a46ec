"""Virtual handheld videos with exact truth: a static video's frames turned by a known smooth random
rotation (a slow pan, tilt and roll plus a hand's shake at 2-5 Hz), as large as a fixed centred crop
window (75% of each side) allows with no black border, then cropped to that window. Each frame is warped by
H(t) = K R(t)^T K^-1 (a pure rotation: the picture moves as a turning camera's would, whatever the depth).
Used by ``bench/handheld.py`` and the tests; the static reference is the same crop without the rotation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CROP = 0.75  # the crop window's share of each side
SHAPE_DEG = np.array([1.0, 0.2, 0.2])  # pan : tilt : roll of the slow motion (scaled up to what the crop allows)
SHAKE_DEG = np.array([0.15, 0.15, 0.1])  # the hand's shake, each axis


def rotation_path(n: int, fps: float, scale: float, seed: int) -> np.ndarray:
    """(n, 3, 3) rotations: slow pan/tilt/roll (three sines of 0.05-0.3 Hz each) times ``scale`` deg,
    plus a shake of 2-5 Hz."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    t = np.arange(n) / fps
    slow = np.zeros((n, 3))
    for axis in range(3):
        f, ph, a = rng.uniform(0.05, 0.3, 3), rng.uniform(0, 2 * np.pi, 3), rng.uniform(0.5, 1.0, 3)
        wave = (a[:, None] * np.sin(2 * np.pi * f[:, None] * t + ph[:, None])).sum(axis=0)
        slow[:, axis] = wave / np.abs(wave).max()
    shake = np.zeros((n, 3))
    for axis in range(3):
        f, ph = rng.uniform(2, 5, 2), rng.uniform(0, 2 * np.pi, 2)
        shake[:, axis] = SHAKE_DEG[axis] * np.sin(2 * np.pi * f[:, None] * t + ph[:, None]).mean(axis=0)
    ang = slow * SHAPE_DEG * scale + shake  # pan (about y), tilt (x), roll (z), degrees
    return Rotation.from_euler("YXZ", ang, degrees=True).as_matrix()


def crop_window(w: int, h: int) -> tuple[int, int, int, int]:
    cw, ch = int(w * CROP) // 2 * 2, int(h * CROP) // 2 * 2
    return (w - cw) // 2, (h - ch) // 2, cw, ch


def covered(R: np.ndarray, K: np.ndarray, w: int, h: int) -> bool:
    """Whether every frame's crop window, warped back into the source, lies inside it (no black border)."""
    x0, y0, cw, ch = crop_window(w, h)
    corners = np.array([[x0, y0, 1], [x0 + cw, y0, 1], [x0, y0 + ch, 1], [x0 + cw, y0 + ch, 1]], float)
    H = K @ R @ np.linalg.inv(K)  # virtual px -> source px
    src = np.einsum("nij,kj->nki", H, corners)
    src = src[..., :2] / src[..., 2:]
    return bool((src[..., 0] >= 1).all() and (src[..., 0] <= w - 2).all() and (src[..., 1] >= 1).all()
                and (src[..., 1] <= h - 2).all())


def largest_path(n: int, fps: float, K: np.ndarray, w: int, h: int, seed: int) -> tuple[np.ndarray, float]:
    lo, hi = 0.0, 40.0
    for _ in range(25):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if covered(rotation_path(n, fps, mid, seed), K, w, h) else (lo, mid)
    return rotation_path(n, fps, lo, seed), lo


def write_videos(src: Path, out_static: Path, out_handheld: Path, seconds: float, K: np.ndarray | None, seed: int,
                 codec: str = "libx264"):
    """The static crop and the virtual handheld crop of ``src``'s first ``seconds`` -> (K of the crops,
    rotations (n, 3, 3) virtual <- source camera per frame, pan amplitude deg)."""
    import av
    import cv2

    with av.open(str(src)) as c:
        s = c.streams.video[0]
        rate, w, h = s.average_rate, s.width, s.height
        fps = float(rate)
        frames = []
        for f in c.decode(video=0):
            if len(frames) >= int(round(seconds * fps)):
                break
            frames.append(f.to_ndarray(format="rgb24"))
    x0, y0, cw, ch = crop_window(w, h)
    if K is None:
        K = np.array([[1.2 * max(w, h), 0, w / 2], [0, 1.2 * max(w, h), h / 2], [0, 0, 1]])
    R, scale = largest_path(len(frames), fps, K, w, h, seed)
    for path, turn in ((out_static, False), (out_handheld, True)):
        with av.open(str(path), "w") as out:
            st = out.add_stream(codec, rate=rate)
            st.width, st.height, st.pix_fmt = cw, ch, "yuv420p"
            # one encoder thread: x264's bytes depend on its thread count, and the same test video on any machine
            st.options = {"crf": "12", "preset": "fast", "threads": "1"} if codec == "libx264" else {}
            for img, Ri in zip(frames, R):
                if turn:
                    img = cv2.warpPerspective(img, K @ Ri.T @ np.linalg.inv(K), (w, h), flags=cv2.INTER_LINEAR)
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[y0:y0 + ch, x0:x0 + cw]), format="rgb24")
                for packet in st.encode(frame):
                    out.mux(packet)
            for packet in st.encode():
                out.mux(packet)
    Kc = K.copy()
    Kc[0, 2] -= x0
    Kc[1, 2] -= y0
    return Kc, R, float(scale * SHAPE_DEG[0]), (x0, y0)



__all__ = ["rotation_path", "crop_window", "covered", "largest_path", "write_videos"]
