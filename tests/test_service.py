"""The service over real HTTP: a uvicorn server on loopback, httpx as the client, the real BlazePose
model, SQLite, local disk and a real S3-compatible server (moto_server)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import DATA, REPO, ServedApp, free_port, parse_sse, post_video, sse  # noqa: F401

httpx = pytest.importorskip("httpx", reason="the service tests need the dev extra (httpx)")
pytest.importorskip("fastapi", reason="the service tests need the server extra")

from nvwa.service import Settings, create_app  # noqa: E402

CLIP = DATA / "sports2d_3s.mp4"  # 90 frames, two people


class Server(ServedApp):
    """create_app(settings) served on loopback: its job slot is a child process loading the real model."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.app = create_app(settings)
        super().__init__(self.app)


@pytest.fixture(scope="module")
def server(models_dir, tmp_path_factory):
    data = tmp_path_factory.mktemp("service")
    settings = Settings(data_dir=data, models_dir=str(models_dir), max_upload_mb=2.0, heartbeat_s=1.0,
                        cors_origins=["http://replay.example"])
    with Server(settings) as s:
        yield s


@pytest.fixture(scope="module")
def finished(server):
    """One job run to the end: (job id, its full event list)."""
    with httpx.Client(base_url=server.url) as c:
        r = post_video(c, CLIP, {"smoothing": "fast", "exports": ["glb", "bvh", "npz"]})
        assert r.status_code == 202, r.text
        job = r.json()
        assert r.headers["location"] == f"/jobs/{job['id']}" and job["status"] == "queued"
        events = sse(c, f"/jobs/{job['id']}/events")
        return job["id"], events


def test_upload_runs_to_complete_with_ordered_events(finished, server):
    job_id, events = finished
    ids = [int(e["id"]) for e in events]
    assert ids == list(range(1, len(ids) + 1))
    kinds = [e["event"] for e in events]
    assert kinds[0] == "queued" and kinds[1] == "init" and kinds[-1] == "complete"
    for k in ("frame", "tracking", "grounded", "smoothed", "person"):
        assert k in kinds, kinds
    frames = [json.loads(e["data"]) for e in events if e["event"] == "frame"]
    assert frames[-1]["done"] == frames[-1]["total"] == 90
    assert len(frames) < 90  # progress at a sensible rate, not one event per frame
    assert kinds.index("tracking") < kinds.index("grounded") < kinds.index("smoothed") < kinds.index("complete")
    done = json.loads(events[-1]["data"])
    assert done["people"] >= 1 and set(done["artifacts"]) == {"scene.glb", "scene.npz", "scene.json", "bvh.zip", "observations.npz"}
    with httpx.Client(base_url=server.url) as c:
        job = c.get(f"/jobs/{job_id}").json()
        assert job["status"] == "complete" and job["events"] == len(events)


def test_reconnect_with_last_event_id_gets_exactly_the_rest(finished, server):
    job_id, full = finished
    with httpx.Client(base_url=server.url) as c:
        first = sse(c, f"/jobs/{job_id}/events", stop_after=4)
        rest = sse(c, f"/jobs/{job_id}/events", headers={"Last-Event-ID": first[-1]["id"]})
    assert [e["id"] for e in first + rest] == [e["id"] for e in full]
    assert [e["data"] for e in first + rest] == [e["data"] for e in full]


def test_reconnect_mid_run_has_no_gaps_or_duplicates(server):
    with httpx.Client(base_url=server.url) as c:
        job = post_video(c, CLIP, {"smoothing": "fast", "max_frames": 60, "exports": ["glb"]}).json()
        first = sse(c, f"/jobs/{job['id']}/events", stop_after=5)  # disconnect while it runs
        assert c.get(f"/jobs/{job['id']}").json()["status"] in ("queued", "running")
        rest = sse(c, f"/jobs/{job['id']}/events", headers={"Last-Event-ID": first[-1]["id"]})
    ids = [int(e["id"]) for e in first + rest]
    assert ids == list(range(1, len(ids) + 1)) and (first + rest)[-1]["event"] == "complete"


