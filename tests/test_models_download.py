"""`nvwa models download` / `nvwa models list` against a local stand-in for the Hugging Face Hub.

The real CLI runs in a subprocess with HF_ENDPOINT pointing at an http.server on 127.0.0.1 that answers
the endpoints huggingface_hub uses: HEAD/GET ``/{repo}/resolve/{revision}/{file}`` (with the
``X-Repo-Commit``, ``ETag`` and ``Content-Length`` headers the client requires),
``/api/models/{repo}/revision/{rev}`` and ``/api/models/{repo}/tree/{rev}`` (whole-repository
downloads), and the Hub's refusals: 401 without the right bearer token, 403 ``X-Error-Code: GatedRepo``,
404 ``X-Error-Code: RepoNotFound`` / ``EntryNotFound``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import free_port

from nvwa.errors import InputError, ModelMissingError
from nvwa.models import checkpoint_dir, checkpoint_path
from nvwa.models.store import read_manifest

TOKEN = "hf_NvwaTestToken_7f3a9c1e5b2d"  # distinctive: must never show up in the CLI's output
VITH = "facebook/sam-3d-body-vith"
AMODAL = "kaihuac/diffusion-vas-amodal-segmentation"


def torch_zip(payload: bytes = b"weights") -> bytes:
    """A small zip shaped like torch.save's format (archive/data.pkl + archive/data/0)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:  # fixed dates: the same bytes whenever it is built
        z.writestr(zipfile.ZipInfo("archive/data.pkl", (2025, 1, 1, 0, 0, 0)), pickle.dumps({"w": 0}, protocol=2))
        z.writestr(zipfile.ZipInfo("archive/data/0", (2025, 1, 1, 0, 0, 0)), payload)
    return buf.getvalue()


def vith_files(ckpt: bytes | None = None) -> dict[str, bytes]:
    return {
        "model.ckpt": ckpt if ckpt is not None else torch_zip(),
        "model_config.yaml": b"MODEL:\n  BACKBONE:\n    TYPE: vit_h\n  IMAGE_SIZE: [256, 192]\n",
        "assets/mhr_model.pt": pickle.dumps({"mhr": [1, 2, 3]}, protocol=4),
        "README.md": b"# not requested: only the listed files are downloaded\n",
    }


def safetensors(meta: dict) -> bytes:
    header = json.dumps(meta).encode()
    return len(header).to_bytes(8, "little") + header + b"\0" * 16


class FakeHub:
    """Repositories in memory; records every request as (method, path, Authorization header)."""

    def __init__(self):
        self.repos: dict[str, dict[str, bytes]] = {}
        self.commits: dict[str, str] = {}
        self.gated: set[str] = set()  # repos this token has not been granted yet
        self.requests: list[tuple[str, str, str | None]] = []
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub.answer(self, body=False)

            def do_GET(self):
                hub.answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, repo: str, files: dict[str, bytes]) -> str:
        self.repos[repo] = files
        self.commits[repo] = hashlib.sha1(repr(sorted(files.items())).encode()).hexdigest()
        return self.commits[repo]

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def count(self, kind: str = "") -> int:
        with self.lock:
            return sum(kind in path for _, path, _ in self.requests)

    @staticmethod
    def send(h, status: int, data: bytes = b"", headers: dict | None = None, body: bool = True):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if body and data:
            h.wfile.write(data)

    def refuse(self, h, status: int, code: str | None, message: str, body: bool):
        headers = {"X-Error-Message": message, "Content-Type": "application/json"}
        if code:
            headers["X-Error-Code"] = code
        self.send(h, status, json.dumps({"error": message}).encode(), headers, body)

    def answer(self, h, body: bool):
        path = unquote(urlsplit(h.path).path)
        with self.lock:
            self.requests.append((h.command, path, h.headers.get("Authorization")))
        api = path.startswith("/api/models/")
        parts = path.removeprefix("/api/models/").split("/") if api else path.lstrip("/").split("/")
        repo = "/".join(parts[:2])
        if repo not in self.repos:
            return self.refuse(h, 404, "RepoNotFound", "Repository not found", body)
        if h.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.refuse(h, 401, None, "Invalid credentials in Authorization header", body)
        files, commit = self.repos[repo], self.commits[repo]
        if api and parts[2] == "revision":
            info = {"id": repo, "sha": commit, "siblings": [{"rfilename": f} for f in files]}
            return self.send(h, 200, json.dumps(info).encode(), {"Content-Type": "application/json"}, body)
        if api and parts[2] == "tree":
            tree = [{"type": "file", "path": f, "size": len(d), "oid": hashlib.sha1(d).hexdigest()}
                    for f, d in files.items()]
            return self.send(h, 200, json.dumps(tree).encode(), {"Content-Type": "application/json"}, body)
        if repo in self.gated:
            return self.refuse(h, 403, "GatedRepo", f"Access to model {repo} is restricted and you are not in the "
                               f"authorized list. Visit https://huggingface.co/{repo} to ask for access.", body)
        if len(parts) < 5 or parts[2] != "resolve":
            return self.refuse(h, 404, None, "Not found", body)
        name = "/".join(parts[4:])
        if name not in files:
            return self.refuse(h, 404, "EntryNotFound", f"{name} does not exist on {parts[3]}", body)
        data = files[name]
        headers = {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                   "Content-Type": "application/octet-stream"}
        self.send(h, 200, data, headers, body)


