"""The HTTP service: ``create_app(settings)``. Routes by resource: health, jobs, events (SSE), artifacts,
and the plan's ``/sam3d/body/process_video_v2`` for its frontend. OpenAPI docs at ``/docs``."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from sse_starlette.sse import EventSourceResponse

from nvwa import __version__
from nvwa.errors import InputError
from nvwa.backends import load_models
from nvwa.pipeline import PipelineConfig
from nvwa.service.taskqueue import QueueRunner, QueueUnavailable
from nvwa.service.db import TERMINAL, JobStore
from nvwa.service.jobs import JobOptions, JobRunner, create_job, new_job_id
from nvwa.service.settings import Settings
from nvwa.service.storage import make_storage
from nvwa.service.upload import UploadError, read_upload

log = logging.getLogger("nvwa.service")
VIEWER_DIR = Path(__file__).resolve().parent.parent / "viewer_static"  # built by `npm run build` in viewer/
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
POLL_S = 0.2


def _probe(path: Path, filename: str) -> None:
    """422 unless the upload is a video with at least one decodable frame."""
    from nvwa.video import iter_frames

    try:
        frames = iter_frames(path, max_side=64)
        next(frames)
        frames.close()
    except InputError as exc:
        raise HTTPException(422, f"{filename}: {exc.problem}") from None
    except StopIteration:
        raise HTTPException(422, f"{filename}: no decodable video frame") from None


def _options(text: str | None, extra: dict | None = None) -> JobOptions:
    try:
        raw = json.loads(text) if text else {}
        if not isinstance(raw, dict):
            raise ValueError("options must be a JSON object")
        return JobOptions(**{**raw, **(extra or {})})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "options"
        raise HTTPException(422, f"option {where}: {first['msg']}") from None
    except ValueError as exc:
        raise HTTPException(422, f"options: not valid JSON ({exc})") from None


def models_for(settings: Settings):
    """The models the settings choose, loaded (one set per job slot or worker)."""
    return load_models(PipelineConfig(models_dir=settings.models_dir, body_model=settings.body_model,
                                      tracking=settings.tracker, occlusion=settings.occlusion,
                                      checkpoints_dir=settings.checkpoints_dir))


def create_app(settings: Settings | None = None, *, body_factory=None) -> FastAPI:
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = JobStore(settings.db_url)
    storage = make_storage(settings)
    if settings.executor == "queue":
        if settings.storage != "s3":
            raise ValueError("NVWA_EXECUTOR=queue needs NVWA_STORAGE=s3: workers on other machines share no disk")
        runner = QueueRunner(settings, store, storage)
    else:
        runner = JobRunner(settings, store, storage, body_factory or (lambda: models_for(settings)))
    max_bytes = int(settings.max_upload_mb * 1024 * 1024)
    uploads = settings.data_dir / "uploads"

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runner.recover()
        threading.Thread(target=_warm, daemon=True).start()
        yield
        await asyncio.to_thread(runner.close)

    def _warm():
        try:
            runner.warm_up()
        except Exception:  # reported by /health; jobs fail with the reason
            log.exception("model load failed")

    app = FastAPI(title="Nvwa", version=__version__, lifespan=lifespan,
                  description="Video of people in, world-grounded 3D people out: jobs, live progress (SSE), artifacts.")
    app.state.settings, app.state.store, app.state.runner, app.state.storage = settings, store, runner, storage
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"], expose_headers=["Content-Range", "Accept-Ranges", "Location"])

    def require_key(x_api_key: str | None = Header(None)):
        if settings.api_key and x_api_key != settings.api_key:
            raise HTTPException(401, "missing or wrong X-API-Key header")

    @app.exception_handler(UploadError)
    async def _upload_error(request, exc: UploadError):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.get("/health", tags=["health"])
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

    jobs = APIRouter(prefix="/jobs", tags=["jobs"], dependencies=[Depends(require_key)])

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
                up.filename = Path(source_key).name
            filename = Path(up.filename or "video").name
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

    @jobs.post("", status_code=202, summary="Upload a video (multipart 'file' + optional 'options' JSON) and start a job")
    async def post_job(request: Request):
        job_id = await _accept(request)
        job = store.get(job_id)
        return JSONResponse(job.as_dict(), status_code=202, headers={"Location": f"/jobs/{job_id}"})

    @jobs.get("")
    def list_jobs(offset: int = Query(0, ge=0), limit: int = Query(20, ge=1, le=200), status: str | None = None):
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

    @jobs.get("/{job_id}")
    def get_job(job_id: str):
        return _job(job_id).as_dict()

    @jobs.delete("/{job_id}", status_code=204)
    def delete_job(job_id: str):
        _job(job_id)
        runner.cancel(job_id)
        storage.delete_prefix(f"jobs/{job_id}")
        store.delete(job_id)
        return Response(status_code=204)

    @jobs.get("/{job_id}/events", summary="Server-sent events; reconnect with Last-Event-ID to resume")
    async def job_events(job_id: str, request: Request, last_event_id: str | None = Header(None),
                         after: int | None = Query(None, ge=0, description="resume after this event id")):
        _job(job_id)
        start = after if after is not None else (int(last_event_id) if (last_event_id or "").isdigit() else 0)
        return EventSourceResponse(_stream(job_id, start, request), ping=settings.heartbeat_s)

    async def _stream(job_id: str, after: int, request: Request):
        while True:
            rows = await asyncio.to_thread(store.events_after, job_id, after)
            for ev in rows:
                after = ev.seq
                yield {"id": str(ev.seq), "event": ev.type, "data": ev.data}
            if rows:
                continue
            job = await asyncio.to_thread(store.get, job_id)
            if job is None or (job.status in TERMINAL and job.last_seq <= after):
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_S)

    @jobs.get("/{job_id}/artifacts/{name}", summary="Download an artifact (HTTP ranges supported)")
    def artifact(job_id: str, name: str, range: str | None = Header(None)):
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
        if obj.path is not None:
            return FileResponse(obj.path, media_type=meta["content_type"], filename=name)
        return _ranged(storage, key, obj.size, meta["content_type"], name, range)

    @jobs.get("/{job_id}/video", summary="The job's source video (HTTP ranges supported), for the viewer's picture in picture")
    def job_video(job_id: str, range: str | None = Header(None)):
        job = _job(job_id)
        obj = storage.stat(job.input_key)
        if obj is None:
            raise HTTPException(404, f"job {job_id} has no source video in storage")
        media = "video/" + (Path(job.filename).suffix.lstrip(".").lower() or "mp4")
        if obj.path is not None:
            return FileResponse(obj.path, media_type=media)
        return _ranged(storage, job.input_key, obj.size, media, job.filename, range)

    app.include_router(jobs)

    from fastapi.responses import RedirectResponse
    from fastapi.staticfiles import StaticFiles

    app.mount("/viewer/static", StaticFiles(directory=VIEWER_DIR), name="viewer")

    @app.get("/viewer", tags=["viewer"], summary="The replay viewer on its own (drag and drop a GLB, or ?src=)")
    def viewer_alone():
        return RedirectResponse("/viewer/static/index.html")

    @app.get("/viewer/{job_id}", tags=["viewer"], summary="The replay viewer on a finished job's GLB and source video")
    def viewer(job_id: str):
        job = _job(job_id)
        if not any(a["name"] == "scene.glb" for a in job.artifacts):
            raise HTTPException(404, f"job {job_id} has no scene.glb (status {job.status})")
        return RedirectResponse(f"/viewer/static/index.html?src=/jobs/{job_id}/artifacts/scene.glb&video=/jobs/{job_id}/video")

    compat = APIRouter(tags=["plan compatibility"], dependencies=[Depends(require_key)])

    def _plan_fields(fields: dict) -> dict:
        out = {}
        for k in ("max_frames",):
            if k in fields and fields[k] not in ("", "null", "None"):
                out[k] = fields.pop(k)
        for k in ("enable_tracking", "enable_occlusion", "enable_grounding"):
            if k in fields:
                out[k] = fields.pop(k).strip().lower() in ("1", "true", "yes", "on")
        if "smoothing_preset" in fields:
            out["smoothing"] = fields.pop("smoothing_preset")
        unknown = [k for k in fields if k != "options"]
        if unknown:
            raise HTTPException(422, f"option {unknown[0]}: unknown for process_video_v2")
        return out

    @compat.post("/sam3d/body/process_video_v2", summary="The plan's endpoint: upload + options, the job's events as the response")
    async def process_video_v2(request: Request):
        job_id = await _accept(request, option_fields=_plan_fields)
        return EventSourceResponse(_stream(job_id, 0, request), ping=settings.heartbeat_s, headers={"X-Job-Id": job_id})

    app.include_router(compat)
    return app


def _ranged(storage, key: str, size: int, media_type: str, name: str, range_header: str | None):
    headers = {"Accept-Ranges": "bytes", "Content-Disposition": f'attachment; filename="{name}"'}
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", (range_header or "").strip())
    if not m or (not m.group(1) and not m.group(2)):
        return StreamingResponse(storage.open_range(key, 0, size - 1) if size else iter([b""]), media_type=media_type,
                                 headers={**headers, "Content-Length": str(size)})
    if m.group(1):
        start, end = int(m.group(1)), int(m.group(2)) if m.group(2) else size - 1
    else:
        start, end = max(0, size - int(m.group(2))), size - 1
    end = min(end, size - 1)
    if start > end or start >= size:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    return StreamingResponse(storage.open_range(key, start, end), status_code=206, media_type=media_type,
                             headers={**headers, "Content-Range": f"bytes {start}-{end}/{size}", "Content-Length": str(end - start + 1)})


__all__ = ["create_app"]
