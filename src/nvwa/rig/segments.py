"""Many people's frames end to end: one array over everyone's frames (person after person) and the
bookkeeping that reduces it per person, lays it out side by side, finds runs that stop at a person's
edge, or splits it back. numpy's and scipy's cost is per call more than per frame on a person's few
hundred frames, so a stage run this way pays it once for everyone instead of once per person.
"""

from __future__ import annotations

import numpy as np


class Segments:
    """P people of lengths (P,) laid end to end: person k owns rows ``starts[k]:stops[k]``."""

    def __init__(self, lengths) -> None:
        self.lengths = np.asarray(lengths, dtype=np.intp).reshape(-1)
        self.stops = np.cumsum(self.lengths)
        self.starts = self.stops - self.lengths
        self.total = int(self.stops[-1]) if len(self.lengths) else 0
        self.owner = np.repeat(np.arange(len(self.lengths)), self.lengths)  # (N,) person of each row
        self.index = np.arange(self.total) - self.starts[self.owner]  # (N,) row within its person

    @classmethod
    def of(cls, arrays) -> "Segments":
        return cls([len(a) for a in arrays])

    def __len__(self) -> int:
        return len(self.lengths)

    def join(self, arrays, shape: tuple = ()) -> np.ndarray:
        """Everyone's arrays (T_k, ...) end to end -> (N, ...); ``shape`` the trailing one when nobody has a frame."""
        arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
        return np.concatenate(arrays) if arrays else np.zeros((0, *shape))

    def split(self, x: np.ndarray) -> list[np.ndarray]:
        """(N, ...) -> one (T_k, ...) view per person."""
        return np.split(x, self.stops[:-1]) if len(self.lengths) else []

    def per_row(self, values: np.ndarray) -> np.ndarray:
        """(P, ...) one value per person -> (N, ...) that value on each of their rows."""
        return np.asarray(values)[self.owner]

    def reduce(self, ufunc: np.ufunc, x: np.ndarray, empty=0) -> np.ndarray:
        """(N, ...) -> (P, ...): ``ufunc`` reduced over each person's rows (``empty`` for a person without any)."""
        x = np.asarray(x)
        out = np.full((len(self.lengths),) + x.shape[1:], empty, dtype=np.result_type(x.dtype, np.asarray(empty).dtype))
        has = self.lengths > 0
        if has.any():
            out[has] = ufunc.reduceat(x, self.starts[has], axis=0)
        return out

    def first(self) -> np.ndarray:
        """(N,) bool: the row is its person's first."""
        return self.index == 0

    def last(self) -> np.ndarray:
        """(N,) bool: the row is its person's last."""
        return self.index == self.lengths[self.owner] - 1

    def padded(self, x: np.ndarray, fill=None) -> np.ndarray:
        """(N, ...) -> (P, T_max, ...) side by side, each person's rows first, then ``fill`` (None: their last
        row repeated, which is what a filter with "nearest" edges sees past a person's end)."""
        x = np.asarray(x)
        T = int(self.lengths.max()) if len(self.lengths) else 0
        out = np.empty((len(self.lengths), T) + x.shape[1:], dtype=x.dtype)
        if fill is None:
            has = self.lengths > 0
            out[has] = x[self.stops[has] - 1][:, None]
        else:
            out[...] = fill
        out[self.owner, self.index] = x
        return out

    def repad(self, X: np.ndarray) -> np.ndarray:
        """(P, T_max, ...) side by side: past each person's end, their last row again (in place, returned),
        so a second "nearest" filter over a first one's output sees what it would see person by person."""
        has = self.lengths > 0
        past = np.arange(X.shape[1])[None, :] >= self.lengths[:, None]
        past[~has] = False
        rows = np.nonzero(past)
        X[rows] = X[rows[0], self.lengths[rows[0]] - 1]
        return X

    def unpadded(self, X: np.ndarray) -> np.ndarray:
        """(P, T_max, ...) -> (N, ...): each person's own rows back end to end."""
        return X[self.owner, self.index]

    def runs(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,) bool -> (starts, stops) of the runs of True, each within one person (a run never goes on
        into the next person's rows), in order."""
        mask = np.asarray(mask, dtype=bool)
        if not len(mask):
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        before = np.concatenate([[False], mask[:-1]]) & ~self.first()
        after = np.concatenate([mask[1:], [False]]) & ~self.last()
        return np.flatnonzero(mask & ~before), np.flatnonzero(mask & ~after) + 1


# Per-frame math over everyone's frames runs in pieces of this many frames: its temporaries, e.g.
# (256, 24, 3, 3) rotations, stay under half a megabyte, so the allocator hands the same memory back
# piece after piece (and it stays in cache) instead of mapping fresh pages from the OS for every
# multi-megabyte temporary; measured on the bench: the rig's solve 55 -> 42 ms, 8,500 -> 700 page faults.
CHUNK_FRAMES = 256


# An everyone-at-once stage runs on groups of people with at most this many frames together: its
# temporaries (a dozen arrays of ~100 values a frame) stay under ~40 MB however many people a long video
# has (one person's own long take is one group: what grows with it is in proportion to its frames).
PEOPLE_FRAMES_AT_ONCE = 4096


def in_groups(lengths, limit: int | None = None) -> list[list[int]]:
    """People, by their frame counts, in consecutive groups of at most ``limit`` (default
    ``PEOPLE_FRAMES_AT_ONCE``) frames together; a longer person is a group of their own."""
    limit = PEOPLE_FRAMES_AT_ONCE if limit is None else limit
    groups: list[list[int]] = []
    frames = limit + 1
    for k, n in enumerate(lengths):
        if frames + n > limit:
            groups.append([])
            frames = 0
        groups[-1].append(k)
        frames += n
    return groups


def in_chunks(fn, *arrays: np.ndarray, size: int = CHUNK_FRAMES):
    """``fn`` of per-frame arrays (frames first) applied to pieces of at most ``size`` frames; its
    output (an array, or a tuple of them, frames first) assembled for all frames."""
    N = len(arrays[0])
    if N <= size:
        return fn(*arrays)
    first = fn(*(a[:size] for a in arrays))
    single = not isinstance(first, tuple)
    first = (first,) if single else first
    out = tuple(np.empty((N,) + f.shape[1:], dtype=f.dtype) for f in first)
    for o, f in zip(out, first):
        o[:size] = f
    for a in range(size, N, size):
        piece = fn(*(x[a:a + size] for x in arrays))
        for o, f in zip(out, (piece,) if single else piece):
            o[a:a + size] = f
    return out[0] if single else out


def matmul3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3, 3) @ (..., 3, 3) for many small matrices, entry by entry over all of them at once: numpy's
    matmul spends ~120 ns on each 3x3 product, this a half to two thirds of that from a few thousand
    matrices up (slower under a thousand). The same products to rounding (1e-15), always as float64."""
    A, B = np.moveaxis(a, (-2, -1), (0, 1)), np.moveaxis(b, (-2, -1), (0, 1))
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    C = np.moveaxis(out, (-2, -1), (0, 1))
    for i in range(3):
        for j in range(3):
            C[i, j] = A[i, 0] * B[0, j] + A[i, 1] * B[1, j] + A[i, 2] * B[2, j]
    return out


def dot_last(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(..., k), (..., k) -> (...) the dot products along the last axis: np.sum(u * v, axis=-1) without its
    temporary or its reduction over a short axis (2-4x faster on the rig's 3- and 4-vectors)."""
    return np.einsum("...i,...i->...", u, v)


def norm_last(v: np.ndarray) -> np.ndarray:
    """(..., k) -> (...) the lengths along the last axis, as np.linalg.norm(v, axis=-1) (to rounding)."""
    return np.sqrt(dot_last(v, v))


def nan_median(x: np.ndarray) -> np.ndarray:
    """The median along the last axis skipping NaNs (NaN where all are), as np.nanmedian and np.median
    compute it (the mean of the two middle values), from one sort of every row at once."""
    if x.shape[-1] == 0:
        return np.full(x.shape[:-1], np.nan)
    s = np.sort(x, axis=-1)  # NaNs last
    n = np.count_nonzero(~np.isnan(x), axis=-1)[..., None]
    low = np.take_along_axis(s, np.maximum(n - 1, 0) // 2, axis=-1)
    high = np.take_along_axis(s, np.minimum(n // 2, x.shape[-1] - 1), axis=-1)
    return np.where(n > 0, (low + high) / 2, np.nan)[..., 0]


__all__ = ["CHUNK_FRAMES", "PEOPLE_FRAMES_AT_ONCE", "Segments", "dot_last", "in_chunks", "in_groups", "matmul3", "nan_median", "norm_last"]
