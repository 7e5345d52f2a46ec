"""One video's people for BlazePose (:class:`~nvwa.body.blazepose.BlazePoseBody`): where each tracked
person's next crop is cut from (the region their own last pose gives), crops begun a frame early, the wide
search with MediaPipe's graph after a miss, following a new person back, and a pose drawn on its head looked
at upright. Nothing of one video carries into the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nvwa.body.keypoints import UPRIGHT_DEG, turned_over
from nvwa.body.landmarks import Region
from nvwa.body.observation import BodyObservation

if TYPE_CHECKING:
    from nvwa.body.blazepose import BlazePoseBody


class BlazePoseVideo:
    """One video's people for :class:`BlazePoseBody`: the region each tracked person's next crop is cut
    from, which their own last pose gives (see :mod:`nvwa.body.landmarks`). Made by
    ``BlazePoseBody.init_state()``; nothing of one video carries into the next, so the same upload gives
    the same scene in any job order."""

    def __init__(self, body: BlazePoseBody):
        self.body = body
        # track id -> (next region, the centre of the pose box it came from, the box round all 33 landmarks)
        self._regions: dict[int, tuple[Region, np.ndarray, np.ndarray]] = {}
        # track id -> (the region entry, next frame's image, the box asked for, the network's job) begun a frame early
        self._ahead: dict[int, tuple] = {}
        self.crops_begun_early = self.crops_used_early = 0  # how many crops were begun a frame early, and used
        self.upright_looks = self.upright_kept = 0  # poses found standing on their head, looked at upright; kept so
        self._was_upright: dict[int, bool] = {}  # track id -> their last pose kept stood upright (within UPRIGHT_DEG)

    def probe(self, image: np.ndarray, box: np.ndarray, margin: float | None = None) -> BodyObservation | None:
        return self.body.probe(image, box, margin)

    def track(self, track_id: int, image: np.ndarray, box: np.ndarray, timestamp_s: float,
              margin: float | None = None) -> BodyObservation | None:
        """The person of ``track_id`` inside ``box`` (their predicted box) at ``timestamp_s``; ``margin``
        asks for a wide search after a miss (the full graph, detector included, on a crop that wide)."""
        return self.track_many([(track_id, image, box, margin)], timestamp_s)[0]

    def track_many(self, requests: list[tuple], timestamp_s: float, meanwhile=None, following=None) -> list[BodyObservation | None]:
        """Several people of one frame, [(track_id, image, box, margin)] -> their observations. Each person
        with a region from their last pose is landmarked there, moved as their box is predicted to move;
        a person with none (just found) gets an upright square round their box. All of them run on the
        network's interpreters at once. Where a person just found is not there, and on a wide search, the
        full graph (its detector finds a person turned any way) looks instead. ``meanwhile``: the
        caller's own work, called once while the network's threads work. ``following``: (the next frame's
        image, a function (track_id, observation) -> the box the caller will ask for that person next
        frame if it keeps this pose, or None): each kept person's next crop is begun as soon as their pose
        is in, and used next frame only where it was cut from exactly what that frame asks for."""
        c = self.body.config
        found: list[BodyObservation | None] = [None] * len(requests)
        pending, wide = [], []
        boxes = np.array([r[2] for r in requests], dtype=np.float64).reshape(-1, 4)
        # the float network for people overlapping another (a crossing's crop holds both, and a small difference
        # decides whom the pose takes) and for the smallest (a 32-px walker lost for four frames on the int8 one)
        on_float = _overlapping(boxes) | (boxes[:, 3] - boxes[:, 1] < c.int8_min_px)
        for i, (track_id, image, box, margin) in enumerate(requests):
            known = self._regions.pop(track_id, None)
            ahead = self._ahead.pop(track_id, None)
            if ahead is not None and margin is None and ahead[0] is known and ahead[1] is image and np.array_equal(ahead[2], box) \
                    and (ahead[4] is self.body.network or not on_float[i]):
                pending.append((i, False, ahead[3], ahead[5], ahead[4]))  # begun last frame from this very region and box
                self.crops_used_early += 1
                continue
            _forget(ahead)
            if margin is not None:
                wide.append(i)
            else:
                job = self._job(image, box, known)
                network = self.body.tracking_network if known and not on_float[i] else self.body.network  # first looks: float
                pending.append((i, known is None, network.start(job), job, network))
        for i in wide:  # the graph searches wide for those lost a frame ago while the network's threads work
            track_id, image, box, margin = requests[i]
            found[i] = self._from_graph(track_id, image, box, margin, c.track_mask_wide_grow)
        if meanwhile is not None:
            meanwhile()
        for i, first, running, job, network in pending:
            out = running.result()
            track_id, image, box, _ = requests[i]
            if out.presence < c.min_tracking_confidence and network is not self.body.network:
                out = self.body.network.run_many([job])[0]  # about to be lost: the float network has the last word
            out = self._upright_instead(track_id, image, out)  # a pose on its head, sure or not, looked at upright
            if out.presence >= c.min_tracking_confidence:
                found[i] = self._keep(track_id, out)
                if found[i] is not None and following is not None:
                    self._begin_next(track_id, found[i], *following)
            elif first:
                found[i] = self._from_graph(track_id, image, box, None, c.track_mask_grow)
        return found

    def follow_back(self, images: list[np.ndarray], obs: BodyObservation, accept) -> list[BodyObservation]:
        """A person just found (``obs``) followed back through the frames before (``images``, the latest
        first) while the network is sure someone is there and ``accept(i, pose)`` takes its pose on
        ``images[i]``: each step's crop is the region the pose after it gives, grey outside that pose's box
        grown as a tracked person's is. One person at a time on the caller's thread (each step needs the last)."""
        c = self.body.config
        region = Region.from_keypoints(obs.keypoints_2d, obs.visibility)
        keep = obs.box(min_visibility=0.0)
        found: list[BodyObservation] = []
        for i, image in enumerate(images):
            if region is None:
                break
            crop = region.crop(image, None if c.track_mask_grow is None else keep, c.track_mask_grow or 0.0)
            out = self.body.network.run(crop, region)
            if out.presence < c.min_tracking_confidence and c.track_mask_grow is not None:
                # greyed, a person half out of the picture can be lost (vtest 115: 0.18; ungreyed 0.81)
                out = self.body.network.run(region.crop(image, None, 0.0), region)
            pose = self.body.observation(out) if out.presence >= c.min_tracking_confidence else None
            if pose is None or not accept(i, pose):
                break
            found.append(pose)
            region, keep = out.next_region, pose.box(min_visibility=0.0)
        return found

    def _job(self, image: np.ndarray, box: np.ndarray, known: tuple | None) -> tuple:
        """A person's crop job (see :meth:`LandmarkNetwork.start`) for ``box``, from the region their last pose
        gave (``known``; None: an upright square round the box)."""
        c = self.body.config
        shift = _centre(box) - known[1] if known else 0.0
        region = known[0].moved(shift) if known else Region.from_box(box, c.crop_margin)
        # what stays ungreyed: the predicted box and where the person's whole last pose was, legs the network
        # saw faintly included (the box of the confident landmarks alone hid them, and they stayed hidden)
        keep = None if c.track_mask_grow is None else box if not known else _union(box, known[2] + np.tile(shift, 2))
        return image, region, keep, c.track_mask_grow or 0.0

    def _begin_next(self, track_id: int, obs: BodyObservation, image: np.ndarray, next_box) -> None:
        """Begin ``track_id``'s crop on the next frame (``image``) now, where the caller says where it will
        look for them (the network's threads would otherwise wait while the caller finishes this frame)."""
        box = next_box(track_id, obs)
        known = self._regions.get(track_id)
        if box is not None and known is not None and self.body.tracking_network.threads > 1:
            job = self._job(image, box, known)
            self._ahead[track_id] = (known, image, box, self.body.tracking_network.start(job), self.body.tracking_network, job)
            self.crops_begun_early += 1

    def early_crops(self) -> dict:
        """How many tracked people's crops were begun a frame early, and how many of those were used (the rest
        were cut again: the tracker asked for another box), and of the poses on their head looked at upright,
        how many stood so, and which network followed the tracked people (int8 or float): for the run's summary."""
        return {"crops_begun_early": self.crops_begun_early, "crops_used_early": self.crops_used_early,
                "upright_looks": self.upright_looks, "upright_kept": self.upright_kept,
                "tracking_network": "int8" if self.body.int8_tracking else "float"}

    def _keep(self, track_id: int, out) -> BodyObservation | None:
        """The network's pose as an observation (None where too little of the body was seen), and the
        region it gives for the person's next frame."""
        obs = self.body.observation(out)
        if obs is None:
            return None
        self._was_upright[track_id] = not turned_over(obs.keypoints_2d, UPRIGHT_DEG)
        if out.next_region is not None:
            self._regions[track_id] = (out.next_region, _centre(obs.box()), obs.box(min_visibility=0.0))
        return obs

    def _upright_instead(self, track_id: int, image: np.ndarray, out):
        """Where the network's pose of someone last seen upright stands on its head (its torso turned over
        in the picture), the same place looked at upright: the network, handed a person the wrong way up,
        draws them that way up and keeps them so frame after frame (vtest's walker at frames 110-114, after
        a wide search found him so). Its pose stands where the network is at least as sure of it, it
        stands upright (within UPRIGHT_DEG) and it is a pose to keep; the look is not greyed (see the
        README: greyed to the upside-down track's box it was kept less often). A backflip turns over
        through its frames in between (Sports2D's man: 91 degrees, then 139), so it is never looked at
        upright: seen upright, the network draws even him upright."""
        c = self.body.config
        if not self._was_upright.get(track_id, False) or not turned_over(out.keypoints_2d, c.turned_over_deg):
            return out
        region = Region.from_keypoints(out.keypoints_2d, out.visibility)
        if region is None:
            return out
        upright = Region(region.centre, region.side, np.array([0.0, -1.0]))
        again = self.body.network.run(upright.crop(image), upright)
        self.upright_looks += 1
        if (again.presence >= max(out.presence, c.min_tracking_confidence)
                and not turned_over(again.keypoints_2d, UPRIGHT_DEG) and self.body.observation(again) is not None):
            self.upright_kept += 1
            return again
        return out

    def _from_graph(self, track_id: int, image, box, margin, grow) -> BodyObservation | None:
        """MediaPipe's whole graph on the person's crop; its pose gives their next region."""
        obs = self.body.detect(image, box, margin, grow)
        if obs is not None and turned_over(obs.keypoints_2d, self.body.config.turned_over_deg):
            pose = _GraphPose(obs.keypoints_2d, obs.visibility, 0.0)
            again = self._upright_instead(track_id, image, pose)
            if again is not pose:  # the upright look stood
                return self._keep(track_id, again)
        if obs is not None:
            self._was_upright[track_id] = not turned_over(obs.keypoints_2d, UPRIGHT_DEG)
            region = Region.from_keypoints(obs.keypoints_2d, obs.visibility)
            if region is not None:
                self._regions[track_id] = (region, _centre(obs.box()), obs.box(min_visibility=0.0))
        return obs

    def release(self, track_id: int) -> None:
        """The person is gone (or their track follows someone else now): forget their region."""
        self._regions.pop(track_id, None)
        self._was_upright.pop(track_id, None)
        _forget(self._ahead.pop(track_id, None))

    def close(self) -> None:
        self._regions.clear()
        self._was_upright.clear()
        for ahead in self._ahead.values():
            _forget(ahead)
        self._ahead.clear()


@dataclass(frozen=True)
class _GraphPose:
    """A pose from MediaPipe's graph, shaped as the network's output where :meth:`_upright_instead` reads it
    (the graph says nothing of how sure it is: the upright look need only be sure by itself)."""

    keypoints_2d: np.ndarray
    visibility: np.ndarray
    presence: float


def _forget(ahead: tuple | None) -> None:
    """A crop begun a frame early that will not be used: cancelled if the network's threads have not begun it
    (they take jobs in order: a wasted one would delay the frame's own)."""
    if ahead is not None:
        ahead[3].cancel()


def _overlapping(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy -> (N,) bool: the box overlaps another one."""
    x0, y0 = np.maximum(boxes[:, None, 0], boxes[None, :, 0]), np.maximum(boxes[:, None, 1], boxes[None, :, 1])
    x1, y1 = np.minimum(boxes[:, None, 2], boxes[None, :, 2]), np.minimum(boxes[:, None, 3], boxes[None, :, 3])
    meets = (x1 > x0) & (y1 > y0)
    np.fill_diagonal(meets, False)
    return meets.any(axis=1)


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.r_[np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])]


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], dtype=np.float64)
