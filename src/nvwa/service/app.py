"""The HTTP service: ``create_app(settings)``. Routes by resource: health, jobs, events (SSE), artifacts,
and the plan's ``/sam3d/body/process_video_v2`` for its frontend. OpenAPI docs at ``/docs``."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from nvwa import __version__
from nvwa.backends import load_models
from nvwa.config import PipelineConfig
from nvwa.options import build, setting_values
from nvwa.service.taskqueue import QueueRunner, QueueUnavailable
from nvwa.service.db import TERMINAL, JobStore
from nvwa.service.jobs import (CONTENT_TYPES, OBSERVATIONS, VIDEO_TYPES, ReconstructRequest, create_job,
                               new_job_id, safe_filename, video_content_type)
from nvwa.service.schemas import (ERRORS, RECONSTRUCT_ERRORS, UPLOAD_BODY, V2_UPLOAD_BODY, ErrorPublic, HealthPublic, JobList, JobPublic,
                                  sse_response)
from nvwa.service.ranges import ranged_response as _ranged
from nvwa.service.security import DataDirLock, GuardMiddleware, declare_api_key
from nvwa.service.validation import parse_options as _options, probe_upload as _probe
from nvwa.service.settings import Settings
from nvwa.service.slots import IsolatedRunner
from nvwa.service.storage import make_storage
from nvwa.service.upload import UploadError, read_upload

log = logging.getLogger("nvwa.service")
VIEWER_DIR = Path(__file__).resolve().parent.parent / "viewer_static"  # built by `npm run build` in viewer/
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
POLL_S = 0.2
MAX_EVENT_ID = 2**53  # SSE ids are per-job counters; a larger Last-Event-ID is no id of ours


def _empty_tmp(tmp: Path) -> None:
    """The server's temp dir, emptied: ``uploads/`` (bodies in flight) and ``jobs/`` (job folders)."""
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("uploads", "jobs"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)


def models_for(settings: Settings):
    """The models the settings choose, loaded (one set per job slot or worker)."""
    return load_models(build(PipelineConfig, setting_values(PipelineConfig, settings)))


