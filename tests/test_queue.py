"""Queue mode for real: a real redis-server (Debian's) on loopback, real `nvwa worker` processes with the
real BlazePose model, the API served by uvicorn, S3 on a real S3-compatible server (moto_server), one
SQLite job database shared by every process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DATA, ServedApp, free_port, post_video, sse

httpx = pytest.importorskip("httpx", reason="the queue tests need the dev extra (httpx)")
pytest.importorskip("dramatiq", reason="the queue tests need the queue extra (dramatiq[redis])")
REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server not installed (`make test` installs Debian's)")

from nvwa.models import default_models_dir  # noqa: E402
from nvwa.service import Settings, create_app  # noqa: E402

CLIP = DATA / "sports2d_3s.mp4"
SHORT = {"max_frames": 12, "smoothing": "fast", "exports": ["glb"]}


class RedisServer:
    """redis-server on a loopback port, its queue kept on disk (AOF) so a restart loses nothing."""

    def __init__(self, folder: Path):
        self.port, self.folder, self.proc = free_port(), folder, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        deadline = time.time() + 20
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
                return self
            except redis.exceptions.ConnectionError:
                assert time.time() < deadline and self.proc.poll() is None, "redis-server did not start"
                time.sleep(0.1)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture()
def cluster(tmp_path, s3_endpoint, monkeypatch):
    """Redis + S3 bucket + settings + environment every process of the cluster shares."""
    import boto3

    creds = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    for k, v in creds.items():
        monkeypatch.setenv(k, v)
    bucket = f"q{tmp_path.name.lower().replace('_', '')[-40:]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    redis = RedisServer(tmp_path).start()
    env = {**os.environ, **creds, "NVWA_EXECUTOR": "queue", "NVWA_REDIS_URL": redis.url, "NVWA_STORAGE": "s3",
           "NVWA_S3_BUCKET": bucket, "NVWA_S3_ENDPOINT_URL": s3_endpoint, "NVWA_DATA_DIR": str(tmp_path / "data"),
           "NVWA_DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}", "NVWA_MODELS_DIR": str(default_models_dir()),
           "NVWA_QUEUE_HEARTBEAT_S": "3", "NVWA_QUEUE_MAINTENANCE_CHANCE": "1000000"}
    settings = Settings(**{k[5:].lower(): v for k, v in env.items() if k.startswith("NVWA_")})
    workers: list[subprocess.Popen] = []

    def start_worker() -> subprocess.Popen:
        log = open(tmp_path / f"worker{len(workers)}.log", "w")
        p = subprocess.Popen([sys.executable, "-m", "nvwa", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT,
                             cwd=tmp_path)
        workers.append(p)
        deadline = time.time() + 60
        while "ready" not in (tmp_path / log.name).read_text():
            assert time.time() < deadline and p.poll() is None, (tmp_path / log.name).read_text()[-2000:]
            time.sleep(0.1)
        return p

    yield {"settings": settings, "redis": redis, "start_worker": start_worker, "workers": workers, "tmp": tmp_path}
    for p in workers:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in workers:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
    if redis.proc.poll() is None:
        redis.stop()


def test_two_workers_five_jobs_each_once_in_order(cluster):
    for _ in range(2):
        cluster["start_worker"]()
    with ServedApp(create_app(cluster["settings"])) as s, httpx.Client(base_url=s.url, timeout=60) as c:
        ids = []
        for _ in range(5):
            r = post_video(c, CLIP, SHORT)
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
        ran_on = set()
        for job_id in ids:
            events = sse(c, f"/jobs/{job_id}/events")
            names = [e["event"] for e in events]
            assert [int(e["id"]) for e in events] == list(range(1, len(events) + 1))  # in order, no gaps
            assert names[0] == "queued" and names[-1] == "complete" and names.count("complete") == 1
            assert names.count("init") == 1 and "retry" not in names  # each ran exactly once
            ran_on.add(json.loads(events[names.index("init")]["data"])["worker"])
            glb = c.get(f"/jobs/{job_id}/artifacts/scene.glb")
            assert glb.status_code == 200 and glb.content[:4] == b"glTF"
        assert len(ran_on) == 2  # both workers took jobs
        assert c.get("/health").json()["queue"] == "reachable"


def test_a_killed_worker_s_job_finishes_on_the_other_once(cluster):
    first = cluster["start_worker"]()
    second = cluster["start_worker"]()
    pids = {first.pid: first, second.pid: second}
    with ServedApp(create_app(cluster["settings"])) as s, httpx.Client(base_url=s.url, timeout=120) as c:
        job_id = post_video(c, CLIP, {"max_frames": 80, "smoothing": "fast", "exports": ["glb"]}).json()["id"]
        seen = sse(c, f"/jobs/{job_id}/events", stop_after=3)  # queued, init, a frame: it is running
        assert seen[1]["event"] == "init", seen
        victim = int(json.loads(seen[1]["data"])["worker"].split(":")[1])
        assert victim in pids
        os.kill(victim, signal.SIGKILL)
        pids[victim].wait(10)
        events = sse(c, f"/jobs/{job_id}/events")  # from the start: the whole stream as a client sees it
        names = [e["event"] for e in events]
        assert names.count("complete") == 1 and names[-1] == "complete", names
        assert "retry" in names and [int(e["id"]) for e in events] == list(range(1, len(events) + 1))
        inits = [json.loads(e["data"])["worker"] for e in events if e["event"] == "init"]
        assert inits[0].endswith(f":{victim}") and not inits[-1].endswith(f":{victim}")
        assert c.get(f"/jobs/{job_id}").json()["status"] == "complete"


def test_a_crash_in_a_job_fails_that_job_and_the_worker_lives(cluster):
    """A native crash (SIGSEGV) in the job's process: that job fails with the reason, no redelivery to
    crash the next worker, and the same worker takes the next job."""
    worker = cluster["start_worker"]()
    with ServedApp(create_app(cluster["settings"])) as s, httpx.Client(base_url=s.url, timeout=120) as c:
        job_id = post_video(c, CLIP, {"max_frames": 80, "smoothing": "fast", "exports": ["glb"]}).json()["id"]
        seen = sse(c, f"/jobs/{job_id}/events", stop_after=3)
        init = json.loads(seen[1]["data"])
        assert init["worker"].endswith(f":{worker.pid}") and init["process"] != worker.pid
        os.kill(init["process"], signal.SIGSEGV)
        events = sse(c, f"/jobs/{job_id}/events")
        assert events[-1]["event"] == "error" and "SIGSEGV" in json.loads(events[-1]["data"])["message"]
        assert "retry" not in [e["event"] for e in events] and worker.poll() is None
        after = post_video(c, CLIP, SHORT).json()["id"]
        names = [e["event"] for e in sse(c, f"/jobs/{after}/events")]
        assert names[-1] == "complete", names


def test_redis_down_means_503_then_everything_resumes(cluster):
    cluster["start_worker"]()
    redis = cluster["redis"]
    with ServedApp(create_app(cluster["settings"])) as s, httpx.Client(base_url=s.url, timeout=60) as c:
        running = post_video(c, CLIP, {"max_frames": 60, "smoothing": "fast", "exports": ["glb"]}).json()["id"]
        sse(c, f"/jobs/{running}/events", stop_after=3)
        redis.stop()
        t0 = time.time()
        r = post_video(c, CLIP, SHORT)
        assert r.status_code == 503 and "Redis" in r.json()["detail"] and time.time() - t0 < 10, r.text
        assert c.get("/health").json()["status"] == "degraded"
        total = c.get("/jobs").json()["total"]
        assert total == 1  # the refused upload left no job behind
        time.sleep(2)
        redis.start()
        after = post_video(c, CLIP, SHORT)
        assert after.status_code == 202, after.text
        for job_id in (running, after.json()["id"]):
            names = [e["event"] for e in sse(c, f"/jobs/{job_id}/events")]
            assert names[-1] == "complete" and names.count("complete") == 1, names


def test_queue_mode_refuses_local_storage(tmp_path):
    with pytest.raises(ValueError, match="NVWA_EXECUTOR=queue needs NVWA_STORAGE=s3"):
        create_app(Settings(data_dir=tmp_path, executor="queue", redis_url="redis://127.0.0.1:1/0"))
