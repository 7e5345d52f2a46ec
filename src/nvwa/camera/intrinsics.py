"""Pinhole intrinsics, in the pixels of the stored video.

Default when the user gives none: focal = the image diagonal in pixels (sqrt(W^2 + H^2)), principal
point at the centre. That is a ~53 degree horizontal field of view for 4:3 and the same default SAM 3D
Body uses, so both backends agree on the camera when nobody knows better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nvwa.errors import InputError


@dataclass(frozen=True)
class Intrinsics:
    fx: float  # pixels
    fy: float  # pixels
    cx: float  # pixels
    cy: float  # pixels
    width: int  # pixels the values refer to
    height: int
    source: str = "default"  # "default", "focal" (--focal), "K" (--K), "estimated" (from the people)

    @classmethod
    def default(cls, width: int, height: int) -> "Intrinsics":
        f = float(np.hypot(width, height))
        return cls(f, f, width / 2, height / 2, width, height, "default")

    @classmethod
    def from_focal(cls, focal_px: float, width: int, height: int) -> "Intrinsics":
        if not np.isfinite(focal_px) or focal_px <= 0:
            raise InputError(f"--focal {focal_px}", "must be a positive number of pixels")
        return cls(float(focal_px), float(focal_px), width / 2, height / 2, width, height, "focal")

    @classmethod
    def from_text(cls, text: str, width: int, height: int, borders=(0, 0, 0, 0)) -> "Intrinsics":
        """"fx,fy,cx,cy" or the nine numbers of a row-major 3x3 K, in the shown frame's px; for the picture
        ``width`` x ``height`` inside it where ``borders`` (left, top, right, bottom px) are cut off."""
        left, top, right, bottom = (int(b) for b in borders)
        whole = cls._from_text(text, width + left + right, height + top + bottom)
        return cls(whole.fx, whole.fy, whole.cx - left, whole.cy - top, width, height, "K")

    @classmethod
    def _from_text(cls, text: str, width: int, height: int) -> "Intrinsics":
        try:
            v = [float(x) for x in text.replace(";", ",").replace(" ", ",").split(",") if x]
        except ValueError as exc:
            raise InputError(f"--K {text}", "must be numbers separated by commas") from exc
        if len(v) == 9:
            K = np.array(v).reshape(3, 3)
            if not np.allclose(K[2], [0, 0, 1]) or K[0, 1] != 0 or K[1, 0] != 0:
                raise InputError(f"--K {text}", "is not a pinhole K (last row 0,0,1 and no skew)")
            v = [K[0, 0], K[1, 1], K[0, 2], K[1, 2]]
        if len(v) != 4 or not np.all(np.isfinite(v)) or v[0] <= 0 or v[1] <= 0:
            raise InputError(f"--K {text}", "needs fx,fy,cx,cy (positive, finite focal) or 9 values of a 3x3 K")
        if not (0 <= v[2] <= width and 0 <= v[3] <= height):
            raise InputError(f"--K {text}", f"principal point ({v[2]:g}, {v[3]:g}) is outside the {width}x{height} frame")
        return cls(v[0], v[1], v[2], v[3], width, height, "K")

    def scaled(self, s: float) -> "Intrinsics":
        """The same camera for frames resized by ``s`` (decoded pixels per shown pixel: the video as a player
        shows it, turned and with square pixels)."""
        return Intrinsics(self.fx * s, self.fy * s, self.cx * s, self.cy * s,
                          int(round(self.width * s)), int(round(self.height * s)), self.source)

    def with_focal(self, focal_px: float, source: str) -> "Intrinsics":
        return Intrinsics(float(focal_px), float(focal_px) * self.fy / self.fx, self.cx, self.cy, self.width, self.height, source)

    @property
    def K(self) -> np.ndarray:
        """(3, 3) matrix."""
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])