def create_app(settings: Settings | None = None, *, models_factory=None) -> FastAPI:
    """The service. ``models_factory``: a picklable callable that builds the models a job slot uses
    (default: those ``settings`` names); each job slot is a child process, so a native crash fails one
    job and never the server.

    The data dir is locked for this app's lifetime (from here until its shutdown; a second server on
    it gets a one-line error) and its ``tmp/`` is emptied at start and at stop."""
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = DataDirLock(settings.data_dir).acquire()
    try:
        _empty_tmp(settings.tmp_dir)  # what a crashed or killed server left
        store = JobStore(settings.db_url)
        storage = make_storage(settings)
        if settings.executor == "queue":
            if settings.storage != "s3":
                raise ValueError("NVWA_EXECUTOR=queue needs NVWA_STORAGE=s3: workers on other machines share no disk")
            runner = QueueRunner(settings, store, storage)
        else:
            runner = IsolatedRunner(settings, store, storage, models_factory, tmp_root=settings.tmp_dir / "jobs")
    except BaseException:
        lock.release()
        raise
    max_bytes = int(settings.max_upload_mb * 1024 * 1024)
    uploads = settings.tmp_dir / "uploads"

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runner.recover()
        threading.Thread(target=_warm, daemon=True).start()
        try:
            yield
        finally:
            await asyncio.to_thread(runner.close)
            shutil.rmtree(settings.tmp_dir, ignore_errors=True)  # stopped: nothing of it stays, not even folders
            settings.tmp_dir.mkdir(exist_ok=True)
            store.engine.dispose()
            lock.release()

    def _warm():
        try:
            runner.warm_up()
        except Exception:  # reported by /health; jobs fail with the reason
            log.exception("model load failed")

    app = FastAPI(title="Nvwa", version=__version__, lifespan=lifespan,
                  description="Video of people in, world-grounded 3D people out: jobs, live progress (SSE), artifacts. "
                              "With NVWA_API_KEY set, every route but /health needs the X-API-Key header.")
    app.state.settings, app.state.store, app.state.runner, app.state.storage = settings, store, runner, storage
    app.state.data_dir_lock = lock
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"], expose_headers=["Content-Range", "Accept-Ranges", "Location"])
    app.add_middleware(GuardMiddleware, api_key=settings.api_key)  # outermost: headers on every answer, CORS's too

    @app.exception_handler(UploadError)
    async def _upload_error(request, exc: UploadError):
        # The rest of a refused body is never read: close the connection instead of draining it.
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers={"Connection": "close"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):
        """One line naming the parameter and the problem (the documented ErrorPublic shape)."""
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = " ".join(str(x) for x in first.get("loc", ())) or "request"
        # A path that cannot name anything (an artifact name that is no plain file name) is a bad request.
        status = 400 if first.get("loc", ("",))[0] == "path" else 422
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}"}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc: StarletteHTTPException):
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Allow: every method of every route on this path, not the first route's
            path = request.url.path
            methods = {m for r in request.app.routes if getattr(r, "methods", None) and r.path_regex.match(path)
                       for m in r.methods}
            headers["Allow"] = ", ".join(sorted(methods))
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=headers)

    @app.get("/health", tags=["health"], response_model=HealthPublic)
    def health():
        out = {"status": "ok", "version": __version__, "models_ready": runner.models_ready,
               "storage": settings.storage, "max_concurrent_jobs": settings.max_concurrent_jobs,
               "executor": settings.executor}
        if settings.executor == "queue":
            try:
                runner.check()
                out["queue"] = "reachable"
            except QueueUnavailable as exc:
                out["queue"], out["status"] = str(exc), "degraded"
        return out

    jobs = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERRORS)

    async def _accept(request: Request, extra_options=None, option_fields: dict | None = None) -> str:
        """Read the upload (or take an object already in storage), check it, create + submit the job."""
        job_id = new_job_id()
        await asyncio.to_thread(_queue_check)  # before reading a large upload for nothing
        up = await read_upload(request, "file", max_bytes, uploads) if request.headers.get(
            "content-type", "").startswith("multipart/") else None
        if up is None:
            raise HTTPException(415, "send multipart/form-data: a 'file' part (the video) or a 'source' field, "
                                     "and an optional 'options' JSON field")
        try:
            fields = dict(up.fields)
            source = fields.pop("source", None)
            if source is not None and up.path is not None:
                raise HTTPException(422, "send either a 'file' part or a 'source' field, not both")
            if source is not None and len(source) > 1024:
                raise HTTPException(422, "source: longer than 1024 characters")
            opts_extra = option_fields(fields) if option_fields else {}
            if source is not None:
                fields["source"] = source
            options = _options(fields.pop("options", None), {**(extra_options or {}), **opts_extra})
            unknown = [k for k in fields if k != "source"]
            if unknown:
                raise HTTPException(422, f"form field {unknown[0]!r}: unknown (send 'file', 'source', 'options')")
            source_key = None
            if up.path is None:
                source_key = _source_key(fields.get("source", ""))
                up.path = uploads / f"source-{job_id}"
                try:
                    await asyncio.to_thread(storage.get_file, source_key, up.path)
                except Exception:
                    raise HTTPException(422, f"source {fields['source']!r}: no such object in the configured storage") from None
                up.filename = source_key.rsplit("/", 1)[-1]
            filename = safe_filename(up.filename)
            await asyncio.to_thread(_probe, up.path, filename)
            await asyncio.to_thread(create_job, store, storage, job_id, filename, up.path, options, source_key)
        finally:
            if up.path is not None:
                up.path.unlink(missing_ok=True)
        try:
            await asyncio.to_thread(runner.submit, job_id)
        except QueueUnavailable as exc:  # nothing kept: no job row, no stored upload
            await asyncio.to_thread(store.delete, job_id)
            await asyncio.to_thread(storage.delete_prefix, f"jobs/{job_id}")
            raise HTTPException(503, str(exc)) from None
        return job_id

    def _queue_check():
        try:
            getattr(runner, "check", lambda: None)()
        except QueueUnavailable as exc:
            raise HTTPException(503, str(exc)) from None

    @jobs.post("", status_code=202, response_model=JobPublic, openapi_extra={"requestBody": UPLOAD_BODY},
               summary="Upload a video (multipart 'file' + optional 'options' JSON) and start a job")
    async def post_job(request: Request):
        job_id = await _accept(request)
        job = store.get(job_id)
        return JSONResponse(job.as_dict(), status_code=202, headers={"Location": f"/jobs/{job_id}"})

    @jobs.get("", response_model=JobList, summary="Jobs, newest first")
    def list_jobs(offset: int = Query(0, ge=0, le=2**31), limit: int = Query(20, ge=1, le=200),
                  status: Literal["queued", "running", "complete", "failed", "cancelled"] | None = None):
        rows, total = store.list(offset, limit, status)
        return {"jobs": [j.as_dict() for j in rows], "total": total, "offset": offset, "limit": limit}

    def _source_key(source: str) -> str:
        """A video already in the configured storage: ``s3://<our bucket>/<key>`` or a plain key."""
        if not source:
            raise HTTPException(422, "no video: upload it as the 'file' part, or name an object in storage as 'source'")
        if source.startswith("s3://"):
            bucket, _, key = source[5:].partition("/")
            if settings.storage != "s3" or bucket != settings.s3_bucket:
                raise HTTPException(422, f"source {source!r}: not in the configured storage ({settings.storage}"
                                         f"{' bucket ' + str(settings.s3_bucket) if settings.storage == 's3' else ''})")
            source = key
        if ".." in source.split("/") or source.startswith("/") or not source:
            raise HTTPException(422, f"source {source!r}: not a storage key")
        return source

    def _job(job_id: str):
        job = store.get(job_id) if SAFE_NAME.match(job_id) else None
        if job is None:
            raise HTTPException(404, f"job {job_id!r} not found")
        return job

    @jobs.post("/{job_id}/reconstruct", status_code=202, response_model=JobPublic, responses=RECONSTRUCT_ERRORS,
               summary="A new job from a finished one's observations with other options (smoothing, focal, "
                       "exports): no upload, no model run")
    def reconstruct_job(job_id: str, body: ReconstructRequest):
        source = _job(job_id)
        if not any(a["name"] == OBSERVATIONS for a in source.artifacts):
            raise HTTPException(409, f"job {job_id} has no observations to reconstruct from (status {source.status}); "
                                     "wait until it is complete")
        options = _options(None, {**source.options, **body.model_dump(exclude_none=True)})
        new_id = new_job_id()
        work = settings.tmp_dir / "uploads" / f"reconstruct-{new_id}"
        work.mkdir(parents=True)
        try:
            storage.get_file(f"jobs/{job_id}/artifacts/{OBSERVATIONS}", work / OBSERVATIONS)
            storage.get_file(source.input_key, work / "video")
            storage.put_file(f"jobs/{new_id}/input/{OBSERVATIONS}", work / OBSERVATIONS)
            create_job(store, storage, new_id, source.filename, work / "video", options)
        except Exception:
            storage.delete_prefix(f"jobs/{new_id}")
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        try:
            runner.submit(new_id)
        except QueueUnavailable as exc:
            store.delete(new_id)
            storage.delete_prefix(f"jobs/{new_id}")
            raise HTTPException(503, str(exc)) from None
        return JSONResponse(store.get(new_id).as_dict(), status_code=202, headers={"Location": f"/jobs/{new_id}"})

    @jobs.get("/{job_id}", response_model=JobPublic)
    def get_job(job_id: str):
        return _job(job_id).as_dict()

    @jobs.delete("/{job_id}", status_code=204, response_class=Response,
                 summary="Cancel the job if it runs and delete it with every file; its event streams end with `cancelled`")
    def delete_job(job_id: str):
        _job(job_id)
        runner.cancel(job_id)
        store.delete(job_id)  # first: a running job that looks sees its row gone and removes what it writes after
        storage.delete_prefix(f"jobs/{job_id}")
        return Response(status_code=204)

    @jobs.get("/{job_id}/events", response_class=EventSourceResponse, responses={200: sse_response()},
              summary="Server-sent events; reconnect with Last-Event-ID to resume")
    async def job_events(job_id: str, request: Request,
                         last_event_id: str = Header(None, pattern=r"^[0-9]{1,15}$",  # (15 digits: under MAX_EVENT_ID)
                                                     description="resume after this event id"),
                         after: int | None = Query(None, ge=0, le=MAX_EVENT_ID, description="resume after this event id")):
        _job(job_id)
        if after is None and last_event_id:
            after = int(last_event_id)
        return EventSourceResponse(_stream(job_id, after or 0, request), ping=settings.heartbeat_s)

    async def _stream(job_id: str, after: int, request: Request):
        while True:
            rows = await asyncio.to_thread(store.events_after, job_id, after)
            for ev in rows:
                after = ev.seq
                yield {"id": str(ev.seq), "event": ev.type, "data": ev.data}
            if rows:
                continue
            job = await asyncio.to_thread(store.get, job_id)
            if job is None:  # deleted (DELETE) while streamed: say so, then end
                yield {"id": str(after + 1), "event": "cancelled",
                       "data": json.dumps({"message": "the job was deleted", "job_id": job_id})}
                return
            if job.status in TERMINAL and job.last_seq <= after:
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_S)

    file_answers = {206: {"description": "the requested byte range"}, 416: {"model": ErrorPublic}}

    @jobs.get("/{job_id}/artifacts/{name}", response_class=Response, operation_id="get_artifact",
              responses={200: {"description": "the file", "content": {t: {} for t in sorted(set(CONTENT_TYPES.values()))}},
                         **file_answers},
              summary="Download an artifact (HTTP ranges supported)")
    @jobs.head("/{job_id}/artifacts/{name}", response_class=Response, operation_id="head_artifact",
               summary="An artifact's size and type, without its bytes")
    def artifact(job_id: str, name: Annotated[str, PathParam(pattern=SAFE_NAME.pattern)], range: str = Header(None, max_length=200)):
        if ".." in name or "/" in name or "\\" in name or not SAFE_NAME.match(name):
            raise HTTPException(400, f"artifact name {name!r} is not a plain file name")
        job = _job(job_id)
        meta = next((a for a in job.artifacts if a["name"] == name), None)
        if meta is None:
            raise HTTPException(404, f"job {job_id} has no artifact {name!r} (it has: {', '.join(a['name'] for a in job.artifacts) or 'none yet'})")
        key = f"jobs/{job_id}/artifacts/{name}"
        obj = storage.stat(key)
        if obj is None:
            raise HTTPException(404, f"artifact {name!r} is missing from storage")
        return _ranged(storage, key, obj.size, meta["content_type"], name, range)

    @jobs.get("/{job_id}/video", response_class=Response, operation_id="get_job_video",
              responses={200: {"description": "the video", "content": {t: {} for t in sorted({*VIDEO_TYPES.values(), "application/octet-stream"})}},
                         **file_answers},
              summary="The job's source video (HTTP ranges supported), for the viewer's picture in picture")
    @jobs.head("/{job_id}/video", response_class=Response, operation_id="head_job_video",
               summary="The source video's size and type, without its bytes")
    def job_video(job_id: str, range: str = Header(None, max_length=200)):
        job = _job(job_id)
        obj = storage.stat(job.input_key)
        if obj is None:
            raise HTTPException(404, f"job {job_id} has no source video in storage")
        media = video_content_type(job.filename)
        return _ranged(storage, job.input_key, obj.size, media, job.filename, range)

    app.include_router(jobs)

    app.mount("/viewer/static", StaticFiles(directory=VIEWER_DIR), name="viewer")

    @app.get("/", tags=["viewer"], response_class=HTMLResponse, include_in_schema=True,
             summary="The front page: upload a video (or film one on a phone), watch it convert, open the replay")
    def home():
        return HTMLResponse((VIEWER_DIR / "home.html").read_text())

    @app.get("/viewer", tags=["viewer"], response_class=RedirectResponse, summary="The replay viewer on its own (drag and drop a GLB, or ?src=)")
    def viewer_alone():
        return RedirectResponse("/viewer/static/index.html")

    @app.get("/viewer/{job_id}", tags=["viewer"], response_class=RedirectResponse, responses=ERRORS,
             summary="The replay viewer on a finished job's GLB and source video")
    def viewer(job_id: str):
        job = _job(job_id)
        if not any(a["name"] == "scene.glb" for a in job.artifacts):
            raise HTTPException(404, f"job {job_id} has no scene.glb (status {job.status})")
        return RedirectResponse(f"/viewer/static/index.html?src=/jobs/{job_id}/artifacts/scene.glb&video=/jobs/{job_id}/video")

    compat = APIRouter(tags=["plan compatibility"], responses=ERRORS)

    def _plan_fields(fields: dict) -> dict:
        out = {}
        for k in ("max_frames",):
            value = fields.pop(k, "")
            if value not in ("", "null", "None"):
                out[k] = value
        for k in ("enable_tracking", "enable_occlusion", "enable_grounding"):
            if k in fields:
                out[k] = fields.pop(k).strip().lower() in ("1", "true", "yes", "on")
        if "smoothing_preset" in fields:
            out["smoothing"] = fields.pop("smoothing_preset")
        unknown = [k for k in fields if k != "options"]
        if unknown:
            raise HTTPException(422, f"option {unknown[0]}: unknown for process_video_v2")
        return out

    @compat.post("/sam3d/body/process_video_v2", response_class=EventSourceResponse,
                 responses={200: sse_response()}, openapi_extra={"requestBody": V2_UPLOAD_BODY},
                 summary="The plan's endpoint: upload + options, the job's events as the response")
    async def process_video_v2(request: Request):
        job_id = await _accept(request, option_fields=_plan_fields)
        return EventSourceResponse(_stream(job_id, 0, request), ping=settings.heartbeat_s, headers={"X-Job-Id": job_id})

    app.include_router(compat)
    if settings.api_key:
        declare_api_key(app)
    return app


__all__ = ["create_app"]
