#!/usr/bin/env bash
# Set up Nvwa's GPU path (SAM 3 tracking + SAM 3D Body) on a RunPod GPU pod: Ubuntu with the NVIDIA driver there.
#
#   bash setup_runpod.sh [--dry-run] [--checkpoints-dir DIR] [--skip-weights]
#
#   --dry-run              print each command it would run ("+ ..."); change nothing
#   --checkpoints-dir DIR  where the gated weights go (default /workspace/checkpoints, on the pod's volume)
#   --skip-weights         install only (no Hugging Face token needed)
#
# Environment: HF_TOKEN (or HUGGING_FACE_HUB_TOKEN), a Hugging Face token of an account that was granted access to
# facebook/sam3 and facebook/sam-3d-body-dinov3 (never printed); NVWA_VENV (default /workspace/nvwa-venv);
# NVWA_PYTHON (default python3.12); NVWA_SRC_DIR (sam-3d-body's source, default /workspace/nvwa-src);
# TORCH_HOME (default /workspace/torch: DINOv3's hub code, pinned).
#
# Idempotent: the venv is made once; packages are installed again only when pyproject.toml or the pins below change
# (a stamp in the venv); sources are fetched once per ref; `nvwa models download` skips checkpoints already there.
# Exit status: 0 done, 2 weights wanted but no token, 3 the machine lacks something, 64 bad arguments.
set -euo pipefail

# Pins: the Dockerfile's build ARGs carry the same values (tests/test_deploy.py checks that they agree).
TORCH_VERSION=2.8.0
TORCHVISION_VERSION=0.23.0
TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
SAM3_VERSION=0.1.4
SAM3D_BODY_REF=b5c765a0d89d789985e186d396315e7590887b94
DINOV3_REF=91ffb6803c74aeb6927209b82560142743763dd7
EXTRAS=server,s3,queue,models,gpu
# Beside sam3: open_clip_torch for SAM 3's BPE vocabulary, which the sam3 wheel lacks (open_clip ships the identical
# file, where Nvwa looks for it), and sam-3d-body's inference imports (its repository also lists training and demo
# tools; detectron2 and opencv-python are left out: our tracker gives the boxes and masks, and opencv-python would
# replace the headless cv2).
MODEL_DEPS=(open_clip_torch==3.3.0 pytorch-lightning==2.6.6 yacs==0.1.8 omegaconf==2.4.0 roma==1.8.0 timm==1.0.31
            einops==0.8.2 braceexpand==0.1.7 mhr==1.0.1 termcolor==3.3.0)

