"""Jobs: validated options, and the runner that turns a stored upload into stored events and artifacts.

Body models load once per process (one per concurrent job slot) and are shared by every job; each job
builds its own light Pipeline around a borrowed model. Events are stored before they are streamed.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
import time
import uuid
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from nvwa.config import PipelineConfig
from nvwa.export import DEFAULT_EXPORTS, EXPORTERS
from nvwa.options import build, job_fields, job_values, setting_values
from nvwa.service.db import Job, JobStore, jsonable as _jsonable

ExportFormat = Literal[tuple(EXPORTERS)]  # the choices come from the registries, not a copy of them

log = logging.getLogger("nvwa.service")
# Who ran a job, in its init event: the serving process (a job-slot process names its parent, the
# server or `nvwa worker`, and gives its own pid as "process").
WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"

OBSERVATIONS = "observations.npz"
CONTENT_TYPES = {".glb": "model/gltf-binary", ".npz": "application/octet-stream", ".json": "application/json",
                 ".zip": "application/zip", ".bvh": "text/plain; charset=utf-8"}


class _JobExtras(BaseModel):
    """What a job takes beyond the config tree's job options: the exports, and the plan's frontend flags."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    exports: list[ExportFormat] = Field(default_factory=lambda: list(DEFAULT_EXPORTS), description="artifacts to write")
    # the plan's frontend options (process_video_v2)
    enable_tracking: bool = True
    enable_occlusion: bool = False
    enable_grounding: bool = True

    @model_validator(mode="after")
    def _a_span_that_ends_after_it_starts(self):
        start, end = getattr(self, "start_s", None) or 0.0, getattr(self, "end_s", None)
        if end is not None and not end > start:
            raise ValueError(f"end_s {end:g} must be after start_s {start:g}: the span analysed is from start_s to before end_s")
        return self

    def notes(self) -> list[str]:
        """What this build does differently from what was asked, said in the init event."""
        out = []
        if not self.enable_tracking:
            out.append("enable_tracking=false: people are always tracked (ids are what the exports are keyed by)")
        if self.enable_occlusion:
            out.append("enable_occlusion=true: occlusion completion (Diffusion-VAS) needs the GPU path; not run")
        if not self.enable_grounding:
            out.append("enable_grounding=false: the floor is always fitted (the world frame needs it)")
        return out

    def pipeline_config(self, settings) -> PipelineConfig:
        """The run's config tree: the server's settings (models), then this job's options."""
        return build(PipelineConfig, {**setting_values(PipelineConfig, settings), **job_values(PipelineConfig, self)})


# The options a job accepts are the config tree's `option(job=True)` fields (same names, bounds and
# choices as the CLI's flags) plus the extras above; anything else is refused (422).
JobOptions = create_model("JobOptions", __base__=_JobExtras, __module__=__name__, **job_fields(PipelineConfig))
JobOptions.__doc__ = "Pipeline options a job accepts; anything else is refused (422)."


class _ReconstructExtras(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    exports: list[ExportFormat] | None = None


# POST /jobs/{id}/reconstruct: the reconstruct section's job options; unset ones stay the source job's.
ReconstructRequest = create_model("ReconstructRequest", __base__=_ReconstructExtras, __module__=__name__,
                                  **job_fields(PipelineConfig, section="reconstruct.", optional=True))
ReconstructRequest.__doc__ = "The options that act after the models; the rest stay the source job's."


class Cancelled(Exception):
    pass


class TimedOut(Exception):
    pass


def new_job_id() -> str:
    return uuid.uuid4().hex


MAX_FILENAME_BYTES = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()+-]+")


def safe_filename(name: str | None, default: str = "video") -> str:
    """A client's file name reduced to something safe to show and to keep: the last path component,
    only letters, digits and ``._ ()+-``, no leading dots, at most 120 bytes with the suffix kept.
    It is a label: files on disk and in storage are never named by it."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = _UNSAFE.sub("_", base).strip(" ._") or default
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = suffix[:16]
    stem = stem[: MAX_FILENAME_BYTES - len(suffix) - 1] or default
    return f"{stem}.{suffix}" if suffix else stem


VIDEO_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
               ".mkv": "video/x-matroska", ".avi": "video/x-msvideo", ".ogv": "video/ogg", ".mpg": "video/mpeg",
               ".mpeg": "video/mpeg", ".ts": "video/mp2t", ".mts": "video/mp2t", ".m2ts": "video/mp2t",  # (a camcorder's)
               ".3gp": "video/3gpp"}


def video_content_type(filename: str) -> str:
    """A fixed content type for a stored source video, from a closed list (never the client's text)."""
    return VIDEO_TYPES.get(Path(filename).suffix.lower(), "application/octet-stream")


_ABS_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s'\"/:]+/)+([^\s'\"/:]*)")


