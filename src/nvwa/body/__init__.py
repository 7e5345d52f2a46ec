"""Body stage: per tracked person per frame, keypoints in 2D (pixels) and 3D (metres, root-relative)."""

from nvwa.body.observation import BodyObservation

__all__ = ["BodyObservation"]
