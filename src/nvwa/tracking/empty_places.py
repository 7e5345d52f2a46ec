"""Places where a pose check found nobody, as the people tracker remembers them: a detector proposes the
same clutter (a pole, a bush, a bollard) pass after pass, and each pose check there is a graph call and
one or two of the landmark network's. A place is left alone for ``empty_memory_s``, twice as long each time
it is found empty again up to ``empty_memory_max_s``, unless the detector is ``empty_recheck_gain`` surer
of it (a person stepping into view); a place not found empty again within twice its memory starts over."""

from __future__ import annotations

import numpy as np

from nvwa.tracking.boxes import iou_matrix

SAME_PLACE_IOU = 0.5  # two boxes this much alike are one place


class EmptyPlaces:
    """The places of one video (a TrackerConfig's ``empty_*`` settings), each a box, the time it was last found
    empty, the detector's score then and how long it is remembered."""

    def __init__(self, config):
        self.config = config
        self.boxes, self.times = np.zeros((0, 4)), np.zeros(0)
        self.scores, self.memories = np.zeros(0), np.zeros(0)

    def _same(self, box: np.ndarray) -> np.ndarray:
        return iou_matrix(box, self.boxes)[0] >= SAME_PLACE_IOU if len(self.boxes) else np.zeros(0, bool)

    def nobody_there(self, box: np.ndarray, score: float, t: float) -> bool:
        """Was ``box`` found empty within its place's memory, on a proposal the detector was about as sure of?"""
        near = (t - self.times <= self.memories) & (score < self.scores + self.config.empty_recheck_gain)
        return bool(near.any() and (near & self._same(box)).any())

    def forget(self, t: float) -> None:
        """Places not found empty again within twice their memory of their last such check: one proposed after
        that starts over (a place is kept past its memory so that a check then can double it)."""
        self._keep(t - self.times <= 2 * self.memories)

    def found_empty(self, box: np.ndarray, score: float, t: float) -> None:
        """A pose check found nobody at ``box``: remembered for ``empty_memory_s``, or for twice the memory of
        the same place found empty before (its memory just over, or the detector surer now), up to
        ``empty_memory_max_s``."""
        c = self.config
        same = self._same(box)
        memory = max(c.empty_memory_s, min(2 * self.memories[same].max(), c.empty_memory_max_s)) if same.any() else c.empty_memory_s
        # the place's entries whose memory ran out are this one now; one still remembered (the detector is surer
        # now) stays for the boxes it covers
        self._keep(~same | (t - self.times <= self.memories))
        self.boxes = np.vstack([self.boxes, np.asarray(box, dtype=np.float64).reshape(1, 4)])
        self.times, self.scores = np.append(self.times, t), np.append(self.scores, score)
        self.memories = np.append(self.memories, memory)

    def _keep(self, keep: np.ndarray) -> None:
        self.boxes, self.times, self.scores, self.memories = self.boxes[keep], self.times[keep], self.scores[keep], self.memories[keep]
