"""How the picture moves, measured on the static background (the observe side of a handheld camera).

Corners of the background (people masked out by their boxes) are tracked from a keyframe through the
following frames (pyramidal Lucas-Kanade, checked forwards and backwards); each frame's homography to its
keyframe is fitted to the corners that survived (RANSAC), and chained to the first frame only when a new
keyframe is taken (when too few corners survive), so drift grows with keyframes, not with frames. A frame
whose picture cannot be matched (a shot cut, a textureless wall, people covering the view) keeps the last
good homography, is marked lost, and the next frame starts a new keyframe.

What is stored is pixels only (the homography taking each frame's stored-video pixels to the first
frame's, and how well it fitted): turning it into a rotation needs the focal length, which the
reconstruction estimates (``nvwa.camera.motion``). A homography cannot hide parallax: the corners' spread
about it, against a fundamental matrix fitted to the same corners, says whether the camera also moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

WORK_SIDE = 640  # px: the longer side the background is tracked at
MAX_CORNERS = 250
MIN_DISTANCE = 12  # px between corners at WORK_SIDE
KEEP_FRACTION = 0.5  # a new keyframe when fewer than this share of its corners are still inliers
MIN_INLIERS = 24  # below this a frame cannot be matched: lost (3 rotation parameters need few)
RANSAC_PX = 1.5  # px at WORK_SIDE
FB_PX = 1.0  # px: forward-backward disagreement that drops a tracked corner
MAX_ANCHORS = 60  # keyframes kept to re-measure later keyframes against (bounds the chain's drift)
PERSON_MARGIN = 0.15  # each person's box grown by this share of its height before masking

OK, LOST, KEYFRAME = 0, 1, 2  # status per frame
_STATUS_RANK = {OK: 0, KEYFRAME: 1, LOST: 2}  # a frame between that lost the picture marks the next analysed one lost
MOVING_PX = 0.5  # work px: a step that moved a corner of the picture this far is a moving camera's
_LK = {"winSize": (15, 15), "maxLevel": 3, "criteria": (3, 30, 0.01)}  # Lucas-Kanade: 15 px windows, 4 levels, (EPS|COUNT, 30, 0.01)


@dataclass
class CameraTrack:
    """Per analysed frame: stored-video pixels of that frame -> the first frame's (3x3: the rotation's
    homography under the K the models had, K R K^-1), inliers, status, the parallax the homography leaves
    (px at the stored size, NaN where not measured), and the free homographies chained the same way."""

    frame_index: np.ndarray  # (F,) int64
    timestamp_s: np.ndarray  # (F,) float64, the container's
    H_first_from_frame: np.ndarray  # (F, 3, 3) float64
    inliers: np.ndarray  # (F,) int32
    status: np.ndarray  # (F,) int8: 0 tracked, 1 lost (the last good homography kept), 2 a new keyframe
    parallax_px: np.ndarray  # (F,) float32
    H_raw_first_from_frame: np.ndarray  # (F, 3, 3): the free homographies chained (for the focal length)

    def arrays(self) -> dict[str, np.ndarray]:
        return {f"camera_{k}": v for k, v in vars(self).items()}

    @classmethod
    def from_arrays(cls, data) -> CameraTrack | None:
        names = [f.name for f in fields(cls)]
        if any(f"camera_{k}" not in data for k in names):  # none, or from before a field was added: not followed
            return None
        return cls(**{k: np.asarray(data[f"camera_{k}"]) for k in names})


@dataclass
class BackgroundMotion:
    """Fed every analysed frame (``add``) with the people's boxes in it, and where the camera moves
    (``wants_between``) the frames decoded between them (``between``); ``track()`` -> CameraTrack."""

    K: np.ndarray = field(default_factory=lambda: np.eye(3))  # the stored video's intrinsics as the models had them
    rows: list = field(default_factory=list)
    _key: dict | None = None  # keyframe: corners at it, their current positions, H first<-key (rotation, raw)
    _prev_gray: np.ndarray | None = None
    _H_last: tuple = (np.eye(3), np.eye(3))  # first <- the last frame: (rotation homography, raw homography)
    _anchors: list = field(default_factory=list)  # keyframes of new ground: gray, corners, H first<-it, S
    _last_boxes: list = field(default_factory=list)  # the last analysed frame's people (masked on the frames after it)
    _between_status: int = OK  # the worst status of the frames followed since the last analysed one
    _s: float = 1.0  # work px per frame px, the last analysed frame's
    _to_stored: float = 1.0  # stored-video px per work px, likewise
    between_frames: int = 0  # frames followed that were not analysed

    def add(self, frame, boxes: list[np.ndarray]) -> None:
        """``frame``: a decoded Frame (image at frame.scale of the stored video); ``boxes``: (4,) x0, y0, x1,
        y1 in the frame's pixels, one per person in it."""
        s = self._s = _work_scale(frame.image)  # frame px -> work px
        status, inliers, parallax, to_stored = self._step(work_gray(frame.image), s, frame.scale, boxes)
        # a frame not analysed since the last one may have lost the picture (or begun a keyframe): the worse stands
        status = max(status, self._between_status, key=_STATUS_RANK.__getitem__)
        self._between_status = OK
        self.rows.append((frame.index, frame.timestamp_s, *self._H_last, inliers, status,
                          parallax * to_stored if np.isfinite(parallax) else np.nan))
        self._last_boxes = list(boxes)

    def wants_between(self) -> bool:
        """Whether the frames decoded but not analysed before the next analysed one are worth following
        too: the camera moved over the last analysed step (a still camera's are not looked at). Decided
        from what this track saw, so the same video gives the same track."""
        if len(self.rows) < 2:
            return False
        if self.rows[-1][5] != OK:
            return True
        h, w = self._prev_gray.shape
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64).T
        # the last analysed frame's corners, carried to the first frame and back through the one before, by
        # the rotation (the free homography's corners jitter: on taiji's tripod, over 0.5 px on 91 of 205 steps)
        S = np.diag([self._to_stored, self._to_stored, 1.0])
        step = np.linalg.inv(S) @ np.linalg.inv(self.rows[-2][2]) @ self.rows[-1][2] @ S
        moved = step @ corners
        return bool(np.abs(moved[:2] / moved[2] - corners[:2]).max() > MOVING_PX)

    def between(self, gray: np.ndarray, scale: float, boxes: list[np.ndarray]) -> None:
        """A frame decoded but not analysed, made grey by :func:`work_gray` from its RGB at the analysed frames'
        size and ``scale``: followed like one, without a row of its own. The people masked out are those of
        the analysed frames before and after it (``boxes``: the one after's, not added yet; the one before's
        alone let corners on a walker into keyframes, and virtual handheld clips lost the focal). The
        corners then move a frame's step at a time, not a stride's: at half its frames a real handheld
        clip's homographies came out noisier, and the focal test they make flattened (README). Its grey is
        made exactly as an analysed frame's: a grey level apart moved the corners as much as the stride."""
        if self._prev_gray is None or gray.shape != self._prev_gray.shape:
            return  # not the analysed frames' size: nothing to follow it by
        status, _, _, _ = self._step(gray, self._s, scale, [*self._last_boxes, *boxes])
        self._between_status = max(self._between_status, status, key=_STATUS_RANK.__getitem__)
        self.between_frames += 1

    def _step(self, gray: np.ndarray, s: float, scale: float, boxes: list) -> tuple:
        """Follow the background onto ``gray`` (work px; ``s`` work px per frame px, ``scale`` frame px per
        stored-video px) -> (status, inliers, parallax in work px, work px -> stored-video px)."""
        to_stored = 1.0 / (s * scale)  # work px -> stored-video px
        self._to_stored = to_stored
        mask = _background_mask(gray.shape, [np.asarray(b, float) * s for b in boxes])
        S = np.diag([to_stored, to_stored, 1.0])
        status, inliers, parallax = OK, 0, np.nan
        if self._key is None:
            status = KEYFRAME if self.rows else OK
            self._H_last = self._new_key(gray, mask, self._H_last, S)
        else:
            H_key_from_cur, inliers, parallax = self._match(gray, S, mask)
            if H_key_from_cur is None:
                # the picture is lost: start again from here, at the last good pose unless an anchor is found
                status = LOST
                self._H_last = self._new_key(gray, mask, self._H_last, S)
            else:
                self._H_last = tuple(kh @ S @ h @ np.linalg.inv(S) for kh, h in zip(self._key["H"], H_key_from_cur))
                if inliers < max(MIN_INLIERS, KEEP_FRACTION * self._key["count"]):
                    status = KEYFRAME
                    self._H_last = self._new_key(gray, mask, self._H_last, S)
        self._prev_gray = gray
        return status, inliers, parallax, to_stored

    def _new_key(self, gray: np.ndarray, mask: np.ndarray, H_first_from_key: tuple, S: np.ndarray) -> tuple:
        """Make this frame the keyframe -> its homography to the first frame, re-measured against the
        nearest anchor (an earlier keyframe it still overlaps) so the chain's drift is reset; a keyframe
        that overlaps none becomes an anchor itself."""
        import cv2

        corners = cv2.goodFeaturesToTrack(gray, MAX_CORNERS, 0.01, MIN_DISTANCE, mask=mask, blockSize=7)
        pts = np.zeros((0, 2), np.float32) if corners is None else corners.reshape(-1, 2).astype(np.float32)
        registered = self._register(gray, H_first_from_key, S, mask)
        if registered is not None:
            H_first_from_key = registered
        elif len(pts) >= MIN_INLIERS and len(self._anchors) < MAX_ANCHORS:
            self._anchors.append({"gray": gray, "pts": pts, "H": H_first_from_key, "S": S.copy()})
        self._key = {"pts": pts, "cur": pts.copy(), "H": H_first_from_key, "count": len(pts)}
        return H_first_from_key

    def _register(self, gray: np.ndarray, H_first_from_cur: tuple, S: np.ndarray, mask: np.ndarray) -> tuple | None:
        """This frame matched directly to the anchor whose view it overlaps most (corners carried over by
        the predicted homography, refined by Lucas-Kanade) -> homography first <- this frame, or None."""
        import cv2

        if not self._anchors:
            return None
        h, w = gray.shape
        centre = np.array([[[w / 2, h / 2]]], np.float32)

        def shift(a):  # how far this frame's centre lands from the anchor's, in the anchor's work px
            H = np.linalg.inv(a["S"]) @ np.linalg.inv(a["H"][0]) @ H_first_from_cur[0] @ S
            return float(np.linalg.norm(cv2.perspectiveTransform(centre, H) - centre))

        anchor = min(self._anchors, key=shift)
        if shift(anchor) > 0.5 * max(h, w) or anchor["gray"].shape != gray.shape:
            return None
        H_cur_from_anchor = np.linalg.inv(S) @ np.linalg.inv(H_first_from_cur[0]) @ anchor["H"][0] @ anchor["S"]  # work px
        guess = cv2.perspectiveTransform(anchor["pts"].reshape(-1, 1, 2), H_cur_from_anchor).reshape(-1, 2).astype(np.float32)
        found, st, _ = cv2.calcOpticalFlowPyrLK(anchor["gray"], gray, anchor["pts"], guess.copy(),
                                                flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **_LK)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(gray, anchor["gray"], found, None, **_LK)
        good = (st.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm(back - anchor["pts"], axis=1) < FB_PX)
        x = np.clip(found[:, 0].round().astype(int), 0, gray.shape[1] - 1)
        y = np.clip(found[:, 1].round().astype(int), 0, gray.shape[0] - 1)
        good &= mask[y, x] > 0  # not where people are now
        if good.sum() < MIN_INLIERS:
            return None
        fit = self._fit(found[good], anchor["pts"][good], S)
        if fit is None or fit[2].sum() < max(MIN_INLIERS, 0.3 * len(anchor["pts"])):
            return None
        return tuple(ah @ anchor["S"] @ h @ np.linalg.inv(S) for ah, h in zip(anchor["H"], fit[:2]))

    def _fit(self, src: np.ndarray, dst: np.ndarray, S: np.ndarray):
        """dst <- src (work px) -> (the rotation's homography K R K^-1, the free homography, inliers) or None.
        The rotation (3 parameters, fitted to the RANSAC inliers' bearings) is what the camera is followed
        with: 8 free parameters fitted to corners bunched in part of the view wander; the free homography is
        kept for the focal length (only the true focal makes it a rotation)."""
        import cv2

        H, inl = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_PX, maxIters=500, confidence=0.995)
        if H is None or not np.isfinite(H).all() or inl.sum() < MIN_INLIERS:
            return None
        inl = inl.ravel().astype(bool)
        Kw = np.linalg.inv(S) @ self.K
        bs, bd = (_bearings(p[inl], Kw) for p in (src, dst))
        R = _rotation(bs, bd)
        err = np.linalg.norm(bd - bs @ R.T, axis=1) * Kw[0, 0]  # ~px at the work size
        keep = err < 2 * RANSAC_PX
        if keep.sum() >= MIN_INLIERS:
            R = _rotation(bs[keep], bd[keep])
        return Kw @ R @ np.linalg.inv(Kw), H, inl

    def _match(self, gray: np.ndarray, S: np.ndarray, mask: np.ndarray):
        """The current frame against the keyframe -> (H key<-current at work px or None, inliers, parallax px)."""
        import cv2

        key = self._key
        if len(key["cur"]) < MIN_INLIERS or self._prev_gray is None or self._prev_gray.shape != gray.shape:
            return None, 0, np.nan
        nxt, st, _ = cv2.calcOpticalFlowPyrLK(self._prev_gray, gray, key["cur"], None, **_LK)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(gray, self._prev_gray, nxt, None, **_LK)
        good = (st.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm(back - key["cur"], axis=1) < FB_PX)
        # a corner a person now stands over is theirs as much as the background's: dropped
        x = np.clip(nxt[:, 0].round().astype(int), 0, gray.shape[1] - 1)
        y = np.clip(nxt[:, 1].round().astype(int), 0, gray.shape[0] - 1)
        good &= mask[y, x] > 0
        key["pts"], key["cur"] = key["pts"][good], nxt[good]
        if good.sum() < MIN_INLIERS:
            return None, int(good.sum()), np.nan
        fit = self._fit(key["cur"], key["pts"], S)
        if fit is None:
            return None, 0, np.nan
        H_rot, H, inl = fit
        key["pts"], key["cur"] = key["pts"][inl], key["cur"][inl]  # the outliers (movers, bad tracks) go
        return (H_rot, H), int(inl.sum()), _parallax(key["cur"], key["pts"], H)

    def track(self) -> CameraTrack:
        if not self.rows:
            e = np.zeros(0)
            return CameraTrack(e.astype(np.int64), e, np.zeros((0, 3, 3)), e.astype(np.int32), e.astype(np.int8),
                               e.astype(np.float32), np.zeros((0, 3, 3)))
        idx, ts, H, Hraw, inl, st, par = zip(*self.rows)
        return CameraTrack(np.asarray(idx, np.int64), np.asarray(ts, np.float64), np.asarray(H, np.float64),
                           np.asarray(inl, np.int32), np.asarray(st, np.int8), np.asarray(par, np.float32),
                           np.asarray(Hraw, np.float64))


