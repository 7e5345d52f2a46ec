"""Frames decoded on a thread of their own, a few ahead of whoever uses them."""

from __future__ import annotations

from collections.abc import Iterator


def read_ahead(frames: Iterator, ahead: int = 3) -> Iterator:
    """``frames`` decoded on their own thread, at most ``ahead`` ahead of the consumer (the decoder and
    the resize release the GIL, so decoding overlaps the models). Errors are raised where the frame
    would have been; closing the generator stops the thread."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()
    done = object()

    def produce():
        try:
            for item in frames:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, who raises it
            q.put(e)

    worker = threading.Thread(target=produce, name="decode", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass
        if hasattr(frames, "close"):
            frames.close()
