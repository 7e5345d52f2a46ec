"""Each person as a human body of their own size: the MakeHuman body of ``human_body.npz`` (see
:mod:`nvwa.body.human_asset`) fitted to the person's locked bone lengths and stature, then re-posed from
MakeHuman's A-pose into our rig's rest pose, so the exporters skin it to the same 24 joints as the rig.

Shape: gender g and childhood c (0..1), height h (-1..1), weight w (0..1) blend the asset's targets
linearly (delta = (1-c)((1-g) F + g M) + c((1-g) Fc + g Mc) + h+((1-g) Ft + g Mt) + h-((1-g) Fs + g Ms)
+ w((1-g) Fh + g Mh)), then one scale s; a bounded least squares matches the 23 bone lengths (joints are
the helper cubes' centroids, linear in the shape) and the stature. Out-of-range people are clamped to the
bounds and the fit says so. Numpy and scipy only: no torch at run time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from nvwa.errors import ModelMissingError
from nvwa.rig.skeleton import SMPL24_PARENTS

# where a flat foot's sole is, relative to its ankle joint, in the rest pose (x, y, z per unit of stature):
# the heel and the ball of the foot, from the MakeHuman body (ankle 7.4 cm above the ground at 1.67 m)
HEEL_SOLE = np.array([0.0, -0.0428, -0.019])
BALL_SOLE = np.array([0.0, -0.0428, 0.072])
# the child whose direction sets each joint's rotation when re-posing (None: the parent's rotation)
_AIM = {0: None, 1: 4, 2: 5, 3: 6, 4: 7, 5: 8, 6: 9, 7: 10, 8: 11, 9: 12, 10: None, 11: None, 12: 15, 13: 16,
        14: 17, 15: None, 16: 18, 17: 19, 18: 20, 19: 21, 20: 22, 21: 23, 22: None, 23: None}
BONES = [j for j in range(1, 24)]
# the long bones (thighs, shins, upper arms, forearms) are anatomy both skeletons agree on; the trunk's,
# collars', feet's and hands' joints are placed by different conventions (SMPL's, BlazePose's, MakeHuman's)
LIMBS = [4, 5, 7, 8, 18, 19, 20, 21]
_WEIGHT = np.array([3.0 if b in LIMBS else 0.3 for b in BONES])
SCALE_BOUNDS = (0.45, 1.6)
LIMB_TARGETS = ("upperarm", "lowerarm", "upperleg", "lowerleg")
CHILD_BELOW_M = 1.45  # m: shorter people may take a child's proportions
MAX_FITS = 256  # people's fitted bodies kept (~0.2 MB each; the latest used: grounding's, then the exports' same people)
_FITS_LOCK = threading.Lock()


def _pair_shares(c: float, h: float, w: float) -> tuple:
    """Each (female target, male target, share) pair of the blend: adult or child, taller or shorter, heavier;
    gender then splits each share between its two targets."""
    return (("female", "male", 1 - c), ("female_child", "male_child", c), ("female_tall", "male_tall", max(h, 0.0)),
            ("female_short", "male_short", max(-h, 0.0)), ("female_heavy", "male_heavy", w))


@dataclass(frozen=True)
class FittedBody:
    vertices: np.ndarray = field(repr=False)  # (V, 3) float32 m, our rig's rest pose, pelvis at the origin
    faces: np.ndarray = field(repr=False)  # (F, 3) int32
    skin_joints: np.ndarray = field(repr=False)  # (V, 4) uint8, SMPL-24 joints
    skin_weights: np.ndarray = field(repr=False)  # (V, 4) float32, rows sum to 1
    params: dict = field(default_factory=dict)  # gender, child, height, weight, scale
    stature_m: float = 0.0
    bone_error_m: float = 0.0  # largest |fitted - target| length of the long bones (LIMBS)
    clamped: bool = False  # a parameter sits on its bound: the person is outside the model's range

    def soles(self, band_m: float = 0.04, most: int = 600) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The vertices of the soles (within ``band_m`` of the lowest in the rest pose, at most ``most``,
        spread over both feet) -> (vertices (S, 3), skin joints (S, 4), weights (S, 4))."""
        low = np.flatnonzero(self.vertices[:, 1] <= self.vertices[:, 1].min() + band_m)
        low = low[np.linspace(0, len(low) - 1, min(most, len(low))).astype(int)]
        return self.vertices[low].astype(np.float64), self.skin_joints[low].astype(int), self.skin_weights[low]

    def subset(self, vertices: np.ndarray, faces: np.ndarray) -> "FittedBody":
        """The same body on a subset of its vertices (the low-poly mesh: indices and its own triangles)."""
        return replace(self, vertices=self.vertices[vertices], faces=faces, skin_joints=self.skin_joints[vertices],
                       skin_weights=self.skin_weights[vertices])


