"""Service settings, from environment variables (prefix ``NVWA_``) or a ``.env`` file.

| variable | default | meaning |
|---|---|---|
| ``NVWA_DATA_DIR`` | ``./nvwa-data`` | uploads, artifacts (local storage), the SQLite job database |
| ``NVWA_DATABASE_URL`` | ``sqlite:///<data dir>/jobs.db`` | any SQLAlchemy URL (``postgresql+psycopg://...`` works unchanged) |
| ``NVWA_STORAGE`` | ``local`` | ``local`` (under the data dir) or ``s3`` |
| ``NVWA_S3_BUCKET`` / ``NVWA_S3_ENDPOINT_URL`` / ``NVWA_S3_REGION`` | - / AWS / ``us-east-1`` | S3 or any S3-compatible store; credentials from boto3's usual sources (``AWS_ACCESS_KEY_ID``...) |
| ``NVWA_MAX_UPLOAD_MB`` | ``500`` | uploads larger than this are refused (413) while they stream in |
| ``NVWA_API_KEY`` | unset | when set, every route but ``/health`` (docs and viewer included) needs header ``X-API-Key`` or the cookie a page gets from ``?api_key=``; set but empty is a start-up error |
| ``NVWA_CORS_ORIGINS`` | none | JSON list of origins allowed to call the API from a browser |
| ``NVWA_MAX_CONCURRENT_JOBS`` | ``1`` | jobs running at once (one model instance each); the rest queue |
| ``NVWA_MODELS_DIR`` | ``./models`` | the BlazePose bundle (``nvwa models fetch``) |
| ``NVWA_BODY_MODEL`` / ``NVWA_TRACKER`` | ``blazepose`` / ``blazepose`` | ``sam3d_body`` / ``sam3`` for the GPU path |
| ``NVWA_OCCLUSION`` | ``false`` | the Diffusion-VAS occlusion stage (GPU path, slow) |
| ``NVWA_CHECKPOINTS_DIR`` | ``./checkpoints`` | the GPU checkpoints (``nvwa models download``) |
| ``NVWA_EXECUTOR`` | ``embedded`` | ``embedded`` (jobs run in the API process) or ``queue`` (Redis + ``nvwa worker``; needs S3 storage and a database every process reaches) |
| ``NVWA_REDIS_URL`` | unset | the queue, e.g. ``redis://redis:6379/0`` |
| ``NVWA_QUEUE_HEARTBEAT_S`` | ``60`` | a worker silent this long is dead: its job goes to another worker |
| ``NVWA_QUEUE_MAINTENANCE_CHANCE`` | ``1000`` | per million queue polls, how often a worker looks for dead workers' jobs |
| ``NVWA_JOB_TIMEOUT_S`` | ``21600`` | a job running longer fails with that reason |
| ``NVWA_WORKER_GRACE_S`` | ``30`` | on SIGTERM a worker finishes its job for this long, then leaves it to be redelivered |
| ``NVWA_HEARTBEAT_S`` | ``15`` | SSE comment lines on idle streams, so proxies keep them open |
| ``NVWA_FRAME_EVENTS_PER_S`` | ``4`` | frame-progress events stored per second of processing, at most |
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import create_model, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nvwa.config import PipelineConfig
from nvwa.options import setting_fields


class _ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NVWA_", env_file=".env", extra="ignore")

    data_dir: Path = Path("nvwa-data")
    database_url: str | None = None
    storage: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    max_upload_mb: float = 500.0
    api_key: str | None = None
    cors_origins: list[str] = []
    max_concurrent_jobs: int = 1
    executor: Literal["embedded", "queue"] = "embedded"
    redis_url: str | None = None
    queue_heartbeat_s: float = 60.0
    queue_maintenance_chance: int = 1000
    job_timeout_s: float = 6 * 3600.0
    worker_grace_s: float = 30.0
    heartbeat_s: float = 15.0
    frame_events_per_s: float = 4.0

    @field_validator("api_key")
    @classmethod
    def _key_not_empty(cls, v: str | None) -> str | None:
        # An empty NVWA_API_KEY= would silently mean "no key": refuse to start instead.
        if v is not None and not v.strip():
            raise ValueError("NVWA_API_KEY is set but empty: give it a value, or unset it to run without a key")
        if v is not None and not v.isprintable():
            raise ValueError("NVWA_API_KEY holds control characters")
        return v

    @property
    def tmp_dir(self) -> Path:
        """The server's working files (uploads in flight, each job's folder): emptied at start and stop."""
        return self.data_dir / "tmp"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'jobs.db').resolve()}"


# The model settings (NVWA_BODY_MODEL, NVWA_TRACKER, NVWA_OCCLUSION, NVWA_MODELS_DIR, NVWA_CHECKPOINTS_DIR) are the
# config tree's `option(setting=...)` fields: the same choices and defaults as the CLI's flags.
Settings = create_model("Settings", __base__=_ServerSettings, __module__=__name__, **setting_fields(PipelineConfig))