def test_every_artifact_downloads_with_its_type_and_ranges(finished, server):
    job_id, _ = finished
    with httpx.Client(base_url=server.url) as c:
        job = c.get(f"/jobs/{job_id}").json()
        types = {}
        for a in job["artifacts"]:
            r = c.get(job["links"]["artifacts"][a["name"]])
            assert r.status_code == 200 and len(r.content) == a["size"]
            types[a["name"]] = r.headers["content-type"]
        assert types["scene.glb"] == "model/gltf-binary" and types["bvh.zip"] == "application/zip"
        assert types["scene.json"].startswith("application/json")
        glb = c.get(f"/jobs/{job_id}/artifacts/scene.glb").content
        assert glb[:4] == b"glTF"
        part = c.get(f"/jobs/{job_id}/artifacts/scene.glb", headers={"Range": "bytes=4-11"})
        assert part.status_code == 206 and part.content == glb[4:12]
        assert part.headers["content-range"] == f"bytes 4-11/{len(glb)}"
        summary = json.loads(c.get(f"/jobs/{job_id}/artifacts/scene.json").content)
        assert summary["version"] == "nvwa.scene/1"


def test_viewer_route_opens_the_jobs_glb_and_video(finished, server):
    job_id, _ = finished
    with httpx.Client(base_url=server.url) as c:
        r = c.get(f"/viewer/{job_id}")
        assert r.status_code == 307
        assert r.headers["location"] == (f"/viewer/static/index.html?src=/jobs/{job_id}/artifacts/scene.glb"
                                         f"&video=/jobs/{job_id}/video")
        page = c.get(r.headers["location"])
        assert page.status_code == 200 and "viewer.js" in page.text
        assert c.get("/viewer/static/viewer.js").status_code == 200
        video = c.get(f"/jobs/{job_id}/video", headers={"Range": "bytes=0-99"})
        assert video.status_code == 206 and video.content == CLIP.read_bytes()[:100]
        assert c.get("/viewer/0123456789abcdef").status_code == 404


def test_list_is_paged(finished, server):
    with httpx.Client(base_url=server.url) as c:
        page = c.get("/jobs", params={"limit": 1}).json()
        assert len(page["jobs"]) == 1 and page["total"] >= 1 and page["limit"] == 1
        assert c.get("/jobs", params={"limit": 0}).status_code == 422


def test_bad_requests(finished, server, tmp_path):
    job_id, _ = finished
    uploads = server.settings.tmp_dir / "uploads"
    before = set(uploads.iterdir()) if uploads.exists() else set()
    with httpx.Client(base_url=server.url) as c:
        total = c.get("/jobs").json()["total"]
        # over the size limit (2 MB here), streamed with no Content-Length, so the server counts
        big = (b"\x00" * (1 << 20) for _ in range(3))

        def body():
            yield b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n'
            yield from big
            yield b"\r\n--XyZ--\r\n"

        r = c.post("/jobs", content=body(), headers={"content-type": "multipart/form-data; boundary=XyZ"})
        assert r.status_code == 413 and "over the limit" in r.json()["detail"]
        # not a video, a truncated video: 422 with the probe's reason
        text = tmp_path / "notes.mp4"
        text.write_text("hello, not a video\n" * 50)
        r = post_video(c, text)
        assert r.status_code == 422 and "notes.mp4" in r.json()["detail"] and "not a readable video" in r.json()["detail"]
        cut = tmp_path / "cut.mp4"
        cut.write_bytes(CLIP.read_bytes()[:3000])
        r = post_video(c, cut)
        assert r.status_code == 422 and "cut.mp4" in r.json()["detail"]
        # unknown or invalid options
        r = post_video(c, CLIP, {"smoothing": "fast", "warp_speed": 9})
        assert r.status_code == 422 and "warp_speed" in r.json()["detail"]
        r = post_video(c, CLIP, {"stride": 0})
        assert r.status_code == 422 and "stride" in r.json()["detail"]
        r = post_video(c, CLIP, {"rotate": "45"})  # a video turned without saying so: 0, 90, 180 or 270 only
        assert r.status_code == 422 and "rotate" in r.json()["detail"]
        r = post_video(c, CLIP, {"start_s": -1})  # one shot of an edited video: from 0 s on
        assert r.status_code == 422 and "start_s" in r.json()["detail"]
        r = post_video(c, CLIP, {"start_s": 5, "end_s": 3})  # refused before any model runs
        assert r.status_code == 422 and "end_s 3 must be after start_s 5" in r.json()["detail"]
        r = post_video(c, CLIP, None, colour="red")
        assert r.status_code == 422 and "colour" in r.json()["detail"]
        assert c.post("/jobs", json={"video": "x"}).status_code == 415
        # nothing was kept of any refused upload
        assert c.get("/jobs").json()["total"] == total
        assert (set(uploads.iterdir()) if uploads.exists() else set()) == before
        # unknown job, bad artifact names
        assert c.get("/jobs/0123456789abcdef").status_code == 404
        assert c.get("/jobs/0123456789abcdef/events").status_code == 404
        assert c.get(f"/jobs/{job_id}/artifacts/..%2F..%2Fjobs.db").status_code in (400, 404)
        assert c.get(f"/jobs/{job_id}/artifacts/%2E%2E").status_code in (400, 404)  # ".." itself (httpx would fold a literal ..)
        assert c.get(f"/jobs/{job_id}/artifacts/%2Fetc%2Fpasswd").status_code in (400, 404)
        assert c.get(f"/jobs/{job_id}/artifacts/.hidden").status_code == 400
        assert c.get(f"/jobs/{job_id}/artifacts/ply.zip").status_code == 404  # not asked for


