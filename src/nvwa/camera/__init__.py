"""Camera stage: intrinsics, and each person's root position in the camera frame."""

from nvwa.camera.intrinsics import Intrinsics
from nvwa.camera.root import solve_root_translation, solve_root_translations

__all__ = ["Intrinsics", "solve_root_translation", "solve_root_translations"]
