"""bench/spine.py's CPU seconds by thread: what its speed table says the cores were spent on."""

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from spine import _threads_cpu_s  # noqa: E402  the bench's own accounting


def _spin(seconds: float, until: threading.Event | None = None) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    if until is not None:
        until.wait()


def test_threads_are_summed_by_pool_and_an_ended_thread_keeps_what_it_had_at_the_last_look():
    """Two workers of one pool (work_0, work_1) count as one name; a thread that ends after a look keeps
    the seconds it had then (the run's pools end before its last look); an idle thread counts ~nothing."""
    release = threading.Event()
    workers = [threading.Thread(target=_spin, args=(0.15, release), name=f"work_{i}", daemon=True) for i in range(2)]
    idle = threading.Thread(target=release.wait, name="idle_0", daemon=True)
    try:
        for t in (*workers, idle):
            t.start()
        while any(time.clock_gettime(time.pthread_getcpuclockid(t.ident)) < 0.15 for t in workers):
            time.sleep(0.01)
        seen: dict = {}
        during = _threads_cpu_s(seen)
    finally:
        release.set()
    for t in (*workers, idle):
        t.join()
    after = _threads_cpu_s(seen)
    assert "work_0" not in during and 0.3 <= during["work"] < 0.6
    assert after["work"] == during["work"]  # ended since: held at the last look, not lost
    assert after["idle"] < 0.05
    assert _threads_cpu_s()["MainThread"] > 0  # no record kept: only live threads
    assert "work" not in _threads_cpu_s()


def test_threads_one_after_another_each_keep_their_seconds():
    """Threads run one after another reuse one thread id: each is kept by itself, so their seconds add up
    (kept by id, all but the last were lost)."""
    seen: dict = {}
    for _ in range(3):
        done = threading.Event()
        t = threading.Thread(target=_spin, args=(0.05, done), name="pool_0", daemon=True)
        t.start()
        while time.clock_gettime(time.pthread_getcpuclockid(t.ident)) < 0.05:
            time.sleep(0.005)
        _threads_cpu_s(seen)
        done.set()
        t.join()
    assert 0.15 <= _threads_cpu_s(seen)["pool"] < 0.3
