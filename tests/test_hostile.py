"""The service against a hostile or careless client, over real HTTP (uvicorn on loopback, httpx, the
real BlazePose model in the job-slot process, SQLite, local disk). One test per way in, each numbered
after issue 15; after each the server still answers /health and nothing is left that the API does not
show (``assert_clean``)."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DATA, ServedApp, free_port, make_video, post_video, sse

httpx = pytest.importorskip("httpx", reason="the service tests need the dev extra (httpx)")
pytest.importorskip("fastapi", reason="the service tests need the server extra")

from nvwa.service import Settings, create_app  # noqa: E402

CLIP = DATA / "sports2d_3s.mp4"  # 90 frames, two people
SHORT = {"max_frames": 20, "smoothing": "fast", "exports": ["glb"]}


def listing(root: Path) -> set[str]:
    """Every file and folder under ``root``, relative (the SQLite WAL/SHM files come and go by themselves)."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if not re.search(r"jobs\.db-(wal|shm|journal)$", p.name)}


class Hostile(ServedApp):
    def __init__(self, settings: Settings):
        self.settings = settings
        self.app = create_app(settings)
        super().__init__(self.app)
        self.at_start = listing(settings.data_dir)


@pytest.fixture(scope="module")
def server(models_dir, tmp_path_factory):
    data = tmp_path_factory.mktemp("hostile")
    settings = Settings(data_dir=data, models_dir=str(models_dir), max_upload_mb=5.0, heartbeat_s=1.0)
    with Hostile(settings) as s:
        yield s


@pytest.fixture()
def c(server):
    with httpx.Client(base_url=server.url, timeout=120) as client:
        yield client


def wait_idle(c, timeout: float = 120) -> None:
    """Until no job is queued or running (a job slot may still be writing after a DELETE)."""
    deadline = time.time() + timeout
    while any(j["status"] in ("queued", "running") for j in c.get("/jobs", params={"limit": 200}).json()["jobs"]):
        assert time.time() < deadline, "jobs still running"
        time.sleep(0.2)
    time.sleep(1.5)  # a deleted job's slot notices within a second and removes what it wrote


def db_job_ids(server) -> set[str]:
    db = server.settings.data_dir / "jobs.db"
    with sqlite3.connect(db) as con:
        return {r[0] for r in con.execute("SELECT id FROM jobs")} | {r[0] for r in con.execute("SELECT job_id FROM job_events")}


def assert_clean(server, c) -> None:
    """The server lives; after deleting every job, the data dir holds what it held at start-up and no
    DB row names a job."""
    assert c.get("/health").status_code == 200
    wait_idle(c)
    for job in c.get("/jobs", params={"limit": 200}).json()["jobs"]:
        assert c.delete(f"/jobs/{job['id']}").status_code == 204
    wait_idle(c)
    assert db_job_ids(server) == set()
    # a deleted job's process notices within a second, then removes what it wrote: with human bodies a PLY
    # export is ~100 MB, which takes a moment to delete; wait for it (bounded), then the listing must match
    deadline = time.time() + 15
    while listing(server.settings.data_dir) != server.at_start and time.time() < deadline:
        time.sleep(0.25)
    assert listing(server.settings.data_dir) == server.at_start


def events_of(c, job_id: str) -> list[dict]:
    return sse(c, f"/jobs/{job_id}/events")


# -- 1. a native crash in a job ---------------------------------------------------------------------

def test_1_tiny_frames_run_instead_of_killing_the_server(server, c, tmp_path):
    """160x90 frames (and max_side=64) once made OpenCV's HOG corrupt memory and kill the server."""
    tiny = make_video(tmp_path / "tiny.mp4", 12, size=(160, 90), codec="mpeg4")
    for path, options in ((tiny, {"smoothing": "fast"}), (CLIP, {**SHORT, "max_side": 64})):
        r = post_video(c, path, options)
        assert r.status_code == 202, r.text
        assert events_of(c, r.json()["id"])[-1]["event"] == "complete"
    assert_clean(server, c)


