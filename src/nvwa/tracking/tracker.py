"""People tracking on a CPU: each person's own pose follows them; detector proposals find newcomers.

Per frame:
1. every active track predicts its box (constant-velocity Kalman) and the body model looks for the
   person there (for BlazePose: its landmark network on the region their last pose gives, cheap);
2. two tracks that ended on the same person (a crossing: the occluded one's crop shows the other)
   are told apart by how well each one's prediction fits: the worse one is set lost;
3. every ``detect_every`` frames and ``detect_every_s`` apart (:mod:`nvwa.tracking.schedule`),
   detector proposals that no active track covers are checked with a fresh pose detection; a confirmed
   person either re-identifies a recently lost track (appearance and a reachable position) or starts a
   new one.
"""

from __future__ import annotations

import copy
import functools
import inspect
from typing import Callable, Sequence

import numpy as np

from nvwa.body.observation import BodyObservation
from nvwa.tracking.appearance import appearance_descriptor
from nvwa.tracking.boxes import BoxKalman, iou_matrix, overlap_of_smaller, share_inside
from nvwa.tracking.crossing import duplicates, slid_onto, theirs
from nvwa.tracking.boxes import at_least_as_big as _at_least_as_big, box_height as _height, centre_distance as _centre_distance
from nvwa.tracking.boxes import widened as _wide
from nvwa.tracking.follow_back import FrameHistory
from nvwa.tracking.reid import most_similar, settled_match, within_reach
from nvwa.tracking.empty_places import EmptyPlaces
from nvwa.tracking.pieces import piece_of, take_whole, young_piece
from nvwa.tracking.schedule import PassSchedule
from nvwa.tracking.track import Track, TrackedPerson, size_mean
from nvwa.tracking.tracker_config import TrackerConfig