def _work_scale(image: np.ndarray) -> float:
    """Work px per frame px: the frame's longer side brought to WORK_SIDE at most."""
    return min(1.0, WORK_SIDE / max(image.shape[:2]))


def work_gray(image: np.ndarray) -> np.ndarray:
    """A frame (RGB) as the background is followed on it: grey, its longer side at most WORK_SIDE."""
    import cv2

    h, w = image.shape[:2]
    s = _work_scale(image)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (int(round(w * s)), int(round(h * s))), interpolation=cv2.INTER_AREA) if s < 1.0 else gray


def _background_mask(shape, boxes) -> np.ndarray:
    """255 where corners may be taken: off the people (boxes grown by PERSON_MARGIN) and off the border."""
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    b = max(4, int(0.02 * max(h, w)))
    mask[b:h - b, b:w - b] = 255
    for x0, y0, x1, y1 in boxes:
        m = PERSON_MARGIN * (y1 - y0)
        mask[max(0, int(y0 - m)):max(0, int(y1 + m)), max(0, int(x0 - m)):max(0, int(x1 + m))] = 0
    return mask


def _bearings(px: np.ndarray, K: np.ndarray) -> np.ndarray:
    b = np.column_stack([px, np.ones(len(px))]) @ np.linalg.inv(K).T
    return b / np.linalg.norm(b, axis=1, keepdims=True)


def _rotation(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The rotation R minimising |dst - R src| over unit vectors (Kabsch)."""
    U, _, Vt = np.linalg.svd(dst.T @ src)
    return U @ np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))]) @ Vt


def _parallax(cur: np.ndarray, key: np.ndarray, H: np.ndarray) -> float:
    """How much the homography misses where a fundamental matrix fits (px): near zero for a turning camera
    or a flat scene, growing with the baseline of a camera that moved among things at several depths.
    NaN when the corners have moved too little to tell."""
    import cv2

    if len(cur) < 30 or np.median(np.linalg.norm(cur - key, axis=1)) < 3.0:
        return np.nan
    F, inl = cv2.findFundamentalMat(cur, key, cv2.FM_RANSAC, 1.0, 0.995)
    if F is None or F.shape != (3, 3):
        return np.nan
    inl = inl.ravel().astype(bool)
    mapped = cv2.perspectiveTransform(cur[inl].reshape(-1, 1, 2), H).reshape(-1, 2)
    return float(np.percentile(np.linalg.norm(mapped - key[inl], axis=1), 90))


__all__ = ["BackgroundMotion", "CameraTrack", "OK", "LOST", "KEYFRAME"]