def test_1_a_crashing_job_process_fails_that_job_only(server, c):
    """A segfault in the job's process (what a native library's bug does) fails that job with the
    reason; the server, its other streams and the next job go on."""
    job = post_video(c, CLIP, {"smoothing": "fast"}).json()
    first = sse(c, f"/jobs/{job['id']}/events", stop_after=3)
    init = json.loads(next(e["data"] for e in first if e["event"] == "init"))
    pid = init["process"]  # the job's process, a child of the server
    assert pid != os.getpid() and init["worker"].endswith(f":{os.getpid()}")
    os.kill(pid, signal.SIGSEGV)
    rest = sse(c, f"/jobs/{job['id']}/events", headers={"Last-Event-ID": first[-1]["id"]})
    assert rest[-1]["event"] == "error"
    message = json.loads(rest[-1]["data"])["message"]
    assert "SIGSEGV" in message and "sports2d_3s.mp4" in message and "/" not in message
    assert c.get("/health").json()["status"] == "ok"
    again = post_video(c, CLIP, SHORT).json()
    assert events_of(c, again["id"])[-1]["event"] == "complete"
    assert not any((server.settings.tmp_dir / "jobs").iterdir())  # the crashed job's folder is gone
    assert_clean(server, c)


# -- 2. numbers JSON cannot carry -------------------------------------------------------------------

def test_2_non_finite_options_are_refused_and_no_row_breaks_the_list(server, c):
    for text in ('{"focal_px": Infinity}', '{"focal_px": 1e400}', '{"focal_px": NaN}', '{"focal_px": -Infinity}',
                 '{"focal_px": 1e7}', '{"max_frames": 1e30}', '{"max_frames": 99999999999999999999}'):
        r = c.post("/jobs", files={"file": (CLIP.name, CLIP.read_bytes(), "video/mp4")}, data={"options": text})
        assert r.status_code == 422 and "focal_px" in r.json()["detail"] or "max_frames" in r.json()["detail"], (text, r.text)
    assert c.get("/jobs").json()["total"] == 0
    # a row stored by an older version with an infinite value: the list and the job still answer
    from nvwa.service.db import Job

    store = server.app.state.store
    store.add_job(Job(id="0" * 32, status="failed", filename="old.mp4", input_key="jobs/x/input/video.mp4",
                      options={"focal_px": float("inf")}, artifacts=[], summary={"camera": {"focal": float("nan")}}, last_seq=0))
    for url in ("/jobs", "/jobs?status=failed", f"/jobs/{'0' * 32}"):
        r = c.get(url)
        assert r.status_code == 200, (url, r.text)
    assert c.get(f"/jobs/{'0' * 32}").json()["options"]["focal_px"] is None
    assert_clean(server, c)


# -- 4, 5. file names ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["..", ".", "../../jobs.db", "/etc/passwd", "a" * 300 + ".mp4", "\U0001F600" * 70,
                                  "x\\..\\..\\y.mp4", "<script>alert(1)</script>.mp4", "clip\x00.mp4"])
def test_4_5_a_file_name_is_only_a_label(server, c, name):
    r = c.post("/jobs", files={"file": (name, CLIP.read_bytes(), "video/mp4")}, data={"options": json.dumps(SHORT)})
    assert r.status_code == 202, r.text
    job = r.json()
    assert re.fullmatch(r"[A-Za-z0-9._ ()+-]{1,120}", job["filename"]) and not job["filename"].startswith(".")
    assert len(job["filename"].encode()) <= 120
    stored = server.settings.data_dir / "storage" / "jobs" / job["id"] / "input"
    assert [p.name for p in stored.iterdir()] in (["video.mp4"], ["video"])  # named by the server
    events = events_of(c, job["id"])
    assert events[-1]["event"] == "complete", events[-1]
    assert_clean(server, c)


# -- 6, 7. the shape and size of the body -------------------------------------------------------------

def test_6_two_file_parts_are_refused_and_nothing_kept(server, c):
    video = CLIP.read_bytes()
    r = c.post("/jobs", files=[("file", ("a.mp4", video, "video/mp4")), ("file", ("b.mp4", video, "video/mp4"))])
    assert r.status_code == 422 and "more than one 'file'" in r.json()["detail"]
    r = c.post("/jobs", files=[("file", ("a.mp4", video, "video/mp4")), ("options", (None, "{}")), ("options", (None, "{}"))])
    assert r.status_code == 422 and "twice" in r.json()["detail"]
    assert not any((server.settings.tmp_dir / "uploads").glob("*"))
    assert_clean(server, c)


