"""Process memory: glibc gives each thread that allocates its own malloc arena, and with the decoder,
the detector, the scene and the body model's threads each holding freed blocks of its own, peak RSS
grows by ~70 MB on vtest for no gain. Two arenas hold it at what one thread would need (measured:
1,025 -> 953 MB peak, the same speed). And what the threads free is trimmed back to the system every
100 frames while observing (the holes their crops and buffers leave would grow RSS with the video's
length) and once more before the reconstruction allocates its own."""

from __future__ import annotations

import ctypes
import functools
import os
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter
_done = False


@functools.cache
def _glibc():
    """glibc, loaded once (the observing trims every 100 frames); None off Linux or on another C library
    (musl, ...): nothing to bound or trim there."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def bound_malloc_arenas(arenas: int = 2) -> bool:
    """Limit glibc's malloc arenas for the threads created from now on (once per process; a
    MALLOC_ARENA_MAX the user set wins; a no-op off glibc) -> whether the limit is set."""
    global _done
    if _done or "MALLOC_ARENA_MAX" in os.environ or _glibc() is None:
        return _done
    _done = bool(_glibc().mallopt(M_ARENA_MAX, arenas))
    return _done


def give_back_free_memory() -> bool:
    """Hand the heap's free pages back to the system (glibc's malloc_trim; safe while other threads
    allocate: it locks each arena in turn): freed memory is still counted in RSS until trimmed, so the
    observing calls it every 100 frames, and again once the models are closed, before the
    reconstruction's own peak would sit on top of their memory -> whether anything was given back."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


__all__ = ["bound_malloc_arenas", "give_back_free_memory"]
