"""One tracked person between frames: what :class:`~nvwa.tracking.tracker.PeopleTracker` keeps of each
track (its box filter, poses, colours, misses, where it began) and what it hands on for each frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nvwa.body.observation import BodyObservation
from nvwa.tracking.boxes import BoxKalman


@dataclass(frozen=True)
class TrackedPerson:
    """One tracked person in one frame."""

    track_id: int
    observation: BodyObservation


def size_mean(mean: float, height: float, dt: float) -> float:
    """A track's running mean size with a pose ``dt`` s after its last: a tenth of the way to its height, as a
    30-fps video's frame (or any longer step) does; a shorter step (60 fps) the share that makes the same
    tenth over a 30-fps frame's time."""
    if dt >= 1 / 30 - 5e-4:
        return 0.9 * mean + 0.1 * height
    w = 1.0 - 0.9 ** (max(dt, 0.0) * 30)
    return (1 - w) * mean + w * height


@dataclass(eq=False)
class Track:
    """One person's track: its box filter, its last pose and box, their usual size and colours, its misses
    and where it began (compared by identity: two tracks are never equal)."""

    track_id: int
    kalman: BoxKalman
    last_seen_s: float
    hits: int = 0
    appearance: np.ndarray | None = None
    active: bool = True
    observation: BodyObservation | None = field(default=None, repr=False)
    predicted_iou: float = 0.0
    last_box: np.ndarray | None = None  # the last box a pose was seen in (xyxy px)
    before_misses: tuple[np.ndarray, float] | None = None  # its last box before its latest frames without a pose (and
    # when) after poses over ``settled_s``: where the person was, if what a wide search found after them was not (a
    # pose scattered over trees in the sun)
    resumed_s: float = 0.0  # when its first pose after its latest misses (or its first) was seen
    missed: bool = False  # a frame without a pose since its last pose
    misses: int = 0  # frames in a row without a pose
    height_px: float = 0.0  # running mean of the person's box height: their size, even when crouched or cut
    found_s: float = 0.0  # when the track began
    first_box: np.ndarray | None = None  # where (xyxy px)
    looked: tuple[int, float] | None = None  # its poses and the time when its colours were last looked at
    late_match: tuple | None = None  # (the lost track its last look was most like, when): its next too, joined
    before: list = field(default_factory=list)  # [(frame number, pose)] followed back from where it began, not yet handed on
    handover: Track | None = field(default=None, repr=False)  # the only track that lost its person within reach
    # just before this one began (``handover_s``), its colours then too unlike for a handover: its looks may hand it over


__all__ = ["Track", "TrackedPerson", "size_mean"]