def test_7_a_flood_of_small_fields_counts_toward_the_limit(server, c):
    sent = [0]

    def body():
        yield b"--B\r\n"
        for i in range(200_000):  # 200 MB of fields on a 5 MB server
            chunk = f'Content-Disposition: form-data; name="f{i}"\r\n\r\n'.encode() + b"x" * 1000 + b"\r\n--B\r\n"
            sent[0] += len(chunk)
            yield chunk
        yield b'Content-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n' + CLIP.read_bytes() + b"\r\n--B--\r\n"

    try:
        r = c.post("/jobs", content=body(), headers={"content-type": "multipart/form-data; boundary=B"})
        assert r.status_code == 413, r.text
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pass  # the server answered and closed while we were still sending: also a refusal
    assert sent[0] < 50 * 1024 * 1024, sent[0]  # it stopped reading long before the 200 MB
    many = {f"f{i}": "1" for i in range(40)}
    r = c.post("/jobs", files={"file": (CLIP.name, CLIP.read_bytes(), "video/mp4")}, data=many)
    assert r.status_code == 413 and "form fields" in r.json()["detail"]
    assert_clean(server, c)


# -- 8. numbers the database cannot hold, nesting the parser cannot take -------------------------

def test_8_huge_numbers_and_deep_nesting_are_4xx(server, c):
    for q in ("offset=9223372036854775808", "offset=-1", "limit=100000000000000000000", "status=sideways"):
        r = c.get(f"/jobs?{q}")
        assert r.status_code == 422 and r.json()["detail"].startswith("query"), (q, r.text)
    job = post_video(c, CLIP, SHORT).json()
    for bad in ("99999999999999999999", "9594005059380360", "-1", "1e3", "x" * 40):  # (16 digits: over 2**53)
        r = c.get(f"/jobs/{job['id']}/events", headers={"Last-Event-ID": bad})
        assert r.status_code in (400, 422), (bad, r.status_code)
    assert c.get(f"/jobs/{job['id']}/events", params={"after": 2**70}).status_code == 422
    deep = "[" * 30_000 + "]" * 30_000
    r = c.post("/jobs", files={"file": (CLIP.name, CLIP.read_bytes(), "video/mp4")}, data={"options": '{"exports": ' + deep + "}"})
    assert r.status_code == 422 and "nested" in r.json()["detail"]
    r = c.post("/jobs", files={"file": (CLIP.name, CLIP.read_bytes(), "video/mp4")}, data={"options": "[" * 60_000})
    assert r.status_code == 422
    assert events_of(c, job["id"])[-1]["event"] == "complete"
    assert_clean(server, c)


# -- 9. DELETE at any stage -------------------------------------------------------------------------

@pytest.mark.parametrize("stage", ["frame", "person"])
def test_9_delete_mid_job_ends_the_stream_and_leaves_nothing(server, c, stage):
    """DELETE while it decodes, and when its people are out (the exports are being written): the open
    stream ends with `cancelled` (or `complete` if it won the race), and every file goes, those written
    after the DELETE included."""
    job = post_video(c, CLIP, {"smoothing": "fast", "exports": ["glb", "bvh", "ply", "npz"]}).json()
    seen = []
    with httpx.Client(base_url=server.url, timeout=120) as other:
        with c.stream("GET", f"/jobs/{job['id']}/events") as r:
            lines = r.iter_lines()
            for ev in _events(lines):
                seen.append(ev)
                if ev["event"] == stage and len(seen) < 1000:
                    assert other.delete(f"/jobs/{job['id']}").status_code == 204
                    seen.extend(_events(lines))
                    break
    assert seen[-1]["event"] in ("cancelled", "complete"), seen[-1]
    assert c.get(f"/jobs/{job['id']}").status_code == 404
    assert_clean(server, c)


def _events(lines):
    cur = {}
    for line in lines:
        if line == "":
            if cur:
                yield cur
                cur = {}
        elif not line.startswith(":"):
            k, _, v = line.partition(":")
            cur[k] = v[1:] if v.startswith(" ") else v


