"""Runs of True in a boolean series (frames in contact, hidden, on a raised support)."""

from __future__ import annotations

import numpy as np


def true_runs(mask) -> list[tuple[int, int]]:
    """(T,) bool -> [(start, stop)) index ranges of consecutive True, in order."""
    edges = np.diff(np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist()))


__all__ = ["true_runs"]
