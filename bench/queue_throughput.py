"""Queue-mode throughput: the same short clip as N jobs through the API, run by 1 and then 2 `nvwa worker`
processes (real redis-server, moto_server for S3, SQLite shared), videos per minute for each.

    python bench/queue_throughput.py [--jobs 6] [--frames 30] [--out bench/results/queue.json]

Needs redis-server (Debian) and the dev extra. Both counts run in one invocation, so the ratio is
measured under the same machine load. Timed from the first upload to the last `complete` event;
worker start-up (model load) is excluded, as a long-running worker pays it once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from nvwa.models import default_models_dir

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "tests" / "data" / "sports2d_3s.mp4"


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(check, what: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while True:
        try:
            if check():
                return
        except Exception:
            pass
        if time.time() > deadline:
            raise SystemExit(f"bench/queue_throughput.py: {what} did not come up")
        time.sleep(0.1)


def run(workers: int, jobs: int, frames: int, env: dict, tmp: Path) -> dict:
    import httpx
    import uvicorn

    from nvwa.service import Settings, create_app

    settings = Settings(**{k[5:].lower(): v for k, v in env.items() if k.startswith("NVWA_")})
    procs = []
    for i in range(workers):
        log = tmp / f"w{workers}-{i}.log"
        procs.append(subprocess.Popen([sys.executable, "-m", "nvwa", "worker"], env=env, cwd=tmp,
                                      stdout=open(log, "w"), stderr=subprocess.STDOUT))
        wait(lambda: "ready" in log.read_text(), f"worker {i}")
    p = port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=p, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    wait(lambda: server.started, "the API")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=600) as c:
            body = CLIP.read_bytes()
            opts = json.dumps({"max_frames": frames, "smoothing": "fast", "exports": ["glb"]})
            t0 = time.perf_counter()
            ids = [c.post("/jobs", files={"file": (CLIP.name, body, "video/mp4")}, data={"options": opts}).json()["id"]
                   for _ in range(jobs)]
            for job_id in ids:
                wait(lambda: c.get(f"/jobs/{job_id}").json()["status"] in ("complete", "failed"), f"job {job_id}", 600)
            wall = time.perf_counter() - t0
            statuses = [c.get(f"/jobs/{j}").json()["status"] for j in ids]
    finally:
        server.should_exit = True
        for pr in procs:
            pr.send_signal(signal.SIGTERM)
        for pr in procs:
            pr.wait(60)
    return {"workers": workers, "jobs": jobs, "complete": statuses.count("complete"), "wall_s": round(wall, 2),
            "videos_per_minute": round(60 * jobs / wall, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=6)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "queue.json"))
    args = ap.parse_args(argv)
    redis_server, moto = shutil.which("redis-server"), Path(sys.executable).parent / "moto_server"
    if not redis_server or not moto.exists():
        raise SystemExit("bench/queue_throughput.py: needs redis-server (apt-get install redis-server) and moto_server (dev extra)")
    import boto3

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rp, sp = port(), port()
        redis = subprocess.Popen([redis_server, "--port", str(rp), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp)],
                                 stdout=subprocess.DEVNULL)
        s3 = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(sp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        creds = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
        os.environ.update(creds)
        try:
            endpoint = f"http://127.0.0.1:{sp}"
            wait(lambda: boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="nvwa"), "moto_server")
            results = []
            for n in (1, 2):
                env = {**os.environ, "NVWA_EXECUTOR": "queue", "NVWA_REDIS_URL": f"redis://127.0.0.1:{rp}/{n}",
                       "NVWA_STORAGE": "s3", "NVWA_S3_BUCKET": "nvwa", "NVWA_S3_ENDPOINT_URL": endpoint,
                       "NVWA_DATA_DIR": str(tmp / f"data{n}"), "NVWA_DATABASE_URL": f"sqlite:///{tmp / f'jobs{n}.db'}",
                       "NVWA_MODELS_DIR": str(default_models_dir())}
                results.append(run(n, args.jobs, args.frames, env, tmp))
        finally:
            redis.terminate()
            s3.terminate()
    out = {"clip": CLIP.name, "frames_per_job": args.frames, "cpu_cores": os.cpu_count(), "runs": results,
           "speedup_2_vs_1": round(results[1]["videos_per_minute"] / results[0]["videos_per_minute"], 2)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
