"""The GPU path's gated checkpoints: what they are, ``nvwa models download``, and the load-time lookup.

The weights of SAM 3 and SAM 3D Body (and the optional occlusion models) live in gated Hugging Face
repositories. Nothing downloads them at import or at run time: ``nvwa models download`` is the only
code that reaches the Hub, and :func:`checkpoint_path` is what a GPU backend calls at load time.

Layout: each model in ``<checkpoints dir>/<name>/`` (the repository's own file layout), and the
sha256 + size of every file, the repository and the commit it came from in
``<checkpoints dir>/manifest.json`` (the same manifest format as the BlazePose bundle's). The
checkpoints dir is ``--checkpoints-dir``, else ``$NVWA_CHECKPOINTS_DIR``, else ``./checkpoints``.

A download goes to a hidden folder inside the checkpoints dir, is verified there (every expected
file present and non-empty; torch files a zip or a pickle; JSON and YAML parse) and only then
renamed into place, so an interrupted, refused or corrupt download leaves nothing behind and a
previous good copy untouched. The Hugging Face token (``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN`` or
the ``hf auth login`` cache) is handed to huggingface_hub and never printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from nvwa.errors import InputError, ModelMissingError, NvwaError
from nvwa.models.store import read_manifest, record_in_manifest, sha256_file

CHECKPOINTS_ENV = "NVWA_CHECKPOINTS_DIR"
DOWNLOAD_COMMAND = "nvwa models download"
HUB_URL = "https://huggingface.co"


@dataclass(frozen=True)
class GatedModel:
    """One checkpoint repository. ``files`` empty: the whole repository (a diffusers layout)."""

    name: str
    repo_id: str
    files: tuple[str, ...]
    purpose: str
    licence: str
    needed_by: str  # which stage and backend loads it
    group: str  # "default" (in --all), "alternative", or "occlusion" (in --all --with-occlusion)

    @property
    def url(self) -> str:
        return f"{HUB_URL}/{self.repo_id}"

    @property
    def whole_repo(self) -> bool:
        return not self.files


_SAM3D_BODY_FILES = ("model.ckpt", "model_config.yaml", "assets/mhr_model.pt")
_OCCLUSION = "occlusion stage (optional)"

GATED_MODELS: tuple[GatedModel, ...] = (
    GatedModel("sam3", "facebook/sam3", ("sam3.pt", "config.json"),
               "SAM 3 video tracker (masklets with persistent ids)", "SAM License",
               "tracking: sam3 (GPU default)", "default"),
    GatedModel("sam-3d-body-dinov3", "facebook/sam-3d-body-dinov3", _SAM3D_BODY_FILES,
               "SAM 3D Body, DINOv3 backbone (840M params): the default body model", "SAM License",
               "body: sam3d_body (GPU default)", "default"),
    GatedModel("sam-3d-body-vith", "facebook/sam-3d-body-vith", _SAM3D_BODY_FILES,
               "SAM 3D Body, ViT-H backbone (631M params): the smaller alternative", "SAM License",
               "body: sam3d_body (alternative)", "alternative"),
    GatedModel("diffusion-vas-amodal", "kaihuac/diffusion-vas-amodal-segmentation", (),
               "Diffusion-VAS amodal segmentation (occluded parts of a mask)", "see the model card",
               _OCCLUSION, "occlusion"),
    GatedModel("diffusion-vas-completion", "kaihuac/diffusion-vas-content-completion", (),
               "Diffusion-VAS content completion (occluded pixels)", "see the model card",
               _OCCLUSION, "occlusion"),
    GatedModel("depth-anything-v2-large", "depth-anything/Depth-Anything-V2-Large", ("depth_anything_v2_vitl.pth",),
               "Depth Anything V2 Large (depth order for the occlusion stage)", "CC-BY-NC-4.0",
               _OCCLUSION, "occlusion"),
)
_BY_NAME = {m.name: m for m in GATED_MODELS}

_TORCH_SUFFIXES = (".pt", ".ckpt", ".pth", ".bin")
_CHECKED_SUFFIXES = _TORCH_SUFFIXES + (".json", ".yaml", ".yml", ".safetensors")
_COMMIT = re.compile(r"[0-9a-f]{40}")


class DownloadError(NvwaError):
    """A checkpoint could not be downloaded; the message names the model and what to do."""


class CorruptCheckpointError(DownloadError):
    """A downloaded file is not what its name says (an HTML error page, a truncated file)."""


def default_checkpoints_dir() -> Path:
    """``$NVWA_CHECKPOINTS_DIR``, else ``<user data dir>/checkpoints`` (found from any working directory)."""
    from nvwa.models.store import user_data_dir

    env = os.environ.get(CHECKPOINTS_ENV)
    return Path(env).expanduser() if env else user_data_dir() / "checkpoints"


def _dir(checkpoints_dir: str | os.PathLike | None) -> Path:
    return Path(checkpoints_dir) if checkpoints_dir is not None else default_checkpoints_dir()


def get_model(name: str) -> GatedModel:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise InputError(name, f"unknown model; known models: {', '.join(_BY_NAME)}") from None


def select_models(names: list[str], *, all_default: bool = False, with_occlusion: bool = False) -> list[GatedModel]:
    """``NAME ...`` or ``--all`` (the GPU path's default set), plus the occlusion models with ``--with-occlusion``."""
    if names and all_default:
        raise InputError("--all", "give either --all or model names, not both")
    if not names and not all_default and not with_occlusion:
        raise InputError("nvwa models download", f"name the models or pass --all; known models: {', '.join(_BY_NAME)}")
    chosen = [get_model(n) for n in names]
    groups = {"default"} if all_default else set()
    if with_occlusion:
        groups.add("occlusion")
    chosen += [m for m in GATED_MODELS if m.group in groups]
    return list(dict.fromkeys(chosen))  # drop repeats, keep the order


# ---------------------------------------------------------------------------------------------- checks


def file_problem(path: Path, *, may_be_empty: bool = False) -> str | None:
    """What is wrong with ``path`` given its suffix (torch: a zip or a pickle; JSON/YAML/safetensors: parse), or None."""
    size = path.stat().st_size
    suffix = path.suffix.lower()
    if size == 0:
        return None if may_be_empty and suffix not in _CHECKED_SUFFIXES else "is empty"
    with open(path, "rb") as f:
        head = f.read(16)
    if suffix in _TORCH_SUFFIXES:
        if not (head[:1] == b"\x80" or zipfile.is_zipfile(path)):
            return f"is neither a torch zip nor a pickle (starts with {head[:8]!r})"
    elif suffix == ".safetensors":
        n = int.from_bytes(head[:8], "little")
        try:
            if len(head) < 8 or n > size - 8:
                raise ValueError("its header is longer than the file")
            with open(path, "rb") as f:
                f.seek(8)
                json.loads(f.read(n))
        except (ValueError, UnicodeDecodeError) as exc:
            return f"is not a safetensors file ({exc})"
    elif suffix == ".json":
        try:
            json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            return f"is not valid JSON ({exc})"
    elif suffix in (".yaml", ".yml"):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return "is not UTF-8 text"
        try:
            import yaml  # PyYAML comes with huggingface_hub; without it, UTF-8 text is the check
        except ImportError:
            return None
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as exc:
            return f"is not valid YAML ({str(exc).splitlines()[0]})"
    return None


def _files_of(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _verify_download(model: GatedModel, folder: Path) -> dict[str, dict]:
    """Check a fresh download; returns the manifest's ``files`` entry (sha256 + size of each file)."""
    shutil.rmtree(folder / ".cache", ignore_errors=True)  # huggingface_hub's bookkeeping of a local_dir download
    names = list(model.files) or _files_of(folder)
    if not names:
        raise CorruptCheckpointError(f"{model.name}: the download holds no files")
    entry = {}
    for rel in names:
        path = folder / rel
        if not path.is_file():
            raise CorruptCheckpointError(f"{model.name}: {rel} is missing from the download")
        problem = file_problem(path, may_be_empty=model.whole_repo)
        if problem:
            raise CorruptCheckpointError(f"{model.name}: the downloaded {rel} {problem}; refused, nothing was "
                                         f"changed (try `{DOWNLOAD_COMMAND} {model.name}` again)")
        entry[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    return entry


# ---------------------------------------------------------------------------------------------- status


@dataclass(frozen=True)
class ModelStatus:
    model: GatedModel
    state: str  # "verified", "missing", "unverified" (files there, not in the manifest) or "corrupt"
    size: int  # bytes on disk
    detail: str  # why it is not verified


_VERIFIED: dict[tuple, bool] = {}  # (path, size, mtime_ns, sha256) already hashed in this process


def _matches(path: Path, want: dict) -> bool:
    st = path.stat()
    if st.st_size != want.get("size"):
        return False
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, want.get("sha256"))
    if key not in _VERIFIED:
        _VERIFIED[key] = sha256_file(path) == want.get("sha256")
    return _VERIFIED[key]


def model_status(model: GatedModel, checkpoints_dir: str | os.PathLike | None = None) -> ModelStatus:
    """Is ``model`` in the checkpoints dir and does every file match the manifest (sha256 of each file)?"""
    root = _dir(checkpoints_dir)
    folder = root / model.name
    if not folder.is_dir():
        return ModelStatus(model, "missing", 0, "not downloaded")
    entry = read_manifest(root).get(model.name)
    files = dict(entry.get("files", {})) if isinstance(entry, dict) else {}
    size = sum((folder / rel).stat().st_size for rel in _files_of(folder))
    if not files:
        return ModelStatus(model, "unverified", size, f"not recorded in {root / 'manifest.json'}")
    for rel in list(model.files) + sorted(files):
        path = folder / rel
        if not path.is_file():
            return ModelStatus(model, "corrupt", size, f"{rel} is missing")
        if rel not in files:
            return ModelStatus(model, "unverified", size, f"{rel} is not recorded in {root / 'manifest.json'}")
        if not _matches(path, files[rel]):
            return ModelStatus(model, "corrupt", size, f"{rel} does not match its recorded sha256/size")
    return ModelStatus(model, "verified", size, "")


def checkpoint_path(name: str, filename: str, checkpoints_dir: str | os.PathLike | None = None) -> Path:
    """The verified ``filename`` of checkpoint ``name``, or :class:`ModelMissingError` naming the download command.

    What a GPU backend calls at load time, e.g. ``checkpoint_path("sam-3d-body-dinov3", "model.ckpt")``.
    The file's sha256 is checked against the manifest (once per process while the file is unchanged).
    """
    model = get_model(name)
    root = _dir(checkpoints_dir)
    path = root / name / filename
    fix = f"run `{DOWNLOAD_COMMAND} {name}` (needs HF_TOKEN and access granted at {model.url})"
    if not path.is_file():
        raise ModelMissingError(f"{path}: {name} checkpoint not found; {fix}")
    want = (read_manifest(root).get(name) or {}).get("files", {}).get(filename)
    if want is None:
        raise ModelMissingError(f"{path}: not recorded in {root / 'manifest.json'}; run `{DOWNLOAD_COMMAND} {name} --force`")
    if not _matches(path, want):
        raise ModelMissingError(f"{path}: does not match its recorded sha256/size; run `{DOWNLOAD_COMMAND} {name} --force`")
    return path


def checkpoint_dir(name: str, checkpoints_dir: str | os.PathLike | None = None) -> Path:
    """The verified folder of checkpoint ``name`` (every recorded file checked): for whole-repository models."""
    model = get_model(name)
    status = model_status(model, checkpoints_dir)
    if status.state != "verified":
        folder = _dir(checkpoints_dir) / name
        again = " --force" if status.state != "missing" else ""
        raise ModelMissingError(f"{folder}: {name} {status.detail}; run `{DOWNLOAD_COMMAND} {name}{again}`")
    return _dir(checkpoints_dir) / name


# ---------------------------------------------------------------------------------------------- download


@dataclass(frozen=True)
class Downloaded:
    model: GatedModel
    path: Path
    fetched: bool  # False: a verified copy was already there
    revision: str | None
    size: int


def _hub():
    try:
        import huggingface_hub
    except ImportError:
        raise NvwaError(f"`{DOWNLOAD_COMMAND}` needs huggingface_hub: pip install 'nvwa[models]'") from None
    return huggingface_hub


def _token(hf) -> str | None:
    """HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the ``hf auth login`` cache (huggingface_hub's own order)."""
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or hf.get_token()


def _fetch(hf, model: GatedModel, dest: Path, token: str | None) -> str | None:
    """Download ``model`` into ``dest``; returns the commit it came from.

    The revision is resolved first with one plain request (no retries), so a refusal or an unreachable
    Hub is reported at once, and every file then comes from that same commit.
    """
    if model.whole_repo:
        commit = hf.HfApi(token=token).repo_info(model.repo_id, revision="main").sha
        hf.snapshot_download(model.repo_id, revision=commit, local_dir=dest, token=token)
        return commit
    meta = hf.get_hf_file_metadata(hf.hf_hub_url(model.repo_id, model.files[0]), token=token)
    commit = meta.commit_hash
    pinned = commit if commit and _COMMIT.fullmatch(commit) else None
    for rel in model.files:
        hf.hf_hub_download(model.repo_id, rel, revision=pinned, local_dir=dest, token=token)
    return commit


def _chain(exc: BaseException | None):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _is_network_error(exc: BaseException) -> bool:
    name = type(exc).__name__
    module = type(exc).__module__.split(".")[0]
    return (isinstance(exc, (ConnectionError, TimeoutError))
            or name == "LocalEntryNotFoundError"  # huggingface_hub: "cannot reach the Hub and no cached copy"
            or (module in ("httpx", "httpx2", "httpcore", "requests", "urllib3")
                and any(w in name for w in ("Connect", "Timeout", "Network", "Proxy"))))


def explain(model: GatedModel, exc: BaseException, *, had_token: bool, endpoint: str) -> DownloadError | None:
    """The one-line error for a failed download, or None when ``exc`` is not a Hub or network failure."""
    chain = list(_chain(exc))
    http = next((e for e in chain if getattr(getattr(e, "response", None), "status_code", None) is not None), None)
    if http is not None:
        status = http.response.status_code
        gated = type(http).__name__ == "GatedRepoError" or http.response.headers.get("X-Error-Code") == "GatedRepo"
        if status == 401:
            why = "no Hugging Face token was found" if not had_token else "the Hugging Face Hub refused the token"
            extra = f" whose account has been granted access at {model.url}" if gated else ""
            return DownloadError(f"{model.name}: {why} (HTTP 401); set HF_TOKEN to a Hugging Face read token{extra}")
        if status == 403 or gated:
            return DownloadError(f"{model.name}: access to {model.repo_id} has not been granted to this token yet "
                                 f"(HTTP {status}); request access at {model.url} and wait for approval")
        if status == 404:
            url = str(getattr(http.response, "url", "") or "")
            missing_file = "/resolve/" in url and (type(http).__name__ == "RemoteEntryNotFoundError"
                                                   or http.response.headers.get("X-Error-Code") == "EntryNotFound")
            what = f"{unquote(url.split('/resolve/', 1)[1].split('/', 1)[1])} in {model.repo_id}" if missing_file \
                else f"the repository {model.repo_id}"
            return DownloadError(f"{model.name}: {what} was not found on {endpoint} (HTTP 404); "
                                 f"check the repository name and HF_ENDPOINT")
        return DownloadError(f"{model.name}: {endpoint} answered HTTP {status} for {model.repo_id}; try again later")
    if any(type(e).__name__ == "FileMetadataError" for e in chain):
        return DownloadError(f"{model.name}: {endpoint} does not answer like the Hugging Face Hub (no commit or ETag "
                             f"headers); check HF_ENDPOINT and any proxy")
    if any(_is_network_error(e) for e in chain):
        return DownloadError(f"{model.name}: cannot reach the Hugging Face Hub at {endpoint}; "
                             f"check the network connection (and HF_ENDPOINT / proxy settings)")
    return None


def _put_in_place(tmp: Path, dest: Path) -> None:
    """Swap the verified ``tmp`` folder in for ``dest`` (renames within one directory)."""
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        os.replace(dest, old / dest.name)
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def download(model: GatedModel, checkpoints_dir: str | os.PathLike | None = None, *, force: bool = False,
             token: str | None = None) -> Downloaded:
    """Put a verified copy of ``model`` in ``<checkpoints dir>/<name>/`` and record it in the manifest.

    Already there and verified: nothing is downloaded unless ``force``. Hub and network failures are
    raised as :class:`DownloadError` (one line naming the model and what to do).
    """
    root = _dir(checkpoints_dir)
    if not force:
        status = model_status(model, root)
        if status.state == "verified":
            entry = read_manifest(root)[model.name]
            return Downloaded(model, root / model.name, False, entry.get("revision"), status.size)
    hf = _hub()
    token = token or _token(hf)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{model.name}.partial-", dir=root))
    except OSError as exc:
        raise DownloadError(f"{root}: cannot write the {model.name} checkpoint there ({exc.strerror})") from exc
    try:
        try:
            revision = _fetch(hf, model, tmp, token)
        except Exception as exc:
            error = explain(model, exc, had_token=bool(token), endpoint=hf.constants.ENDPOINT)
            if error is None and isinstance(exc, OSError) and exc.errno is not None:  # a full disk, say
                error = DownloadError(f"{model.name}: {exc.strerror} while writing into {root}")
            if error is None:
                raise
            raise error from exc
        files = _verify_download(model, tmp)
        _put_in_place(tmp, root / model.name)
        record_in_manifest(root, model.name, {"repo": model.repo_id, "revision": revision, "files": files})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Downloaded(model, root / model.name, True, revision, sum(f["size"] for f in files.values()))