def test_cors_only_for_configured_origins(server):
    with httpx.Client(base_url=server.url) as c:
        ok = c.get("/jobs", headers={"Origin": "http://replay.example"})
        assert ok.headers.get("access-control-allow-origin") == "http://replay.example"
        other = c.get("/jobs", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_delete_cancels_a_running_job_and_removes_its_files(server):
    with httpx.Client(base_url=server.url) as c:
        job = post_video(c, CLIP, {"smoothing": "fast"}).json()
        sse(c, f"/jobs/{job['id']}/events", stop_after=4)  # it has started
        assert c.delete(f"/jobs/{job['id']}").status_code == 204
        assert c.get(f"/jobs/{job['id']}").status_code == 404
        assert not (server.settings.data_dir / "storage" / "jobs" / job["id"]).exists()
        assert c.delete(f"/jobs/{job['id']}").status_code == 404
        time.sleep(1.0)  # the worker notices the cancel and leaves nothing behind
        assert not (server.settings.data_dir / "storage" / "jobs" / job["id"]).exists()


def test_process_video_v2_streams_the_plans_events(server):
    with httpx.Client(base_url=server.url, timeout=120) as c:
        files = {"file": (CLIP.name, CLIP.read_bytes(), "video/mp4")}
        data = {"max_frames": "45", "enable_tracking": "true", "enable_occlusion": "true", "enable_grounding": "true",
                "smoothing_preset": "fast"}
        with c.stream("POST", "/sam3d/body/process_video_v2", files=files, data=data) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            job_id = r.headers["x-job-id"]
            events = parse_sse(r.iter_lines())
        assert events[-1]["event"] == "complete"
        init = json.loads(next(e["data"] for e in events if e["event"] == "init"))
        assert init["options"]["max_frames"] == 45 and any("Diffusion-VAS" in n for n in init["notes"])
        assert c.get(f"/jobs/{job_id}").json()["status"] == "complete"
        bad = c.post("/sam3d/body/process_video_v2", files=files, data={"turbo": "1"})
        assert bad.status_code == 422 and "turbo" in bad.json()["detail"]


def test_api_key_guards_everything_but_health(models_dir, tmp_path):
    settings = Settings(data_dir=tmp_path, models_dir=str(models_dir), api_key="s3cret")
    with Server(settings) as s, httpx.Client(base_url=s.url) as c:
        assert c.get("/health").status_code == 200
        assert c.get("/jobs").status_code == 401
        assert post_video(c, CLIP).status_code == 401
        assert c.get("/jobs", headers={"X-API-Key": "wrong"}).status_code == 401
        assert c.get("/jobs", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert not any((tmp_path / "storage" / "jobs").iterdir())  # the refused upload left nothing


# -- S3: a real S3-compatible server on loopback ----------------------------------------------------

def test_s3_storage_for_uploads_and_artifacts(models_dir, s3_endpoint, tmp_path, monkeypatch):
    import boto3

    for k, v in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="nvwa")
    s3.upload_file(str(CLIP), "nvwa", "incoming/clip.mp4")
    settings = Settings(data_dir=tmp_path, models_dir=str(models_dir), storage="s3", s3_bucket="nvwa",
                        s3_endpoint_url=s3_endpoint)
    with Server(settings) as s, httpx.Client(base_url=s.url) as c:
        up = post_video(c, CLIP, {"max_frames": 30, "smoothing": "fast", "exports": ["glb"]}).json()
        by_url = c.post("/jobs", files={"source": (None, "s3://nvwa/incoming/clip.mp4"),
                                        "options": (None, json.dumps({"max_frames": 30, "exports": ["glb"]}))})
        assert by_url.status_code == 202, by_url.text
        missing = c.post("/jobs", files={"source": (None, "s3://nvwa/incoming/nope.mp4")})
        assert missing.status_code == 422 and "no such object" in missing.json()["detail"]
        other = c.post("/jobs", files={"source": (None, "s3://elsewhere/clip.mp4")})
        assert other.status_code == 422 and "not in the configured storage" in other.json()["detail"]
        for job_id in (up["id"], by_url.json()["id"]):
            events = sse(c, f"/jobs/{job_id}/events")
            assert events[-1]["event"] == "complete", events[-1]
            glb = c.get(f"/jobs/{job_id}/artifacts/scene.glb")
            assert glb.status_code == 200 and glb.content[:4] == b"glTF"
            part = c.get(f"/jobs/{job_id}/artifacts/scene.glb", headers={"Range": "bytes=-8"})
            assert part.status_code == 206 and part.content == glb.content[-8:]
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="nvwa")["Contents"]}
        assert f"jobs/{up['id']}/input/video.mp4" in keys and f"jobs/{up['id']}/artifacts/scene.glb" in keys
        assert not (tmp_path / "storage").exists()  # nothing on local disk
        assert c.delete(f"/jobs/{up['id']}").status_code == 204
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="nvwa").get("Contents", [])}
        assert not any(k.startswith(f"jobs/{up['id']}/") for k in keys)