# -- 11, 12. the key, the headers, what a response gives away ------------------------------------

def test_12_headers_types_and_no_server_paths(server, c):
    job = c.post("/jobs", files={"file": ("page.html", CLIP.read_bytes(), "text/html")},
                 data={"options": json.dumps({**SHORT, "exports": ["glb", "npz"]})}).json()
    events = events_of(c, job["id"])
    assert events[-1]["event"] == "complete"
    for url in ("/health", "/jobs", f"/jobs/{job['id']}", f"/jobs/{job['id']}/video", "/viewer/static/index.html",
                f"/jobs/{job['id']}/artifacts/scene.json", "/jobs/nope", "/openapi.json"):
        r = c.get(url)
        assert r.headers.get("x-content-type-options") == "nosniff", url
        assert "content-security-policy" in r.headers and "x-frame-options" in r.headers, url
    viewer_csp = c.get("/viewer/static/index.html").headers["content-security-policy"]
    assert "script-src 'self'" in viewer_csp and "unsafe-inline" not in viewer_csp.split("script-src")[1].split(";")[0]
    assert c.get(f"/jobs/{job['id']}/video").headers["content-type"] == "application/octet-stream"  # never text/html
    head = c.head(f"/jobs/{job['id']}/artifacts/scene.glb")
    assert head.status_code == 200 and int(head.headers["content-length"]) > 1000 and head.content == b""
    assert c.head(f"/jobs/{job['id']}/video").status_code == 200
    # no absolute server path in any event, the job, or scene.json
    secrets = (str(server.settings.data_dir), "/tmp/", str(Path.home()))
    texts = [e["data"] for e in events] + [c.get(f"/jobs/{job['id']}").text,
                                           c.get(f"/jobs/{job['id']}/artifacts/scene.json").text]
    for text in texts:
        assert not any(s in text for s in secrets), text[:300]
    bad = post_video(c, CLIP, {"focal_px": 1e-300, "max_frames": 5})  # runs, fails or completes: no path either way
    if bad.status_code == 202:
        last = events_of(c, bad.json()["id"])[-1]
        assert not any(s in last["data"] for s in secrets)
    assert_clean(server, c)


def test_11_the_api_key_guards_every_route_but_health(models_dir, tmp_path):
    settings = Settings(data_dir=tmp_path, models_dir=str(models_dir), api_key="s3cret-key")
    with Hostile(settings) as s, httpx.Client(base_url=s.url, timeout=60) as c:
        assert c.get("/health").status_code == 200
        for url in ("/jobs", "/docs", "/redoc", "/openapi.json", "/viewer", "/viewer/0123456789abcdef",
                    "/viewer/static/index.html", "/viewer/static/viewer.js", "/jobs/x/video"):
            r = c.get(url)
            assert r.status_code == 401, url
            assert r.headers["content-type"] == "application/json" and "API key" in r.json()["detail"]
        for wrong in ("s3cret-ke", "s3cret-key-", "S3CRET-KEY", "\u00e9"):
            assert c.get("/jobs", headers={"X-API-Key": wrong.encode("utf-8")}).status_code == 401
        assert c.get("/jobs", headers={"X-API-Key": "s3cret-key"}).status_code == 200
        assert c.get("/openapi.json", headers={"X-API-Key": "s3cret-key"}).status_code == 200
        # a page in a browser: ?api_key= once -> a HttpOnly SameSite cookie, then the key leaves the address
        r = c.get("/viewer/static/index.html", params={"api_key": "s3cret-key", "src": "/x.glb"})
        assert r.status_code == 303 and r.headers["location"] == "/viewer/static/index.html?src=%2Fx.glb"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert c.get("/viewer/static/index.html").status_code == 200  # the client kept the cookie
        assert c.get("/docs").status_code == 200
        with httpx.Client(base_url=s.url) as fresh:
            assert fresh.get("/viewer/static/index.html", params={"api_key": "wrong"}).status_code == 401
    with pytest.raises(ValueError, match="NVWA_API_KEY is set but empty"):
        Settings(data_dir=tmp_path, api_key="")
    r = subprocess.run([sys.executable, "-m", "nvwa", "serve", "--port", str(free_port())], capture_output=True,
                       text=True, timeout=60, env={**os.environ, "NVWA_API_KEY": "", "NVWA_DATA_DIR": str(tmp_path / "k")})
    assert r.returncode != 0 and "NVWA_API_KEY is set but empty" in r.stderr
    assert len([x for x in r.stderr.splitlines() if x.strip()]) == 1, r.stderr


