"""Tracking stage: people with stable ids across frames, through crossings and short disappearances."""

from nvwa.tracking.tracker import PeopleTracker, TrackerConfig, TrackedPerson

__all__ = ["PeopleTracker", "TrackerConfig", "TrackedPerson"]