# -- restart safety: a real `nvwa serve` killed mid-job --------------------------------------------

def test_a_server_killed_mid_job_comes_back_with_the_job_failed_not_stuck(models_dir, tmp_path):
    port = free_port()
    env = {**os.environ, "NVWA_DATA_DIR": str(tmp_path), "NVWA_MODELS_DIR": str(models_dir)}
    cmd = [sys.executable, "-m", "nvwa", "serve", "--port", str(port)]

    def start():
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            assert time.time() < deadline and proc.poll() is None, "nvwa serve did not start"
            time.sleep(0.2)

    proc = start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            job = post_video(c, CLIP, {"smoothing": "fast"}).json()
            first = sse(c, f"/jobs/{job['id']}/events", stop_after=4)
            assert any(e["event"] == "frame" for e in first)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc = start()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            again = c.get(f"/jobs/{job['id']}").json()
            assert again["status"] == "failed" and "server stopped" in again["error"]
            events = sse(c, f"/jobs/{job['id']}/events", headers={"Last-Event-ID": first[-1]["id"]})
            assert events[-1]["event"] == "error" and int(events[0]["id"]) == int(first[-1]["id"]) + 1
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def test_health_reports_model_readiness(server):
    with httpx.Client(base_url=server.url) as c:
        deadline = time.time() + 30
        while not c.get("/health").json()["models_ready"]:
            assert time.time() < deadline
            time.sleep(0.2)
        assert c.get("/docs").status_code == 200 and "/jobs" in c.get("/openapi.json").json()["paths"]