class PeopleTracker:
    """Stable ids for the people of one video. ``body`` is a backend with ``track``, ``probe`` and
    ``release`` (see :class:`nvwa.body.blazepose.BlazePoseBody`); ``propose`` maps an RGB frame to
    (boxes (N, 4) xyxy px, scores (N,))."""

    def __init__(self, body, propose: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], config: TrackerConfig = TrackerConfig(),
                 frame_step: int = 1):
        self.body = body
        self.propose = propose
        self._proposer_full = callable(propose) and "full" in inspect.signature(propose).parameters
        self._schedule = PassSchedule(config)  # when the detector passes run, which of them are full
        self.config = config
        # the video's frames one analysed frame stands for (--stride, --max-fps): a track's colours are looked at
        # on the first pose at least appearance_every of the video's frames after the last look, as with every
        # frame analysed (kids_bed at 15 fps: every 5th pose came 0.33 s apart, the boy's second look was on the
        # girl he was behind, and he was not known again); a varying rate's stretches at its usual step
        self._look_every = max(1, -(-config.appearance_every // max(1, frame_step)))
        self._tracks: list[Track] = []
        self._next_id = 0
        self._frame_no = 0
        self.reidentified = 0  # how many times a lost track came back under its old id
        self.pieces_made_whole = 0  # how many times a track following a piece of someone took all of them
        self.dropped: list[int] = []  # tracks given up as a piece of someone found whole (their frames are left out)
        self.joined: list[tuple[int, int]] = []  # (a young track's id, the lost track's it was found to be), in order
        self.crossings_untangled = 0  # poses handed back to the track whose person they show, from one that slid onto them
        # Detectors fire again and again on the same static clutter (a pole, a bush); a pose check
        # that found nobody there is remembered so it is not paid for every pass.
        self._empty = EmptyPlaces(config)
        self._pool = None  # the detector's thread (made on first use)
        self._upcoming = None  # (the next frame's image, the detector's pass on it, is it full), begun at the end of this one
        self._history = FrameHistory()  # the frames before this one, to follow people found later back through
        # this step's (frame number, track id, pose) for frames before it: where people found lately were followed
        # back to, handed on once their track lasted follow_back_confirm_s (the caller adds them to those frames)
        self.followed_back: list[tuple[int, int, BodyObservation]] = []

    def step(self, image: np.ndarray, timestamp_s: float, upcoming: np.ndarray | None = None,
             upcoming_s: float | None = None, later: Sequence[tuple[np.ndarray, float]] = ()) -> list[TrackedPerson]:
        """Track the people of one frame: (H, W, 3) uint8 RGB at time ``timestamp_s`` (s). ``upcoming``:
        the next frame's image where the caller has it already (its time ``upcoming_s``), so its detector
        pass, and each kept person's landmarks on it, can begin now; ``later``: the frames after it at hand
        (image, time), so the detector's next pass can begin as soon as its thread is free."""
        c = self.config
        self.followed_back = []
        detect_now = self._schedule.due(self._frame_no, timestamp_s)
        if detect_now:
            self._schedule.scheduled(self._frame_no, timestamp_s)
        # the detector needs only the image: it runs beside the people's landmarkers, not after them (begun
        # at the end of the frame before where that frame handed this one over)
        pending = self._upcoming[1] if self._upcoming is not None and self._upcoming[0] is image else None
        full = self._upcoming[2] if pending is not None else None  # the pass used here: full or coarse
        if pending is not None or (self._upcoming is not None and
                                   not any(self._upcoming[0] is a for a in (upcoming, *(a for a, _ in later)))):
            self._upcoming = None  # used here, or begun on a frame that is not coming (a pass on a later one waits)
        due = self._pass(image, timestamp_s) if detect_now else None  # what this frame's pass is, as it begins (before tracking)
        if pending is None and due is not None and c.overlap_detection:
            pending, full = self._proposals_pool().submit(*due[:2]), due[2]
        active = [tr for tr in self._tracks if tr.active]
        requests, predictions = [], []
        picture = np.array([[0.0, 0.0, image.shape[1], image.shape[0]]])
        for tr in active:
            predicted = _at_least_as_big(tr.kalman.predict(timestamp_s), tr.last_box, 0.7)
            predictions.append(predicted)
            if tr.misses and share_inside(predicted[None], picture)[0, 0] < c.search_min_inside:
                continue  # lost, and out of the picture: no search (kept until lost_after_s, as any miss)
            requests.append((tr.track_id, image, predicted, c.search_margin if tr.misses else None))
        looked: dict[int, BodyObservation | None] = {}  # proposal index -> its pose check, made early
        if hasattr(self.body, "track_many"):  # every person of the frame at once (a backend may run them in parallel)
            def early():
                """While they are landmarked, check the proposals that no track's predicted box covers (the
                likely new people), so the checks below are mostly answered already; only if the detector's
                pass is done: waiting for it here would leave the network's threads idle once this frame's
                people are done (they go on to the next frame's while the checks are made after, the same)."""
                if pending is not None and pending.done():
                    self._look_early(image, timestamp_s, pending.result(), predictions, looked)
            following = None
            if upcoming is not None and upcoming_s is not None and c.overlap_landmarks:
                following = (upcoming, self._next_box_if_kept(active, predictions, upcoming_s))
            found = self.body.track_many(requests, timestamp_s, meanwhile=early, following=following) if requests else []
        else:
            found = [self.body.track(i, img, box, timestamp_s, margin=m) for i, img, box, m in requests]
        by_id = {r[0]: obs for r, obs in zip(requests, found)}
        self._gate(active, predictions, [by_id.get(tr.track_id) for tr in active])
        self._untangle_crossings(active, image)
        for tr in duplicates([tr for tr in active if tr.observation is not None], self.config):
            tr.observation = None
            self._lose(tr)
        for tr in active:
            if tr.observation is not None:
                self._confirm(tr, image, timestamp_s)
            elif timestamp_s - tr.last_seen_s > c.lost_after_s:
                self._lose(tr)
        used = False
        if pending is not None:
            self._find_new_people(image, timestamp_s, pending.result(), looked)
            used = True
        elif detect_now or not any(tr.active for tr in self._tracks):
            call, arg, full = due or self._pass(image, timestamp_s)
            self._find_new_people(image, timestamp_s, call(arg))
            used = True
        if c.follow_back_s > 0 and hasattr(self.body, "follow_back"):
            followed = [tr.observation.box() for tr in self._tracks if tr.active and tr.observation is not None]
            self._history.remember(self._frame_no, image, timestamp_s, followed, c.follow_back_s)
        for tr in self._tracks:
            if tr.before and tr.active and tr.last_seen_s - tr.found_s >= c.follow_back_confirm_s - 5e-4:
                self.followed_back += [(frame_no, tr.track_id, pose) for frame_no, pose in tr.before]
                tr.before = []
        if used:
            self._schedule.used(timestamp_s, full)
        self._frame_no += 1
        if upcoming is not None and c.overlap_detection and self._upcoming is None:
            self._begin_next_pass([(upcoming, upcoming_s), *later])
        self._tracks = [tr for tr in self._tracks if tr.active or timestamp_s - tr.last_seen_s <= c.reid_window_s]
        return [TrackedPerson(tr.track_id, tr.observation) for tr in self._tracks if tr.active and tr.observation is not None]

    def _begin_next_pass(self, ahead: list[tuple[np.ndarray, float | None]]) -> None:
        """Begin the detector's next pass, now that this frame's own (if any) is done, on the first of the
        frames at hand due one (``ahead``: the next frame's image and time, then the ones after it): it runs
        on its own thread while this frame is handed on and the frames before it are landmarked. Passes stay
        in frame order, one at a time (a proposer may count them, and keeps a scenery of the frames it saw):
        a later frame's is begun only while someone is sure to be tracked until then (a track is kept
        ``lost_after_s`` after its last pose), as with nobody tracked every frame is searched, here, at once."""
        seen = max((tr.last_seen_s for tr in self._tracks if tr.active), default=None)
        for k, (image, t) in enumerate(ahead):
            if k and (seen is None or t is None or t - seen > self.config.lost_after_s):
                return
            if self._schedule.due(self._frame_no + k, t):
                if k and self._proposer_full and not self._schedule.full(t):
                    return  # whether it is full waits on the frames before it (:meth:`_pass`)
                call, arg, full = self._pass(image, t)
                self._upcoming = (image, self._proposals_pool().submit(call, arg), full)
                return

    def _pass(self, image: np.ndarray, timestamp_s: float | None) -> tuple:
        """The detector's pass on ``image`` (at ``timestamp_s``) as (function, argument, is it full), for now
        or its thread. A proposer taking ``full`` is told if it is full: as :meth:`PassSchedule.full` says,
        and any while someone followed is lost as the frame before ends (a coarse box of a far walker is less
        sure to be taken for theirs). Begun more than a frame early only where full anyway: early or in turn,
        the same pass. A proposer without it: None (neither)."""
        if not self._proposer_full:
            return self.propose, image, None
        full = self._schedule.full(timestamp_s) or any(tr.active and tr.misses for tr in self._tracks)
        return functools.partial(self.propose, full=full), image, full

    def _gate(self, active: list[Track], predicted: list[np.ndarray], found: list) -> None:
        """Each track keeps the pose the body model found for it where it fits the track's prediction (else the
        body model forgets what it kept of someone else's pose); a track without one counts a miss."""
        c = self.config
        for tr, predicted, obs in zip(active, predicted, found):
            tr.observation = None
            if obs is not None:
                box = obs.box()
                tr.predicted_iou = float(iou_matrix(predicted, box)[0, 0])
                if self._fits(tr, predicted, box):
                    tr.observation = obs
                else:  # someone else's pose: what the body model kept of it for this track must go too
                    self.body.release(tr.track_id)
            if tr.observation is None and not tr.misses and tr.last_box is not None and (
                    tr.before_misses is None or tr.last_seen_s - tr.resumed_s >= c.settled_s - 5e-4 or
                    tr.last_seen_s - tr.before_misses[1] > c.lost_after_s + c.settled_s):  # (held no longer)
                tr.before_misses = (tr.last_box, tr.last_seen_s)
            tr.missed = tr.missed or tr.observation is None
            tr.misses = 0 if tr.observation is not None else tr.misses + 1

    def _untangle_crossings(self, active: list[Track], image: np.ndarray) -> None:
        """A track that slid onto someone crossing its person hands their pose to the track that lost them,
        and is given up (:func:`~nvwa.tracking.crossing.slid_onto`)."""
        missing = [tr for tr in active if tr.observation is None]
        for tr in active:
            other = slid_onto(tr, missing, image, self._where, self.config)
            if other is not None:
                other.observation, other.misses, other.predicted_iou = tr.observation, 0, tr.predicted_iou
                self.body.release(other.track_id)
                self._lose(tr)
                missing.remove(other)
                self.crossings_untangled += 1

    def _fits(self, tr: Track, predicted: np.ndarray, box: np.ndarray) -> bool:
        """Is a pose whose box is ``box`` the person of ``tr``, predicted at ``predicted``?"""
        # a wide search accepts a pose near the prediction even if the boxes barely overlap
        near = tr.misses and _centre_distance(predicted, box) <= 0.75 * (predicted[3] - predicted[1])
        # a pose whose box is less than half the last one is a fragment (a limb, a blur), not the person
        whole = tr.last_box is None or _height(box) >= 0.5 * _height(tr.last_box)
        return bool((iou_matrix(predicted, box)[0, 0] >= self.config.gate_iou or near) and whole)

    def _next_box_if_kept(self, active: list[Track], predicted: list[np.ndarray], next_s: float):
        """(track_id, pose) -> the box :meth:`step` will ask the body model for at ``next_s`` if the track keeps
        this pose (its gate passed; a motion model of its own, as now, given the pose's box), or None: what lets
        the body model begin a person's next crop before this frame is done. A track the frame then changes
        otherwise (a duplicate dropped, a re-identification) asks for another box or is released."""
        now = {tr.track_id: (tr, box, copy.deepcopy(tr.kalman)) for tr, box in zip(active, predicted) if not tr.misses}

        def next_box(track_id: int, obs: BodyObservation) -> np.ndarray | None:
            tr, predicted_box, kalman = now.pop(track_id, (None, None, None))
            box = obs.box()
            if tr is None or not self._fits(tr, predicted_box, box):
                return None
            kalman.update(box)  # as _confirm will
            return _at_least_as_big(kalman.predict(next_s), box, 0.7)
        return next_box

    def _proposals_pool(self):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="proposals")
        return self._pool

    def close(self) -> None:
        self._upcoming = None
        self._history.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for tr in self._tracks:
            if tr.active:
                self.body.release(tr.track_id)
        self._tracks.clear()

    # -- internals -------------------------------------------------------------------------------

    def _confirm(self, tr: Track, image: np.ndarray, t: float) -> None:
        c = self.config
        tr.last_box = tr.observation.box()
        tr.height_px = _height(tr.last_box) if tr.hits == 0 else size_mean(tr.height_px, _height(tr.last_box), t - tr.last_seen_s)
        tr.kalman.update(tr.last_box)
        if tr.missed or tr.hits == 0:
            tr.resumed_s, tr.missed = t, False
        tr.last_seen_s = t
        tr.hits += 1
        if tr.handover is not None and (tr.first_box is None or t - tr.found_s > c.late_reid_s + 5e-4):
            tr.handover = None  # its looks are done
        every = self._look_every
        if (tr.hits % every == 1 % every if tr.looked is None else  # its first look: the first pose (every=1: each)
                tr.hits - tr.looked[0] >= every and t - tr.looked[1] >= c.appearance_every_s - 5e-4):
            tr.looked = (tr.hits, t)
            desc = appearance_descriptor(image, tr.observation)
            if desc is not None:
                tr.appearance = desc if tr.appearance is None else 0.8 * tr.appearance + 0.2 * desc
                if tr.hits > 1 and tr.first_box is not None and t - tr.found_s <= self.config.late_reid_s + 5e-4:
                    lost = settled_match(self._tracks, tr, desc, t, self.config, image.shape[:2])
                    if lost is not None:  # the same person (the caller merges their frames), not looked for again
                        self.joined.append((tr.track_id, lost.track_id))
                        self._tracks.remove(lost)
                        self.reidentified += 1

    def _lose(self, tr: Track) -> None:
        tr.active = False
        tr.observation = None
        tr.missed = True
        tr.before = []  # lost before it lasted: its past is not handed on
        self.body.release(tr.track_id)

    def _look_early(self, image: np.ndarray, t: float, proposals: tuple[np.ndarray, np.ndarray],
                    predicted: list[np.ndarray], looked: dict) -> None:
        """The pose checks :meth:`_find_new_people` will most likely make, made ahead (surest proposals
        first, those no predicted track box covers and no "nobody here" memory holds, as many as it
        may make) -> ``looked`` (proposal index -> observation or None). A check is the same whenever it
        is made; one made for a proposal a track turns out to cover is spent for nothing."""
        c = self.config
        boxes, scores = proposals
        taken = _wide(np.array(predicted).reshape(-1, 4), c.min_width_share)
        for k in np.argsort(-scores):
            if len(looked) >= c.max_probes_per_frame:
                break
            if len(taken) and iou_matrix(boxes[k], taken).max() >= c.covered_iou:
                continue
            if self._empty.nobody_there(boxes[k], scores[k], t):
                continue
            looked[int(k)] = self.body.probe(image, boxes[k])

    def _where(self, tr: Track) -> np.ndarray:
        """Where a track's person is, as new finds are compared with it: its motion model's box, at least
        0.7 of their usual height and of their last pose's size (a few frames' fragments shrink the model's box
        to a sliver) and widened (:func:`_wide`)."""
        usual = np.array([0.0, 0.0, 0.0, tr.height_px])
        return _wide(_at_least_as_big(_at_least_as_big(tr.kalman.box, tr.last_box, 0.7), usual, 0.7), self.config.min_width_share)

    def _find_new_people(self, image: np.ndarray, t: float, proposals: tuple[np.ndarray, np.ndarray],
                         looked: dict | None = None) -> None:
        c = self.config
        looked = {} if looked is None else looked
        boxes, scores = proposals
        if len(boxes) == 0:
            return
        occupied = [self._where(tr) for tr in self._tracks if tr.active]
        self._empty.forget(t)
        order = np.argsort(-scores)
        probes = 0
        # a track whose body model lost the person this frame, under a detector box: look again there
        missing = [tr for tr in self._tracks if tr.active and tr.observation is None]
        missing_where = [self._where(tr) for tr in missing]  # where each was (a track found again leaves both)
        for k in order:
            if probes >= c.max_probes_per_frame:
                break
            box = boxes[k]
            if missing:
                # the lost pose's box may be a fragment inside the detector's: overlap of the smaller box
                overlap = overlap_of_smaller(box, np.array(missing_where))[0]
                j = int(np.argmax(overlap))
                if overlap[j] >= c.missing_overlap:
                    probes += 1
                    obs = looked.pop(int(k)) if int(k) in looked else self.body.probe(image, box)
                    followed = [o.observation.box() for o in self._tracks if o.active and o.observation is not None]
                    if obs is not None and theirs(obs, missing[j], missing_where[j], followed, c):
                        tr = missing.pop(j)
                        missing_where.pop(j)
                        tr.observation, tr.misses, tr.predicted_iou = obs, 0, float(overlap[j])
                        self._confirm(tr, image, t)
                    continue
            if occupied and iou_matrix(box, np.array(occupied)).max() >= c.covered_iou:
                continue
            if self._empty.nobody_there(box, scores[k], t):
                continue
            probes += 1
            obs = looked.pop(int(k)) if int(k) in looked else self.body.probe(image, box)
            if obs is None:
                self._empty.found_empty(box, float(scores[k]), t)
                continue
            found = _wide(obs.box(), c.min_width_share)
            if _height(found) < c.min_found_share * _height(box):  # a fragment (a hand, a bag)
                continue
            if occupied and iou_matrix(found, np.array(occupied)).max() >= c.covered_iou:  # someone followed ...
                piece = self._piece_of(obs, image, t)
                if piece is not None:  # ... whose pose was a piece of this one
                    self._give_way(piece, obs, image, t, missing, missing_where)
                    occupied.append(found)
                continue
            self._start_or_resume(obs, image, t)
            occupied.append(found)

    def _piece_of(self, obs: BodyObservation, image: np.ndarray, t: float) -> Track | None:
        """The one track there whose pose is a piece of ``obs`` (:func:`nvwa.tracking.pieces.piece_of`)."""
        return piece_of(self._tracks, self._where, obs, image, t, self.config)

    def _give_way(self, piece: Track, obs: BodyObservation, image: np.ndarray, t: float, missing: list, missing_where: list) -> None:
        """``piece`` follows a piece of ``obs``: begun on it, it is given up (its frames left out) and the whole
        person found afresh; older (it shrank to the piece) or someone found again, it takes the whole.
        ``missing``, ``missing_where``: the pass's tracks still to be looked for under a proposal, and where."""
        if young_piece(piece, t, self.config, self.joined):
            self._lose(piece)
            self._tracks.remove(piece)
            self.dropped.append(piece.track_id)
            if piece in missing:  # resumed earlier in this pass: no longer to be looked for
                missing_where.pop(missing.index(piece))
                missing.remove(piece)
            self._start_or_resume(obs, image, t)
        else:
            take_whole(piece, obs, t, self.body)
        self.pieces_made_whole += 1

    def _start_or_resume(self, obs: BodyObservation, image: np.ndarray, t: float) -> None:
        c = self.config
        desc = appearance_descriptor(image, obs)
        box = obs.box()
        # a lost track, or an active one that found nobody this frame (a jump or a fall outruns the crop
        # before the track is given up): the person found here may be theirs
        near = within_reach(self._tracks, box, t, [desc], c, picture=image.shape[:2])
        best = most_similar(near, c.reid_min_similarity)
        just = [n for n in near if n[2] <= c.handover_s]  # (a track lost seconds ago, far off, is no rival)
        if best is None and len(just) == 1 and just[0][1] >= c.handover_min_similarity:
            # the only person who just vanished within reach (a jump, a landing in a crouch: their colours
            # moved about in their box): this is them
            best = just[0][0]
        if best is not None:
            if best.active:  # its body model followed something else: start it afresh on this person
                self.body.release(best.track_id)
            best.active = True
            best.misses = 0
            best.kalman = BoxKalman(box, t)
            best.before_misses, best.missed = None, True  # where they were before is not where they are
            self.reidentified += 1
            tr = best
        else:
            tr = Track(self._next_id, BoxKalman(box, t), t, found_s=t, first_box=box,
                       handover=just[0][0] if len(just) == 1 else None)
            self._next_id += 1
            self._tracks.append(tr)
            if c.follow_back_s > 0 and hasattr(self.body, "follow_back"):
                tr.before = self._history.follow(self.body, obs, t, c)
        tr.observation = obs
        tr.predicted_iou = 1.0
        self._confirm(tr, image, t)
