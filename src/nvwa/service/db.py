"""The job store: jobs and their events in one SQL database (SQLite by default) through SQLAlchemy.

Every event gets its per-job sequence number in the same transaction that stores it, before anything
is sent, so SSE ids are gap-free and a client resuming with ``Last-Event-ID`` gets exactly what it
missed, from any API process that reads this database.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, create_engine, event, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

TERMINAL = ("complete", "failed", "cancelled")


def jsonable(x):
    """Plain JSON values: numpy scalars and arrays unwrapped, NaN/inf -> None (JSON has neither), so a
    stored value can never make a response fail."""
    import math

    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):  # numpy arrays and scalars
        return jsonable(x.tolist())
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    return x


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued, running, complete, failed, cancelled
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)
    filename: Mapped[str] = mapped_column(String(255))
    input_key: Mapped[str] = mapped_column(String(512))  # storage key of the video
    options: Mapped[dict] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    artifacts: Mapped[list] = mapped_column(JSON, default=list)  # [{"name", "size", "content_type"}]
    summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)

    def as_dict(self, base: str = "") -> dict:
        return jsonable({
            "id": self.id, "status": self.status, "filename": self.filename, "options": self.options,
            "created_at": self.created_at.isoformat(), "updated_at": self.updated_at.isoformat(),
            "error": self.error, "artifacts": self.artifacts, "summary": self.summary, "events": self.last_seq,
            "links": {"self": f"{base}/jobs/{self.id}", "events": f"{base}/jobs/{self.id}/events",
                      "artifacts": {a["name"]: f"{base}/jobs/{self.id}/artifacts/{a['name']}" for a in self.artifacts},
                      "viewer": f"{base}/viewer/{self.id}"},
        })


class JobEvent(Base):
    __tablename__ = "job_events"
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1, 2, 3, ... per job: the SSE id
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text)  # JSON text, sent as is
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class JobStore:
    def __init__(self, url: str):
        kwargs = {"connect_args": {"check_same_thread": False, "timeout": 30}} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(conn, _):  # concurrent readers while a job writes; cascades
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()
        Base.metadata.create_all(self.engine)
        self.session = sessionmaker(self.engine, expire_on_commit=False)

    def add_job(self, job: Job) -> Job:
        with self.session.begin() as s:
            s.add(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self.session() as s:
            return s.get(Job, job_id)

    def list(self, offset: int, limit: int, status: str | None = None) -> tuple[list[Job], int]:
        with self.session() as s:
            q = select(Job)
            c = select(func.count()).select_from(Job)
            if status:
                q, c = q.where(Job.status == status), c.where(Job.status == status)
            rows = s.scalars(q.order_by(Job.created_at.desc(), Job.id).offset(offset).limit(limit)).all()
            return list(rows), int(s.scalar(c))

    def update(self, job_id: str, **fields) -> Job | None:
        with self.session.begin() as s:
            job = s.get(Job, job_id)
            if job is None:
                return None
            for k, v in fields.items():
                setattr(job, k, v)
            return job

    def add_event(self, job_id: str, type_: str, data: dict, **job_fields) -> int:
        """Store an event (and optionally update the job in the same transaction) -> its seq. A job that
        has ended takes no more events (0): a result is never stored twice, whoever tries."""
        with self.session.begin() as s:
            job = s.get(Job, job_id, with_for_update=True)
            if job is None or job.status in TERMINAL:
                return 0
            job.last_seq += 1
            for k, v in job_fields.items():
                setattr(job, k, v)
            s.add(JobEvent(job_id=job_id, seq=job.last_seq, type=type_, data=json.dumps(data)))
            return job.last_seq

    def events_after(self, job_id: str, after: int, limit: int = 500) -> list[JobEvent]:
        with self.session() as s:
            q = select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.seq > after).order_by(JobEvent.seq).limit(limit)
            return list(s.scalars(q).all())

    def delete(self, job_id: str) -> None:
        with self.session.begin() as s:
            s.query(JobEvent).filter(JobEvent.job_id == job_id).delete()
            job = s.get(Job, job_id)
            if job is not None:
                s.delete(job)

    def unfinished(self) -> list[Job]:
        with self.session() as s:
            return list(s.scalars(select(Job).where(Job.status.in_(("queued", "running"))).order_by(Job.created_at)).all())