class HumanBody:
    """The human body asset, loaded once (numpy arrays, ~1 MB)."""

    def __init__(self, path: str | Path):
        path = Path(path)
        if not path.is_file():
            raise ModelMissingError(f"{path}: the human body asset is missing; run `nvwa models fetch`")
        try:
            with np.load(path, allow_pickle=False) as z:
                a = {k: z[k] for k in z.files}
        except Exception as exc:  # a truncated or foreign file
            raise ModelMissingError(f"{path}: unreadable human body asset ({type(exc).__name__}); "
                                    "run `nvwa models fetch --force`") from None
        from nvwa.body.human_asset import ASSET_VERSION

        if int(a.get("version", 1)) != ASSET_VERSION:
            raise ModelMissingError(f"{path}: a human body asset of version {int(a.get('version', 1))}, this nvwa needs "
                                    f"{ASSET_VERSION}; run `nvwa models fetch`")
        self.vertices = a["vertices"].astype(np.float64)
        self.n_body = int(a["body_vertex_count"])
        self.faces = a["faces"]
        self.target_names = [str(n) for n in a["target_names"]]
        self._target_index = {n: k for k, n in enumerate(self.target_names)}
        self._target_stack = a["targets"].astype(np.float64).reshape(len(self.target_names), -1)  # (K, V * 3)
        self.targets = {n: t.reshape(-1, 3) for n, t in zip(self.target_names, self._target_stack)}  # views of it
        self.joint_vertices = a["joint_vertices"]
        self.skin_joints, self.skin_weights = a["skin_joints"], a["skin_weights"]
        self.licence = str(a["licence"])
        self.lowpoly_vertices, self.lowpoly_faces = a["lowpoly_vertices"], a["lowpoly_faces"]
        body = self.vertices[: self.n_body]
        self._top, self._bottom = int(np.argmax(body[:, 1])), int(np.argmin(body[:, 1]))
        # what the fit reads of a shaped mesh is linear in the targets' weights: the joints (the helper cubes'
        # centroids), then the heights of the top and the bottom vertex (74 values), of the base mesh and of
        # each target, worked out once
        def at_joints(v):
            return np.r_[self.joints(v).reshape(-1), v[self._top, 1], v[self._bottom, 1]]
        self._at_joints = at_joints(self.vertices), np.stack([at_joints(self.targets[n]) for n in self.target_names])

    def low_poly(self) -> "LowPolyBody":
        """This body with the low-poly mesh (~1,600 vertices; the fit is the full body's, shared)."""
        return LowPolyBody(self)

    def coefficients(self, g: float, c: float, h: float, w: float, *limbs: float) -> np.ndarray:
        """(K,): each target's weight (in ``target_names`` order) in the shape delta of those parameters
        (``limbs``: upper arm, lower arm, upper leg, lower leg lengths, -1..1): the formula above."""
        k = self._target_index
        out = np.zeros(len(k))
        for female, male, share in _pair_shares(c, h, w):
            out[k[female]] += share * (1 - g)
            out[k[male]] += share * g
        for x, name in zip(limbs, LIMB_TARGETS):
            out[k[f"{name}_long"]] += max(x, 0.0)
            out[k[f"{name}_short"]] += max(-x, 0.0)
        return out

    def coefficient_slopes(self, g: float, c: float, h: float, w: float, *limbs: float) -> np.ndarray:
        """(5 + len(limbs), K): how each target's weight changes with g, c, h, w, the scale (none: it
        multiplies the whole shape) and each limb; at h = 0 or a limb at 0 the slope of its positive side
        (a forward difference's)."""
        k = self._target_index
        out = np.zeros((5 + len(limbs), len(k)))
        for female, male, share in _pair_shares(c, h, w):
            out[0, k[female]] -= share
            out[0, k[male]] += share
        for row, (female, male, sign) in ((1, ("female", "male", -1.0)), (1, ("female_child", "male_child", 1.0)),
                                          (2, ("female_tall", "male_tall", 1.0) if h >= 0 else ("female_short", "male_short", -1.0)),
                                          (3, ("female_heavy", "male_heavy", 1.0))):
            out[row, k[female]] += sign * (1 - g)
            out[row, k[male]] += sign * g
        for i, (x, name) in enumerate(zip(limbs, LIMB_TARGETS)):
            out[5 + i, k[f"{name}_long" if x >= 0 else f"{name}_short"]] = 1.0 if x >= 0 else -1.0
        return out

    def delta(self, g: float, c: float, h: float, w: float, *limbs: float) -> np.ndarray:
        """(V, 3): the shape delta of those parameters (see :meth:`coefficients`)."""
        return (self.coefficients(g, c, h, w, *limbs) @ self._target_stack).reshape(self.vertices.shape)

    def joints(self, vertices: np.ndarray) -> np.ndarray:
        """(24, 3): the SMPL-24 joints of a shaped mesh (its helper cubes' centroids)."""
        return vertices[self.joint_vertices].mean(axis=1)

    def fit(self, bone_lengths: np.ndarray, rest_directions: np.ndarray, stature_m: float) -> FittedBody:
        """The body whose bones and stature are the person's, re-posed into their rig's rest pose (fitted once
        per person while among the MAX_FITS used last: grounding's soles, the GLB and the PLY ask for the same one)."""
        key = (np.asarray(bone_lengths, np.float64).tobytes(), np.asarray(rest_directions, np.float64).tobytes(),
               float(stature_m))
        with _FITS_LOCK:  # (a server's jobs may reconstruct side by side)
            cache = self.__dict__.setdefault("_fits", OrderedDict())
            fitted = cache.get(key)
            if fitted is not None:
                cache.move_to_end(key)
                return fitted
        fitted = self._fit(bone_lengths, rest_directions, stature_m)
        with _FITS_LOCK:
            cache[key] = fitted
            while len(cache) > MAX_FITS:  # the asset lives as long as the process: a worker's jobs must not pile up
                cache.popitem(last=False)
        return fitted

    def fit_terms(self, bone_lengths: np.ndarray, stature_m: float):
        """The shape fit's residual of x (gender, child, height, weight, scale, the four limbs) -> (31,): the
        bones' lengths against ``bone_lengths`` (long bones weighted), the stature against ``stature_m``, a
        little pull towards the average adult; and its Jacobian (31, 9), written out."""
        target = np.asarray(bone_lengths, dtype=np.float64)
        base, shapes = self._at_joints
        parents = [SMPL24_PARENTS[b] for b in BONES]

        def residual(x):
            v = (base + self.coefficients(*x[:4], *x[5:]) @ shapes) * x[4]
            j = v[:72].reshape(24, 3)
            lengths = np.linalg.norm(j[BONES] - j[parents], axis=1)
            # a little pull towards the average adult: the shape moves only as far as the person needs
            return np.concatenate([_WEIGHT * (lengths - target[BONES]), [3.0 * (v[72] - v[73] - stature_m)], 0.02 * x[1:4],
                                   0.005 * x[5:]])

        def jacobian(x):  # the shape is linear in the targets' weights, the weights piecewise linear in x
            shape = base + self.coefficients(*x[:4], *x[5:]) @ shapes
            dv = (self.coefficient_slopes(*x[:4], *x[5:]) @ shapes) * x[4]  # (9, 74)
            dv[4] = shape
            j = (shape * x[4])[:72].reshape(24, 3)
            bone = j[BONES] - j[parents]
            along = bone / np.linalg.norm(bone, axis=1, keepdims=True)
            dj = dv[:, :72].reshape(len(x), 24, 3)
            J = np.zeros((31, len(x)))
            J[:23] = _WEIGHT[:, None] * np.einsum("bi,pbi->bp", along, dj[:, BONES] - dj[:, parents])
            J[23] = 3.0 * (dv[:, 72] - dv[:, 73])
            J[24:27, 1:4] = 0.02 * np.eye(3)
            J[27:, 5:] = 0.005 * np.eye(len(x) - 5)
            return J
        return residual, jacobian

    def _fit(self, bone_lengths: np.ndarray, rest_directions: np.ndarray, stature_m: float) -> FittedBody:
        from scipy.optimize import least_squares

        residual, jacobian = self.fit_terms(bone_lengths, stature_m)
        # gender is held neutral: bone lengths do not tell it (the fit would pick one at random), and a body of
        # the wrong sex is worse than an androgynous one; the clothing colours make the person recognisable
        # a child's proportions only for someone of a child's height (else they would buy an adult's odd bones)
        child = 1.0 if np.isfinite(stature_m) and stature_m < CHILD_BELOW_M else 1e-3
        lo, hi = [0.499, 0, -1, 0, SCALE_BOUNDS[0], -1, -1, -1, -1], [0.501, child, 1, 1, SCALE_BOUNDS[1], 1, 1, 1, 1]
        x0 = [0.5, 0.0, 0.0, 0.0, stature_m / 1.67 if np.isfinite(stature_m) and stature_m > 0 else 1.0, 0, 0, 0, 0]
        x0[4] = float(np.clip(x0[4], lo[4], hi[4]))
        sol = least_squares(residual, x0, jac=jacobian, bounds=(lo, hi), max_nfev=200)
        x = sol.x
        verts = (self.vertices + self.delta(*x[:4], *x[5:])) * x[4]
        limb_error = float(np.abs(residual(x)[[BONES.index(b) for b in LIMBS]]).max() / 3.0)  # (their weight: 3)
        # outside the model's range: the size on its bound, or long bones it cannot reach (a bad fit upstream)
        clamped = bool(np.isclose(x[4], lo[4], atol=1e-3) or np.isclose(x[4], hi[4], atol=1e-3) or limb_error > 0.05)
        rest = self._reposed(verts, bone_lengths, rest_directions)
        return FittedBody(rest[: self.n_body].astype(np.float32), self.faces, self.skin_joints, self.skin_weights,
                          dict(zip(("gender", "child", "height", "weight", "scale", *LIMB_TARGETS), np.round(x, 4).tolist())),
                          float(verts[self._top, 1] - verts[self._bottom, 1]), limb_error, clamped)

    def _reposed(self, verts: np.ndarray, bone_lengths: np.ndarray, rest_directions: np.ndarray) -> np.ndarray:
        """The shaped mesh (MakeHuman's A-pose) moved into the rig's rest pose by linear blend skinning:
        each joint turned so its bone points along the rig's rest direction, vertices following their
        joints (the rig's own joint positions, so the mesh and the skeleton agree)."""
        from nvwa.export.avatar import rest_joint_positions

        mh = self.joints(verts)
        ours = rest_joint_positions(np.asarray(bone_lengths, float), np.asarray(rest_directions, float))
        R = np.tile(np.eye(3), (24, 1, 1))
        for j in range(24):
            child = _AIM[j]
            if child is None:
                R[j] = R[SMPL24_PARENTS[j]] if j else np.eye(3)
                continue
            R[j] = _align(mh[child] - mh[j], ours[child] - ours[j])
        for foot, ankle in ((10, 7), (11, 8)):
            # the foot keeps the body model's own shape under the ankle (its sole flat, heel and ball at one
            # level) rather than stretching to the rig's toe joint: grounding stands these soles on the floor
            ours[foot] = ours[ankle] + R[ankle] @ (mh[foot] - mh[ankle])
        body = verts[: self.n_body]
        out = np.zeros_like(body)
        for k in range(4):
            j = self.skin_joints[:, k].astype(int)
            w = self.skin_weights[:, k:k + 1]
            moved = np.einsum("nij,nj->ni", R[j], body - mh[j]) + ours[j]
            out += w * moved
        return out


@dataclass(frozen=True)
class LowPolyBody:
    """A HumanBody whose fitted bodies are drawn with the low-poly mesh (a subset of the full mesh's
    vertices: same skin weights, same soles within the decimation's few mm)."""

    full: HumanBody

    def fit(self, bone_lengths: np.ndarray, rest_directions: np.ndarray, stature_m: float) -> FittedBody:
        return self.full.fit(bone_lengths, rest_directions, stature_m).subset(self.full.lowpoly_vertices,
                                                                             self.full.lowpoly_faces)


_LOADED: dict = {}


def load_human_body(path: str | Path) -> HumanBody:
    """The asset at ``path``, read once per process while the file is unchanged (the reconstruction and
    each exporter ask for it; its fits are kept with it)."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = HumanBody(path)
    return _LOADED[key]


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction ``a`` onto direction ``b``."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    if c < -0.999999:  # opposite: half a turn about any axis normal to a
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


__all__ = ["HumanBody", "LowPolyBody", "FittedBody", "load_human_body", "HEEL_SOLE", "BALL_SOLE"]