usage() { sed -n '4,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
say() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { local status=$1; shift; printf 'setup_runpod.sh: %s\n' "$*" >&2; exit "$status"; }

DRY_RUN=0
SKIP_WEIGHTS=0
CHECKPOINTS_DIR=/workspace/checkpoints
while (($#)); do
    case $1 in
        --dry-run) DRY_RUN=1 ;;
        --skip-weights) SKIP_WEIGHTS=1 ;;
        --checkpoints-dir) (($# >= 2)) || die 64 "--checkpoints-dir needs a directory"; CHECKPOINTS_DIR=$2; shift ;;
        --checkpoints-dir=*) CHECKPOINTS_DIR=${1#*=} ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die 64 "unknown option: $1" ;;
    esac
    shift
done

# The token: checked first, so a missing one costs no install time. Only "set" or "missing" is ever printed.
if [[ -z ${HF_TOKEN:-} && -n ${HUGGING_FACE_HUB_TOKEN:-} ]]; then
    export HF_TOKEN=$HUGGING_FACE_HUB_TOKEN
fi
if [[ -z ${HF_TOKEN:-} ]] && ((!SKIP_WEIGHTS)); then
    die 2 "no Hugging Face token: create a read token at https://huggingface.co/settings/tokens, request access to facebook/sam3 and facebook/sam-3d-body-dinov3 on their model pages, then export HF_TOKEN=<token> and run this again (or pass --skip-weights)"
fi

# show CMD...: the command as a shell would read it back, after "+ ". run CMD...: show it, then run it (not in --dry-run).
show() {
    local line="+" arg
    for arg in "$@"; do
        if [[ $arg =~ ^[][A-Za-z0-9_./:=@+,%-]+$ ]]; then line+=" $arg"; else line+=" '${arg//\'/\'\\\'\'}'"; fi
    done
    printf '%s\n' "$line"
}
run() {
    show "$@"
    ((DRY_RUN)) || "$@"
}

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${NVWA_VENV:-/workspace/nvwa-venv}
PY=${NVWA_PYTHON:-python3.12}
SRC_DIR=${NVWA_SRC_DIR:-/workspace/nvwa-src}
export TORCH_HOME=${TORCH_HOME:-/workspace/torch}
[[ -f $REPO_DIR/pyproject.toml ]] || die 3 "$REPO_DIR/pyproject.toml not found: run this script from the Nvwa checkout"
((DRY_RUN)) && say "dry run: nothing below is run; each command is printed after '+ '"
if [[ -n ${HF_TOKEN:-} ]]; then say "HF token: set"; else say "HF token: missing (not needed with --skip-weights)"; fi

# --- the machine: GPU driver, Python >= 3.12, a C compiler and Python.h (Triton), git, the GL libraries mediapipe loads
missing() {  # a requirement that is not there: fatal on a real run, a warning in a dry run
    if ((DRY_RUN)); then warn "$1 (a real run stops here)"; else die 3 "$1"; fi
}
if command -v nvidia-smi >/dev/null 2>&1; then
    say "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1)"
else
    missing "nvidia-smi not found: no NVIDIA driver is visible; start a GPU pod"
fi

py_ok() { command -v "$PY" >/dev/null 2>&1 && "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; }
py_has() { py_ok && "$PY" -c "$1" >/dev/null 2>&1; }
PYVER=$({ py_ok && "$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; } || echo 3.12)
apt_packages=()
py_ok || apt_packages+=("python$PYVER" "python$PYVER-venv" "python$PYVER-dev")
if py_ok; then
    py_has 'import ensurepip, venv' || apt_packages+=("python$PYVER-venv")
    py_has 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
        || apt_packages+=("python$PYVER-dev")
fi
command -v cc >/dev/null 2>&1 || apt_packages+=(gcc libc6-dev)
command -v git >/dev/null 2>&1 || apt_packages+=(git)
if command -v ldconfig >/dev/null 2>&1; then
    libs=$(ldconfig -p 2>/dev/null || true)
    for pair in libGL.so.1:libgl1 libEGL.so.1:libegl1 libGLESv2.so.2:libgles2 libglib-2.0.so.0:libglib2.0-0; do
        [[ $libs == *"${pair%%:*}"* ]] || apt_packages+=("${pair#*:}")
    done
fi
if ((${#apt_packages[@]})); then
    if command -v apt-get >/dev/null 2>&1; then
        sudo=()
        ((EUID == 0)) || sudo=(sudo)
        run "${sudo[@]}" apt-get update -q
        if ! py_ok && ((!DRY_RUN)) && ! apt-cache show "python$PYVER" >/dev/null 2>&1; then
            die 3 "python$PYVER is not in this system's package lists (Ubuntu 22.04 has none): use a RunPod template on Ubuntu 24.04, or install Python >= 3.12 and set NVWA_PYTHON to it"
        fi
        run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${apt_packages[@]}"
    else
        missing "missing ${apt_packages[*]} and no apt-get to install them"
    fi
fi
if py_ok; then
    say "Python: $("$PY" --version 2>&1)"
elif ((!DRY_RUN)); then
    die 3 "$PY (Python >= 3.12, needed by SAM 3) is not available: use a RunPod template on Ubuntu 24.04, or install Python >= 3.12 and set NVWA_PYTHON to it"
fi

# --- the venv, once
if [[ -x $VENV/bin/python ]]; then
    say "venv: $VENV (present)"
else
    run "$PY" -m venv "$VENV"
fi

# --- sources at pinned refs, fetched once: sam-3d-body (not on PyPI), DINOv3's hub code (sam-3d-body's backbone,
# loaded with torch.hub.load("facebookresearch/dinov3"); cached here so it never fetches unpinned code)
fetch_source() {  # DIR OWNER/NAME REF
    local dir=$1 repo=$2 ref=$3
    if [[ $(git -C "$dir" rev-parse -q --verify HEAD 2>/dev/null) == "$ref" ]]; then
        say "$repo: $ref (present)"
        return
    fi
    [[ -d $dir/.git ]] || run git init -q "$dir"
    run git -C "$dir" fetch -q --depth 1 "https://github.com/$repo" "$ref"
    run git -C "$dir" checkout -q --detach FETCH_HEAD
}
SAM3D_BODY_DIR=$SRC_DIR/sam-3d-body
fetch_source "$SAM3D_BODY_DIR" facebookresearch/sam-3d-body "$SAM3D_BODY_REF"
fetch_source "$TORCH_HOME/hub/facebookresearch_dinov3_main" facebookresearch/dinov3 "$DINOV3_REF"
trusted=$TORCH_HOME/hub/trusted_list
grep -qsx facebookresearch_dinov3 "$trusted" || run sh -c 'echo facebookresearch_dinov3 >> "$1"' sh "$trusted"

# --- packages, when pyproject.toml or the pins changed since the last successful install
stamp=$VENV/.nvwa-setup-stamp
key=$({ cat "$REPO_DIR/pyproject.toml"; printf '%s\n' "$PYVER" "$TORCH_VERSION" "$TORCHVISION_VERSION" "$TORCH_INDEX_URL" \
    "$SAM3_VERSION" "$SAM3D_BODY_REF" "$EXTRAS" "${MODEL_DEPS[@]}"; } | sha256sum | cut -c1-16)
if [[ -f $stamp && $(<"$stamp") == "$key" ]]; then
    say "packages: up to date"
else
    pip=("$VENV/bin/python" -m pip install --disable-pip-version-check)
    torch_pins=("torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION")  # named again: nothing may swap the cu128 build
    run "${pip[@]}" --index-url "$TORCH_INDEX_URL" "${torch_pins[@]}"
    run "${pip[@]}" "${torch_pins[@]}" "sam3==$SAM3_VERSION" "${MODEL_DEPS[@]}"
    run "${pip[@]}" "${torch_pins[@]}" -e "${REPO_DIR}[${EXTRAS}]"
    # sam-3d-body has no packaging at this ref: its source goes on the venv's path (pip -e where a ref brings one)
    if [[ -f $SAM3D_BODY_DIR/pyproject.toml || -f $SAM3D_BODY_DIR/setup.py ]]; then
        run "${pip[@]}" --no-deps -e "$SAM3D_BODY_DIR"
    else
        run "$VENV/bin/python" -c 'import pathlib, sys, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "sam_3d_body.pth").write_text(sys.argv[1] + "\n")' "$SAM3D_BODY_DIR"
    fi
    run "$VENV/bin/python" -c 'import torch, sam3, sam_3d_body, nvwa; print("torch", torch.__version__, "CUDA", torch.cuda.is_available())'
    run sh -c 'printf "%s\n" "$1" > "$2"' sh "$key" "$stamp"
fi

# --- the gated weights (the token reaches `nvwa models download` through the environment, never a command line)
if ((SKIP_WEIGHTS)); then
    say "weights: skipped (--skip-weights)"
else
    run mkdir -p "$CHECKPOINTS_DIR"
    run "$VENV/bin/nvwa" models download --all --checkpoints-dir "$CHECKPOINTS_DIR"
fi

port_url="https://<pod id>-8000.proxy.runpod.net"
[[ -z ${RUNPOD_POD_ID:-} ]] || port_url="https://$RUNPOD_POD_ID-8000.proxy.runpod.net"
cat <<EOF

Start the service:
  source $VENV/bin/activate
  NVWA_BODY_MODEL=sam3d_body NVWA_TRACKER=sam3 NVWA_CHECKPOINTS_DIR=$CHECKPOINTS_DIR TORCH_HOME=$TORCH_HOME \\
    NVWA_DATA_DIR=/workspace/nvwa-data nvwa serve --host 0.0.0.0 --port 8000
RunPod: add 8000 to the pod's "Expose HTTP Ports" (Edit Pod), then open $port_url/health
(--host 0.0.0.0 is needed for the proxy to reach it; the SSE heartbeat keeps event streams open through the proxy).
EOF