# -- 13. a video cut short -------------------------------------------------------------------------

def test_13_a_faststart_mp4_cut_in_half_is_422(server, c, tmp_path):
    import av

    fast = tmp_path / "fast.mp4"
    with av.open(str(CLIP)) as src, av.open(str(fast), "w", options={"movflags": "faststart"}) as dst:
        out = dst.add_stream_from_template(src.streams.video[0])
        for p in src.demux(src.streams.video[0]):
            if p.dts is not None:
                p.stream = out
                dst.mux(p)
    data = fast.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # the index comes first: the first frames decode
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    r = post_video(c, half)
    assert r.status_code == 422 and "half.mp4" in r.json()["detail"] and "truncated" in r.json()["detail"]
    assert post_video(c, fast, SHORT).status_code == 202  # the whole file is fine
    assert_clean(server, c)


# -- 10. two servers, one data dir; and the temp dir after a stop ---------------------------------

def test_10_a_second_server_on_the_same_data_dir_is_refused(models_dir, tmp_path):
    port = free_port()
    env = {**os.environ, "NVWA_DATA_DIR": str(tmp_path), "NVWA_MODELS_DIR": str(models_dir)}
    first = subprocess.Popen([sys.executable, "-m", "nvwa", "serve", "--port", str(port)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).json()["models_ready"]:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline and first.poll() is None, "nvwa serve did not start"
            time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=120) as c:
            job = post_video(c, CLIP, {"smoothing": "fast", "max_frames": 60}).json()
            sse(c, f"/jobs/{job['id']}/events", stop_after=3)
            second = subprocess.run([sys.executable, "-m", "nvwa", "serve", "--port", str(free_port())], env=env,
                                    capture_output=True, text=True, timeout=60)
            assert second.returncode != 0 and "in use by another nvwa server" in second.stderr
            assert f"pid {first.pid}" in second.stderr
            assert len([x for x in second.stderr.splitlines() if x.strip()]) == 1, second.stderr
            assert events_of(c, job["id"])[-1]["event"] == "complete"  # the first server's job was not touched
            # the memory a flood of fields costs the server: at most ~40 MB over its size at rest
            rss0 = _rss_mb(first.pid)

            def flood():
                yield b"--B\r\n"
                for i in range(200_000):
                    yield f'Content-Disposition: form-data; name="f{i}"\r\n\r\n'.encode() + b"x" * 1000 + b"\r\n--B\r\n"
            try:
                c.post("/jobs", content=flood(), headers={"content-type": "multipart/form-data; boundary=B"})
            except httpx.HTTPError:
                pass
            assert _rss_mb(first.pid) - rss0 < 40
            assert c.delete(f"/jobs/{job['id']}").status_code == 204
        first.send_signal(signal.SIGTERM)
        first.wait(60)
        assert list((tmp_path / "tmp").iterdir()) == []  # the server's temp dir is empty once it has stopped
        assert not list(Path("/tmp").glob(f"nvwa-{job['id'][:8]}-*"))
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_stale_temp_files_of_a_killed_server_are_cleaned_at_start(models_dir, tmp_path):
    stale = tmp_path / "tmp" / "jobs" / "job-deadbeef"
    stale.mkdir(parents=True)
    (stale / "input.mp4").write_bytes(b"left by a SIGKILLed server")
    (tmp_path / "tmp" / "uploads").mkdir()
    (tmp_path / "tmp" / "uploads" / "upload-x").write_bytes(b"half an upload")
    settings = Settings(data_dir=tmp_path, models_dir=str(models_dir))
    with Hostile(settings) as s, httpx.Client(base_url=s.url) as c:
        assert c.get("/health").status_code == 200
        assert [p for p in (tmp_path / "tmp").rglob("*") if p.is_file()] == []
