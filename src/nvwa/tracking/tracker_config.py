"""The options of :class:`~nvwa.tracking.tracker.PeopleTracker` (``nvwa process --tracking.*``), each
with the case on a real video that set it."""

from __future__ import annotations

from dataclasses import dataclass

from nvwa.options import option


@dataclass(frozen=True)
class TrackerConfig:
    detect_every: int = 3  # frames between detector proposal passes
    detect_every_s: float = 0.09  # and at least this many seconds apart (a 60-fps video every 6th frame, as a 30-fps one every 3rd)
    # 30 fps and below: every detect_every frames, as with 0; 0.2 halves a 30-fps video's passes, and kids_bed lost a
    # person so (README)
    max_probes_per_frame: int = 6  # fresh pose detections per proposal pass, surest boxes first
    covered_iou: float = 0.25  # a proposal overlapping an active track this much is that track
    gate_iou: float = 0.1  # a track's pose whose box overlaps its prediction less is someone else
    duplicate_iou: float = 0.5  # two tracks whose poses overlap this much follow one person
    lost_after_s: float = 0.4  # seconds without a pose before a track is lost (the body model forgets them)
    reid_window_s: float = 5.0  # seconds a lost track waits to be re-identified
    reid_min_similarity: float = 0.55  # appearance similarity (0..1) needed to re-identify
    late_reid_s: float = 1.5  # a new track's colours are compared again as they settle, this long (s): most like one
    # track lost within reach before it began, twice in a row, they are that person (legs under a sign; 0: off)
    late_reid_apart_s: float = 0.4  # ... the two looks at least this far apart (s): frames a moment apart are nearly one
    handover_s: float = 0.5  # a person found this soon after the only track within reach lost its pose ...
    handover_min_similarity: float = 0.3  # ... needs only this similarity to be that track's
    reid_speed_heights_per_s: float = 1.5  # how far a lost person may have walked, in body heights per second
    # (from their last pose, or from where they were before their track's latest misses, in the time since)
    reid_size_after_s: float = 1.0  # a person lost longer than this (s) is found again only at a size within ...
    reid_max_size_ratio: float = 1.35  # ... this factor of their usual height in the picture: a walk of a second or two
    # changes a far person's size little (vtest: a man who walked out at the right edge, 72 px, was given to a woman 50
    # px tall at the back 1.7 s later on her colours); a jump or a crouch changes it more, but within a moment
    reid_size_max_share: float = 0.2  # ... asked of people under this share of the frame's height (nearer, a walk
    # changes one's size fast)
    settled_s: float = 0.2  # ... those misses after this long (s) of poses: a few poses after a wide search found
    # something may be something else (the box before its misses before them is kept, lost_after_s + this at most)
    appearance_every: int = 5  # poses between a track's colour looks (video frames, one in N analysed) ...
    appearance_every_s: float = 0.16  # ... and at least this long (s; a 60-fps track every 10th pose, a 30-fps one every 5th)
    # so above 30 fps a track's colours are looked at, and remembered, over as long as at 30; at 30 and below as with 0
    search_margin: float = 2.5  # after a missed frame, the crop widens to this many box sizes (fast moves, jumps)
    search_min_inside: float = 0.25  # ... while this share of their predicted box is in the picture: one who walked
    # out is not searched for (MediaPipe's graph, ~30 ms a search on the tracker's thread; a far walker's box
    # 14-22 px tall is, though: the graph finds her there again, on vtest)
    empty_memory_s: float = 1.0  # a proposal where a pose check found nobody is not checked again for this long ...
    empty_recheck_gain: float = 0.2  # ... unless the detector is this much surer of it now (a person stepping into view)
    empty_memory_max_s: float = 8.0  # ... and twice as long each time the same place is found empty again, up to this
    # long (a bollard the detector proposes pass after pass: vtest's two were checked 81 times in 79 s, each a graph
    # call and one or two of the network's; a person stepping there shows as a surer or another box)
    missing_overlap: float = 0.5  # a track that lost its person this frame is theirs to look for under a proposal
    # (and the pose found there is theirs) where this share of the smaller of the two boxes is in both
    min_found_share: float = 0.4  # a new person's pose is at least this share of their proposal's height
    piece_height: float = 0.65  # a track whose pose is this share of a whole person's found over it, or less, follows a piece of them
    # (mostly inside their box, the one track there): legs under a sign kept the whole man from being found
    piece_young_s: float = 1.0  # a track on a piece of someone begun this recently (s) gives way to them (0: off)
    # (dropped, they are found afresh); an older one usually about their height takes all of them, under its id
    untangle_crossings: bool = True  # a track that slid onto someone crossing its person hands them back their pose:
    crossing_gain: float = 0.1  # a pose this much nearer the colours of a track that lost its person there is theirs ...
    crossing_overlap: float = 0.3  # ... where this share of the smaller of its box and where that track was is in both,
    crossing_max_fit: float = 0.5  # ... its own track's predicted box overlaps it less than this (IoU: it slid) ...
    crossing_min_poses: int = 10  # ... and that track has had this many poses (colours of a frame or two are not a person's)
    crossing_min_s: float = 0.29  # ... over at least this long (s; 10 poses are 0.3 s at 30 fps, 0.15 s at 60)
    min_width_share: float = 0.4  # a pose's box, as the tracker compares it, is at least this share of its height wide
    full_pass_every: int = option(1, "one detector pass in this many (and any while someone followed is lost) is full, "
                                  "the others coarse (--detector.coarse-side); 3: vtest in 69 s, not 72, the same "
                                  "recall, but a far walker may be split in two ids", ge=1, le=100)
    full_pass_every_s: float = option(0.0, "... and at most one full pass in this many seconds of video (those between "
                                      "coarse); 0.3: every scheduled pass of a 10-fps video, one in three of a 30-fps "
                                      "one, which is searched every 0.1 s (and of the frames searched while nobody is "
                                      "tracked): Sports2D in 5% less CPU, the same tracks, but kids_bed's world broke "
                                      "(README); 0: by count alone", unit="s", ge=0.0, le=10.0)
    moving_proposals: bool = True  # also propose what moves against the scenery where the detector saw nobody
    drop_scenery: bool = True  # drop tracks that never moved and whose pixels were there before and after (a tripod)
    overlap_detection: bool = True  # run the detector on its own thread while the people are landmarked
    overlap_landmarks: bool = True  # begin a kept person's next crop as soon as their pose is in (the same poses, sooner)
    follow_back_s: float = 1.0  # a new person is followed back this far (s) through the frames before they were found (0: off)
    # (at most 32 frames, 128 MB): the detector passes every few frames and is sure of someone only once they are big enough
    follow_back_confirm_s: float = 1.0  # those frames are added once the new person's own track has lasted this long (s)
    # (clutter a track followed for a few frames would otherwise reach the length a person must be seen for)


__all__ = ["TrackerConfig"]
