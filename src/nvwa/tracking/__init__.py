"""Tracking stage: people with stable ids across frames, through crossings and short disappearances."""

from nvwa.tracking.track import TrackedPerson
from nvwa.tracking.tracker import PeopleTracker
from nvwa.tracking.tracker_config import TrackerConfig

__all__ = ["PeopleTracker", "TrackerConfig", "TrackedPerson"]