@pytest.fixture
def hub():
    h = FakeHub()
    h.publish(VITH, vith_files())
    yield h
    h.close()


def nvwa(*args: str, endpoint: str, token: str | None = TOKEN, home: Path) -> subprocess.CompletedProcess:
    """The real CLI in a fresh interpreter, pointed at ``endpoint``; checks the token never shows."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "HUGGING_FACE_")) and k not in ("NVWA_CHECKPOINTS_DIR", "COLUMNS")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home), HF_HUB_DISABLE_PROGRESS_BARS="1",
               HF_HUB_DISABLE_TELEMETRY="1", COLUMNS="200")
    if token:
        env["HF_TOKEN"] = token
    done = subprocess.run([sys.executable, "-m", "nvwa", *args], check=False, capture_output=True, text=True, env=env,
                          timeout=60)
    assert TOKEN not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


def one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("nvwa: ")
    return lines[0]


def leftovers(ck: Path) -> list[str]:
    return sorted(p.name for p in ck.iterdir()) if ck.exists() else []


def test_download_verifies_records_and_skips_a_verified_copy(hub, tmp_path):
    ck = tmp_path / "ck"
    done = nvwa("models", "download", "sam-3d-body-vith", "--checkpoints-dir", str(ck), endpoint=hub.url, home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "downloaded and verified" in done.stdout
    folder = ck / "sam-3d-body-vith"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "assets/mhr_model.pt", "model.ckpt", "model_config.yaml"]  # no README, no huggingface_hub bookkeeping
    assert leftovers(ck) == ["manifest.json", "sam-3d-body-vith"]  # no temporary folder left
    entry = read_manifest(ck)["sam-3d-body-vith"]
    assert entry["repo"] == VITH and entry["revision"] == hub.commits[VITH]
    for rel, data in vith_files().items():
        if rel != "README.md":
            assert (folder / rel).read_bytes() == data
            assert entry["files"][rel] == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    # the token went to the Hub as a bearer token, on every request
    assert hub.requests and {auth for _, _, auth in hub.requests} == {f"Bearer {TOKEN}"}
    assert hub.count("/resolve/") >= 3

    before = len(hub.requests)
    again = nvwa("models", "download", "sam-3d-body-vith", "--checkpoints-dir", str(ck), endpoint=hub.url, home=tmp_path)
    assert again.returncode == 0 and "present and verified" in again.stdout
    assert len(hub.requests) == before  # nothing downloaded, not even a HEAD

    listed = nvwa("models", "list", "--checkpoints-dir", str(ck), endpoint=hub.url, home=tmp_path)
    assert listed.returncode == 0
    rows = {line.split("│")[1].strip(): line for line in listed.stdout.splitlines() if line.count("│") > 3}
    assert "verified" in rows["sam-3d-body-vith"] and VITH in rows["sam-3d-body-vith"]
    assert "missing" in rows["sam3"] and "missing" in rows["depth-anything-v2-large"] and "blazepose" in rows

    assert checkpoint_path("sam-3d-body-vith", "model.ckpt", ck) == folder / "model.ckpt"
    tampered = torch_zip(b"weightz")  # a valid zip of the same size, but not the recorded one
    assert len(tampered) == len(vith_files()["model.ckpt"])
    (folder / "model.ckpt").write_bytes(tampered)
    with pytest.raises(ModelMissingError, match="sha256.*nvwa models download sam-3d-body-vith --force"):
        checkpoint_path("sam-3d-body-vith", "model.ckpt", ck)
    listed = nvwa("models", "list", "--checkpoints-dir", str(ck), endpoint=hub.url, home=tmp_path)
    assert "corrupt" in next(line for line in listed.stdout.splitlines() if "sam-3d-body-vith" in line)


def test_whole_repository_download(hub, tmp_path):
    files = {"model_index.json": b'{"_class_name": "StableVideoDiffusionPipeline"}',
             "unet/config.json": b'{"in_channels": 8}',
             "unet/diffusion_pytorch_model.safetensors": safetensors({"w": {"dtype": "F32", "shape": [4],
                                                                             "data_offsets": [0, 16]}}),
             ".gitattributes": b"*.safetensors filter=lfs\n"}
    hub.publish(AMODAL, files)
    ck = tmp_path / "ck"
    done = nvwa("models", "download", "diffusion-vas-amodal", "--checkpoints-dir", str(ck), endpoint=hub.url, home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert hub.count("/tree/") >= 1
    entry = read_manifest(ck)["diffusion-vas-amodal"]
    assert sorted(entry["files"]) == sorted(files) and entry["revision"] == hub.commits[AMODAL]
    assert checkpoint_dir("diffusion-vas-amodal", ck) == ck / "diffusion-vas-amodal"
    assert (ck / "diffusion-vas-amodal" / "unet" / "config.json").read_bytes() == files["unet/config.json"]


def test_without_a_token_one_line_names_hf_token(hub, tmp_path):
    ck = tmp_path / "ck"
    done = nvwa("models", "download", "sam-3d-body-vith", "--checkpoints-dir", str(ck), endpoint=hub.url, home=tmp_path,
                token=None)
    line = one_error_line(done)
    assert "sam-3d-body-vith" in line and "HF_TOKEN" in line and "401" in line
    assert hub.requests and all(auth is None for _, _, auth in hub.requests)
    assert leftovers(ck) == []


def test_a_wrong_token_is_refused_without_echoing_it(hub, tmp_path):
    wrong = "hf_WrongTokenShouldNotLeak_42"
    done = nvwa("models", "download", "sam-3d-body-vith", "--checkpoints-dir", str(tmp_path / "ck"), endpoint=hub.url,
                home=tmp_path, token=wrong)
    line = one_error_line(done)
    assert "refused the token" in line and "HF_TOKEN" in line and wrong not in done.stdout + done.stderr
    assert {auth for _, _, auth in hub.requests} == {f"Bearer {wrong}"}


def test_gated_repository_says_where_to_request_access(hub, tmp_path):
    hub.gated.add(VITH)
    ck = tmp_path / "ck"
    done = nvwa("models", "download", "sam-3d-body-vith", "--checkpoints-dir", str(ck), endpoint=hub.url, home=tmp_path)
    line = one_error_line(done)
    assert "sam-3d-body-vith" in line and f"request access at https://huggingface.co/{VITH}" in line
    assert leftovers(ck) == []


def test_missing_file_is_a_404_naming_it(hub, tmp_path):
    files = vith_files()
    del files["assets/mhr_model.pt"]
    hub.publish(VITH, files)
    ck = tmp_path / "ck"
    line = one_error_line(nvwa("models", "download", "sam-3d-body-vith", "--checkpoints-dir", str(ck),
                               endpoint=hub.url, home=tmp_path))
    assert "assets/mhr_model.pt" in line and "404" in line and "sam-3d-body-vith" in line
    assert leftovers(ck) == []  # two files had arrived: they went with the temporary folder
    line = one_error_line(nvwa("models", "download", "sam-3d-body-dinov3", "--checkpoints-dir", str(ck),
                               endpoint=hub.url, home=tmp_path))  # a repository the Hub does not have
    assert "the repository facebook/sam-3d-body-dinov3 was not found" in line and "404" in line


def test_corrupt_download_is_refused_and_the_good_copy_kept(hub, tmp_path):
    ck = tmp_path / "ck"
    args = ("models", "download", "sam-3d-body-vith", "--checkpoints-dir", str(ck))
    hub.publish(VITH, vith_files(ckpt=b"<html>502 Bad Gateway</html>"))  # neither a zip nor a pickle
    line = one_error_line(nvwa(*args, endpoint=hub.url, home=tmp_path))
    assert "sam-3d-body-vith" in line and "model.ckpt" in line and "refused" in line
    assert leftovers(ck) == []

    good = vith_files()
    hub.publish(VITH, good)
    assert nvwa(*args, endpoint=hub.url, home=tmp_path).returncode == 0
    manifest = (ck / "manifest.json").read_bytes()
    hub.publish(VITH, vith_files(ckpt=b"\x00not a checkpoint"))
    line = one_error_line(nvwa(*args, "--force", endpoint=hub.url, home=tmp_path))
    assert "model.ckpt" in line and "refused" in line
    assert (ck / "sam-3d-body-vith" / "model.ckpt").read_bytes() == good["model.ckpt"]
    assert (ck / "manifest.json").read_bytes() == manifest
    assert leftovers(ck) == ["manifest.json", "sam-3d-body-vith"]
    assert checkpoint_path("sam-3d-body-vith", "model_config.yaml", ck).read_bytes() == good["model_config.yaml"]


def test_unreachable_hub_is_one_line(tmp_path):
    ck = tmp_path / "ck"
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    line = one_error_line(nvwa("models", "download", "--all", "--checkpoints-dir", str(ck), endpoint=endpoint,
                               home=tmp_path))
    assert "sam3" in line and "cannot reach" in line and endpoint in line
    assert leftovers(ck) == []


def test_unknown_model_lists_the_known_ones(tmp_path):
    done = nvwa("models", "download", "sam4", endpoint="http://127.0.0.1:9", home=tmp_path)
    line = one_error_line(done)
    assert "sam4" in line and "sam3" in line and "sam-3d-body-dinov3" in line and "depth-anything-v2-large" in line


def test_an_unwritable_checkpoints_dir_is_one_line(hub, tmp_path):
    (tmp_path / "a_file").write_text("not a directory")
    ck = tmp_path / "a_file" / "ck"
    line = one_error_line(nvwa("models", "download", "sam-3d-body-vith", "--checkpoints-dir", str(ck),
                               endpoint=hub.url, home=tmp_path))
    assert str(ck) in line and "cannot write" in line
    assert hub.requests == []  # refused before asking the Hub for anything


def test_checkpoint_path_names_the_download_command(tmp_path):
    with pytest.raises(ModelMissingError, match="run `nvwa models download sam-3d-body-dinov3`"):
        checkpoint_path("sam-3d-body-dinov3", "model.ckpt", tmp_path)
    with pytest.raises(ModelMissingError, match="nvwa models download diffusion-vas-amodal"):
        checkpoint_dir("diffusion-vas-amodal", tmp_path)
    (tmp_path / "sam3").mkdir()
    (tmp_path / "sam3" / "sam3.pt").write_bytes(torch_zip())  # copied in by hand: not in the manifest
    with pytest.raises(ModelMissingError, match="not recorded .* `nvwa models download sam3 --force`"):
        checkpoint_path("sam3", "sam3.pt", tmp_path)
    with pytest.raises(InputError, match="unknown model"):
        checkpoint_path("sam4", "sam4.pt", tmp_path)