def public_message(text: str, replace: dict[str, str] | None = None) -> str:
    """An error message fit for a client: given paths replaced by what the user knows them as (the job's
    temp copy of the video -> its file name), any other absolute path cut to its last component, one line."""
    for path, name in (replace or {}).items():
        text = text.replace(path, name)
    text = _ABS_PATH.sub(lambda m: m.group(1) or "(path)", text)
    return " ".join(text.split())[:2000]


class JobRunner:
    """Runs jobs one at a time, with the models loaded once, inside a job-slot process of the server or
    of ``nvwa worker`` (``nvwa.service.slots``): a native crash takes that process, never its parent. A
    job's cancellation is its row going away in the shared database (DELETE), seen within a second."""

    def __init__(self, settings, store: JobStore, storage, models_factory: Callable[[], object],
                 tmp_root: Path | None = None, parent_pid: int | None = None):
        """``tmp_root``: where each job's working folder ``job-<id>`` goes (default: the system's temp
        dir). ``parent_pid``: the server or worker this process serves; if it dies, the job stops."""
        self.settings, self.store, self.storage = settings, store, storage
        self.tmp_root = Path(tmp_root) if tmp_root is not None else Path(tempfile.gettempdir())
        self.parent_pid = parent_pid
        self._models_factory = models_factory
        self._models = None

    def warm_up(self) -> None:
        """Load the models now (before the first job)."""
        self._loaded()

    def _loaded(self):
        from nvwa.backends import Models

        if self._models is None:
            made = self._models_factory()
            self._models = made if isinstance(made, Models) else Models(made)
        return self._models

    def close(self) -> None:
        if self._models is not None:
            self._models.close()
            self._models = None

    def _run_safely(self, job_id: str) -> None:
        try:
            self._run(job_id)
        except TimedOut:
            msg = f"the job exceeded its time limit of {self.settings.job_timeout_s:g} s (NVWA_JOB_TIMEOUT_S)"
            self.store.add_event(job_id, "error", {"message": msg}, status="failed", error=msg)
        except Cancelled:
            if self._orphaned():
                # Its server or worker died: say nothing. A restarted server fails the job with the reason;
                # the queue hands it to another worker, whose `retry` event continues the stream.
                return
            if self.store.get(job_id) is None:  # deleted: whatever it wrote meanwhile goes too
                self.storage.delete_prefix(f"jobs/{job_id}")
            else:
                self.store.add_event(job_id, "cancelled", {"message": "cancelled"}, status="cancelled")
        except Exception as exc:  # the job fails, the service lives on
            log.exception("job %s failed", job_id)
            job = self.store.get(job_id)
            names = {str(self.job_dir(job_id) / ("input" + Path(job.filename).suffix.lower())): job.filename} if job else {}
            msg = public_message(str(exc) or type(exc).__name__, names)
            self.store.add_event(job_id, "error", {"message": msg}, status="failed", error=msg)

    def job_dir(self, job_id: str) -> Path:
        """The job's working folder (the video's copy, the outputs before they are stored)."""
        return self.tmp_root / f"job-{job_id}"

    def _orphaned(self) -> bool:
        return self.parent_pid is not None and os.getppid() != self.parent_pid

    def _run(self, job_id: str) -> None:
        from nvwa.pipeline import write_results

        job = self.store.get(job_id)
        if job is None or job.status != "queued":
            return
        check = self._checker(job_id)
        opts = JobOptions(**job.options)
        models = self._loaded()
        tmp = self.job_dir(job_id)
        shutil.rmtree(tmp, ignore_errors=True)  # a crashed earlier attempt's
        tmp.mkdir(parents=True)
        try:
            self.store.update(job_id, status="running")
            if self.storage.exists(f"jobs/{job_id}/input/{OBSERVATIONS}"):  # POST /jobs/{id}/reconstruct made it
                events = self._reconstruct_events(job, opts, tmp)
            else:
                events = self._pipeline_events(job, opts, tmp, models)
            final = self._record_events(job_id, opts, events, check)
            scene = final.data["scene"]
            for p in scene.people:
                self.store.add_event(job_id, "person", _jsonable(p.summary()))
            check()
            out = tmp / "out"
            config = opts.pipeline_config(self.settings)
            export = replace(config.export, models_dir=config.models.models_dir)
            write_results(scene, final.data["observations"], out, [f for f in opts.exports if f != "npz"], export, check)
            artifacts = self._store_artifacts(job_id, out)
            summary = _jsonable(scene.summary())
            base = f"/jobs/{job_id}/artifacts/"
            self.store.add_event(job_id, "complete", {
                "message": final.message, "people": len(scene.people), "frames": summary["stats"]["frames"],
                "artifacts": {a["name"]: base + a["name"] for a in artifacts}},
                status="complete", artifacts=artifacts, summary={k: summary[k] for k in ("video", "camera", "people", "stats")})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _checker(self, job_id: str):
        """-> check(): raises Cancelled for a deleted or cancelled job (looked up at most once a second)
        or an orphaned one, TimedOut past the time limit."""
        started, last_look = time.monotonic(), [time.monotonic()]

        def check() -> None:
            now = time.monotonic()
            if now - started > self.settings.job_timeout_s:
                raise TimedOut()
            if self._orphaned():
                raise Cancelled()
            if now - last_look[0] > 1.0:
                last_look[0] = now
                row = self.store.get(job_id)
                if row is None or row.status == "cancelled":
                    raise Cancelled()
        return check

    def _pipeline_events(self, job: Job, opts: JobOptions, tmp: Path, models):
        """The whole pipeline on the job's video (the models run)."""
        from nvwa.pipeline import Pipeline

        video = tmp / ("input" + Path(job.filename).suffix.lower())
        self.storage.get_file(job.input_key, video)
        config = opts.pipeline_config(self.settings)
        yield from Pipeline(config, body=models.body, tracker=models.tracker, occlusion=models.occlusion).run(video)

    def _reconstruct_events(self, job: Job, opts: JobOptions, tmp: Path):
        """Everything after the models, from the observations of the job this one was made from."""
        from nvwa.observations import load_observations
        from nvwa.pipeline import ProgressEvent
        from nvwa.reconstruct import reconstruct_steps

        self.storage.get_file(f"jobs/{job.id}/input/{OBSERVATIONS}", tmp / OBSERVATIONS)
        obs = load_observations(tmp)
        frames = int(obs.stats.get("frames", 0))
        yield ProgressEvent("probe", "reconstructing from the observations (no model run)", frames, frames,
                            {"video": obs.video})
        config = opts.pipeline_config(self.settings)
        for step in reconstruct_steps(obs, config.reconstruct, models_dir=config.models.models_dir):
            if step.stage == "scene":
                yield ProgressEvent("complete", step.message, frames, frames, {"scene": step.data["scene"], "observations": obs})
            else:
                yield ProgressEvent(step.stage, step.message, data=step.data)

    def _record_events(self, job_id: str, opts: JobOptions, events, check):
        """Store the run's progress as the job's events -> the final ("complete") one."""
        last_frame_event, period = 0.0, 1.0 / max(self.settings.frame_events_per_s, 0.1)
        final = None
        for ev in events:
            check()
            if ev.stage == "probe":
                self.store.add_event(job_id, "init", {"job_id": job_id, "message": ev.message, "total_frames": ev.total,
                                                     "worker": WORKER_NAME, "process": os.getpid(),
                                                     "video": _jsonable(ev.data["video"]), "options": opts.model_dump(),
                                                     "notes": opts.notes()})
            elif ev.stage == "frame":
                now = time.monotonic()
                if now - last_frame_event >= period or ev.done == ev.total:
                    last_frame_event = now
                    self.store.add_event(job_id, "frame", {"done": ev.done, "total": ev.total, "people": ev.data.get("people", 0)})
            elif ev.stage == "stage":
                self.store.add_event(job_id, "tracking", {"message": ev.message, **_jsonable(ev.data)})
            elif ev.stage in ("grounded", "smoothed"):
                self.store.add_event(job_id, ev.stage, {"message": ev.message, **_jsonable(ev.data)})
            elif ev.stage == "complete":
                final = ev
        return final

    def _store_artifacts(self, job_id: str, out: Path) -> list[dict]:
        files: list[tuple[str, Path]] = []
        for folder in ("bvh", "ply"):
            if (out / folder).is_dir():
                z = out / f"{folder}.zip"
                with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
                    for f in sorted((out / folder).rglob("*")):
                        if f.is_file():
                            zf.write(f, f.relative_to(out))
                files.append((z.name, z))
        for name in ("scene.glb", "observations.npz", "scene.npz", "scene.json"):  # scene.json: the last word
            if (out / name).exists():
                files.append((name, out / name))
        artifacts = []
        for name, path in files:
            self.storage.put_file(f"jobs/{job_id}/artifacts/{name}", path)
            artifacts.append({"name": name, "size": path.stat().st_size,
                              "content_type": CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")})
        if self.store.get(job_id) is None:  # deleted while they were written: DELETE removed what was there
            raise Cancelled()
        return artifacts


def create_job(store: JobStore, storage, job_id: str, filename: str, upload: Path, options: JobOptions,
               source_key: str | None = None) -> Job:
    """Store the upload (unless it is already in storage at ``source_key``), then the job row (queued):
    a job exists only with its input in place."""
    filename = safe_filename(filename)
    suffix = Path(filename).suffix.lower()
    key = source_key or f"jobs/{job_id}/input/video{suffix if suffix in VIDEO_TYPES else ''}"  # named by us, not the client
    if source_key is None:
        storage.put_file(key, upload)
    job = Job(id=job_id, status="queued", filename=filename, input_key=key,
              options=options.model_dump(), artifacts=[], last_seq=0)
    store.add_job(job)
    store.add_event(job_id, "queued", {"job_id": job_id, "filename": job.filename})
    return job


__all__ = ["JobOptions", "ReconstructRequest", "JobRunner", "create_job", "new_job_id", "CONTENT_TYPES", "OBSERVATIONS"]
