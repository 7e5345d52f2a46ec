"""Seconds per pipeline stage."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from contextlib import contextmanager


class StageTimer:
    """Seconds per stage, each stage's own: time spent in a stage timed inside another (the body model
    called from the tracker) counts for the inner one only, so no stage's time is a difference that
    can come out negative. Stages may run on several threads at once (detection beside the body model):
    nesting is per thread, and each thread's stages count their own wall time, so the stages' seconds
    can add up to more than the run's."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self._local = threading.local()
        self._lock = threading.Lock()

    @contextmanager
    def __call__(self, stage: str):
        stack = self._local.__dict__.setdefault("open", [])  # [start, seconds of the stages timed inside it]
        frame = [time.perf_counter(), 0.0]
        stack.append(frame)
        try:
            yield
        finally:
            stack.pop()
            elapsed = time.perf_counter() - frame[0]
            with self._lock:
                self.seconds[stage] += elapsed - frame[1]
            if stack:
                stack[-1][1] += elapsed


def timed(items, timer: StageTimer, stage: str):
    """``items`` with the time spent producing each counted as ``stage``."""
    items = iter(items)
    try:
        while True:
            with timer(stage):
                item = next(items, None)
            if item is None:
                return
            yield item
    finally:  # closed early (an error, a cancelled job): close the source too, now, not at garbage collection
        if hasattr(items, "close"):
            items.close()


__all__ = ["StageTimer", "timed"]
