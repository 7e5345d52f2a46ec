"""Seconds per pipeline stage."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager


class StageTimer:
    """Seconds per stage, each stage's own: time spent in a stage timed inside another (the body model
    called from the tracker) counts for the inner one only, so no stage's time is a difference that
    can come out negative."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self._open: list[list[float]] = []  # [start, seconds of the stages timed inside it]

    @contextmanager
    def __call__(self, stage: str):
        frame = [time.perf_counter(), 0.0]
        self._open.append(frame)
        try:
            yield
        finally:
            self._open.pop()
            elapsed = time.perf_counter() - frame[0]
            self.seconds[stage] += elapsed - frame[1]
            if self._open:
                self._open[-1][1] += elapsed


def timed(items, timer: StageTimer, stage: str):
    """``items`` with the time spent producing each counted as ``stage``."""
    items = iter(items)
    while True:
        with timer(stage):
            item = next(items, None)
        if item is None:
            return
        yield item


__all__ = ["StageTimer", "timed"]
