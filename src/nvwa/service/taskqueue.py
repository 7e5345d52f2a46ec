"""Queue mode: API replicas put jobs on Redis, ``nvwa worker`` processes (on other machines) run them.

Dramatiq on Redis (not Celery): a message is acknowledged only after its actor returns, and the Redis
broker hands the unacknowledged messages of a worker whose heartbeat stopped to the other workers, with
no visibility timeout to tune per job length (Celery's Redis transport redelivers a late-acked task
only after ``visibility_timeout``, an hour by default, and re-runs it on every worker that has it
prefetched). Its worker runs in our own process, so the models load once and stay loaded.

What every process shares: the job database (events and status; PostgreSQL across machines), S3 (uploads
and artifacts) and Redis (the queue). A worker takes one job at a time per model instance
(``worker_threads=1``, prefetch 1, so a busy worker does not sit on a second job); cancellation is the
job's row going away (DELETE), which the worker sees at its next progress event.
"""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger("nvwa.worker")

QUEUE_NAME = "nvwa-jobs"


class QueueUnavailable(Exception):
    """Redis cannot be reached: the API answers 503 instead of waiting."""


def make_broker(settings):
    """The Dramatiq Redis broker for ``settings.redis_url`` with short socket timeouts (never hang on a
    dead Redis) and the heartbeat after which a silent worker's job goes to another worker."""
    import dramatiq
    import redis
    from dramatiq.brokers.redis import RedisBroker

    if not settings.redis_url:
        raise ValueError("NVWA_EXECUTOR=queue needs NVWA_REDIS_URL (redis://host:6379/0)")
    pool = redis.ConnectionPool.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=10,
                                         health_check_interval=10)
    broker = RedisBroker(client=redis.Redis(connection_pool=pool), namespace="nvwa",
                         heartbeat_timeout=int(settings.queue_heartbeat_s * 1000),
                         maintenance_chance=settings.queue_maintenance_chance)
    dramatiq.set_broker(broker)
    return broker


def declare_actor(broker, run):
    """The one actor: ``run(job_id)``. No Dramatiq retries (a job that fails, fails with its reason);
    redelivery after a worker's death is the broker's, not a retry."""
    import dramatiq

    return dramatiq.actor(run, actor_name="process_job", queue_name=QUEUE_NAME, broker=broker,
                          max_retries=0, time_limit=7 * 24 * 3600 * 1000)  # our own job timeout applies first


class QueueRunner:
    """The API's side in queue mode: what IsolatedRunner is in embedded mode, with the running done elsewhere."""

    models_ready = True  # the API loads no model

    def __init__(self, settings, store, storage):
        import redis

        self.settings, self.store, self.storage = settings, store, storage
        self.broker = make_broker(settings)
        self.actor = declare_actor(self.broker, lambda job_id: None)  # sending only
        self._errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

    def check(self) -> None:
        try:
            self.broker.client.ping()
        except self._errors as exc:
            raise QueueUnavailable(f"job queue unavailable: Redis at {self._where()} is not reachable "
                                   f"({type(exc).__name__}); try again shortly") from None

    def _where(self) -> str:
        from urllib.parse import urlsplit

        u = urlsplit(self.settings.redis_url)
        return f"{u.hostname}:{u.port or 6379}"

    def submit(self, job_id: str) -> None:
        try:
            self.actor.send(job_id)
        except self._errors as exc:
            raise QueueUnavailable(f"job queue unavailable: Redis at {self._where()} is not reachable "
                                   f"({type(exc).__name__}); try again shortly") from None

    def cancel(self, job_id: str) -> None:
        """The row's removal (DELETE) is the signal; the worker stops at its next progress event."""

    def recover(self) -> list[str]:
        return []  # queued and running jobs belong to Redis and the workers, not to this process

    def warm_up(self) -> None:
        pass

    def close(self) -> None:
        self.broker.close()


def run_worker(settings, models_factory, stop: threading.Event | None = None) -> None:
    """``nvwa worker``: load the models once, then run jobs from the queue, one at a time, until
    SIGTERM/SIGINT (the job in hand is finished or, past the grace period, left to be redelivered)."""
    import dramatiq

    import os
    import shutil
    import tempfile
    from pathlib import Path

    from nvwa.service.db import TERMINAL, JobStore
    from nvwa.service.slots import IsolatedRunner
    from nvwa.service.storage import make_storage

    store = JobStore(settings.db_url)
    storage = make_storage(settings)
    tmp_root = Path(tempfile.gettempdir()) / f"nvwa-worker-{os.getpid()}"
    # The job runs in a child process (models loaded there once): a native crash fails that job with
    # the reason instead of killing the worker (and, redelivered, every other worker in turn).
    runner = IsolatedRunner(settings, store, storage, models_factory, tmp_root=tmp_root)
    runner.warm_up()  # the models load now, before the first job is taken

    def run_delivered(job_id: str) -> None:
        """Returning acknowledges the message, so this returns only once the job has ended. A job found
        running was a dead worker's: it runs again here after a ``retry`` event (its stream goes on)."""
        job = store.get(job_id)
        if job is None or job.status in TERMINAL:
            return  # deleted meanwhile, or finished by a worker that died before acknowledging
        if job.status == "running":
            store.add_event(job_id, "retry", {"message": "the worker running this job stopped; another worker took it over"},
                            status="queued")
        runner.run_now(job_id)

    broker = make_broker(settings)
    declare_actor(broker, run_delivered)
    worker = dramatiq.Worker(broker, queues={QUEUE_NAME}, worker_threads=1, worker_timeout=500)
    worker.queue_prefetch = 1  # one job in hand per model instance; the rest stay for idle workers
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    log.info("worker ready: models loaded, waiting for jobs on %s", QUEUE_NAME)
    print("nvwa worker: ready", flush=True)
    try:
        stop.wait()
    finally:
        worker.stop(timeout=settings.worker_grace_s * 1000)
        runner.close()
        broker.close()
        shutil.rmtree(tmp_root, ignore_errors=True)
