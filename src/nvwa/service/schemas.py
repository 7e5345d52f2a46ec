"""What the API says, as models: the OpenAPI document (``/openapi.json``) is built from these, so
generated clients and fuzzers see the request bodies, the answers and the errors as they are."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from nvwa.config import PipelineConfig
from nvwa.export import EXPORTERS
from nvwa.options import leaves
from nvwa.smoothing import SMOOTHING_PRESETS

JobStatus = Literal["queued", "running", "complete", "failed", "cancelled"]


class ErrorPublic(BaseModel):
    """Every 4xx/5xx answer: one line naming the input and the problem."""

    detail: str


class ArtifactPublic(BaseModel):
    name: str
    size: int = Field(ge=0, description="bytes")
    content_type: str


class JobLinks(BaseModel):
    self: str
    events: str
    artifacts: dict[str, str]
    viewer: str


class JobPublic(BaseModel):
    id: str
    status: JobStatus
    filename: str = Field(description="the upload's file name, reduced to a safe label")
    options: dict[str, Any]
    created_at: str
    updated_at: str
    error: str | None
    artifacts: list[ArtifactPublic]
    summary: dict[str, Any] | None
    events: int = Field(ge=0, description="events stored so far (the last SSE id)")
    links: JobLinks


class JobList(BaseModel):
    jobs: list[JobPublic]
    total: int
    offset: int
    limit: int


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    models_ready: bool
    storage: str
    max_concurrent_jobs: int
    executor: str
    queue: str | None = None


def _error(description: str) -> dict:
    return {"description": description, "model": ErrorPublic}


ERRORS: dict[int | str, dict] = {
    400: _error("a malformed request (multipart body, Last-Event-ID, artifact name)"),
    401: _error("missing or wrong API key (only when NVWA_API_KEY is set)"),
    404: _error("no such job, artifact or video"),
    413: _error("the upload (the whole body) is over NVWA_MAX_UPLOAD_MB, or too many form fields"),
    415: _error("not multipart/form-data"),
    422: _error("an invalid option, form field or parameter, or a file that is not a decodable, complete video"),
    503: _error("the job queue (Redis) is unreachable; nothing was kept"),
}
RECONSTRUCT_ERRORS = {409: _error("the job has no observations to reconstruct from yet (not complete)")}

def _option_doc(leaf) -> str:
    m = leaf.meta
    bounds = [f"{sign} {m[k]:g}" for k, sign in (("ge", ">="), ("gt", ">"), ("le", "<=")) if m.get(k) is not None]
    what = "|".join(leaf.choices) if leaf.choices else ", ".join([leaf.base_type.__name__, *bounds])
    return f"{leaf.name} ({what}{' ' + m['unit'] if m.get('unit') else ''})"


# the job options as the config tree declares them (nvwa.config): the same bounds the API enforces
_OPTIONS_DOC = ("JSON object of job options: "
                + ", ".join(_option_doc(leaf) for leaf in leaves(PipelineConfig) if leaf.meta.get("job"))
                + f", exports (list of {'|'.join(EXPORTERS)})")

# 'file' or 'source', exactly one (neither or both: 422, said in the descriptions; an anyOf here trips
# schemathesis's multipart handling).
UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object",
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "the video (one part; or send 'source')"},
        "source": {"type": "string", "maxLength": 1024,
                   "description": "instead of 'file': a key (or s3://<bucket>/<key>) in the configured storage"},
        "options": {"type": "string", "maxLength": 65536, "description": _OPTIONS_DOC,  # longer: 422
                    "contentMediaType": "application/json", "example": '{"smoothing": "fast"}'},
    },
    "additionalProperties": False,
}}}}

V2_UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object",
    "properties": {
        **UPLOAD_BODY["content"]["multipart/form-data"]["schema"]["properties"],
        "max_frames": {"type": "string", "description": "integer >= 1, or empty"},
        "enable_tracking": {"type": "string", "description": "true/false"},
        "enable_occlusion": {"type": "string", "description": "true/false"},
        "enable_grounding": {"type": "string", "description": "true/false"},
        "smoothing_preset": {"type": "string", "enum": list(SMOOTHING_PRESETS)},
    },
    "additionalProperties": False,
}}}}


def sse_response() -> dict:
    return {"description": "text/event-stream: `id` (1, 2, ... per job), `event` (queued, init, frame, tracking, "
                           "grounded, smoothed, person, complete | error | cancelled), `data` (JSON)",
            "content": {"text/event-stream": {"schema": SSE_EVENT}}}


SSE_EVENT = {"type": "object", "required": ["data"], "properties": {
    "id": {"type": "string", "pattern": "^[0-9]+$"},
    "event": {"type": "string", "enum": ["queued", "init", "frame", "tracking", "grounded", "smoothed", "person",
                                         "retry", "complete", "error", "cancelled"]},
    "data": {"type": "string", "description": "a JSON object"},
    "retry": {"type": "string"}}}


__all__ = ["ErrorPublic", "JobPublic", "JobList", "HealthPublic", "ERRORS", "RECONSTRUCT_ERRORS", "UPLOAD_BODY", "V2_UPLOAD_BODY",
           "sse_response"]
