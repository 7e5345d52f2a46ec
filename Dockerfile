# syntax=docker/dockerfile:1
#
# Nvwa, GPU image: SAM 3 tracking + SAM 3D Body on CUDA 12.8, Python 3.12 (SAM 3 needs >= 3.12).
#
#   docker build -t nvwa:gpu .
#   docker run --rm -e HF_TOKEN -v nvwa-checkpoints:/checkpoints nvwa:gpu nvwa models download --all
#   docker run --gpus all -p 8000:8000 -v nvwa-checkpoints:/checkpoints nvwa:gpu
#
# The weights (facebook/sam3, facebook/sam-3d-body-dinov3 on Hugging Face) are gated: they are never baked into the
# image. They live in the /checkpoints volume, fetched once with a token that was granted access (line 2 above).
#
# Base: CUDA "base", not runtime, cudnn-runtime or devel. The cu128 torch wheels bring their own CUDA runtime, cuBLAS,
# cuDNN, NCCL and NVRTC (nvidia-* wheels), so a runtime/cudnn image would hold a second copy nobody loads (~3 GB); and
# nothing here compiles CUDA code, so no nvcc: sam3 and sam-3d-body are Python on torch, detectron2 (only sam-3d-body's
# own person detector and visualiser; our tracker gives the boxes and masks) is not installed, and Triton (SAM 3's
# distance-transform kernel, torch.compile) ships its own ptxas. The base image still has the CUDA forward-compat
# libraries and NVIDIA_REQUIRE_CUDA, so a host driver too old for CUDA 12.8 is refused when the container starts.
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-base-ubuntu24.04

FROM ${CUDA_IMAGE} AS base
ARG DEBIAN_FRONTEND=noninteractive
# python3.12: Ubuntu 24.04's own. gcc, libc6-dev, python3.12-dev: Triton compiles its CUDA launcher stub with the
# system C compiler against Python.h the first time a kernel runs. libgl1, libegl1, libgles2, libglib2.0-0t64: what
# cv2 (mediapipe's opencv-contrib-python) and mediapipe's libmediapipe.so are linked against; without them
# `import mediapipe` fails. (ffmpeg is not needed: PyAV bundles its own.)
# Versions are not pinned (DL3008): Ubuntu's -updates/-security pockets keep only the newest build of a package, so an
# exact pin stops building at the next security fix; the base image tag is what pins the distribution.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates python3.12 python3.12-venv python3.12-dev gcc libc6-dev \
        libgl1 libegl1 libgles2 libglib2.0-0t64 \
    && rm -rf /var/lib/apt/lists/*

FROM base AS build
ARG DEBIAN_FRONTEND=noninteractive
# git: only here, to fetch sam-3d-body and DINOv3 at pinned commits (not in the final image).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TORCH_HOME=/opt/torch

# Pins: setup_runpod.sh carries the same values (tests/test_deploy.py checks that they agree).
ARG TORCH_VERSION=2.8.0
ARG TORCHVISION_VERSION=0.23.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ARG SAM3_VERSION=0.1.4
ARG SAM3D_BODY_REF=b5c765a0d89d789985e186d396315e7590887b94
ARG DINOV3_REF=91ffb6803c74aeb6927209b82560142743763dd7

RUN python3.12 -m venv /opt/venv \
    && pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" \
        "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}"

# sam3 from PyPI, whose wheel lacks its text encoder's BPE vocabulary: open_clip_torch ships the identical file
# (sha256 924691ac...), where Nvwa's SAM 3 tracker looks for it. sam-3d-body's inference imports (its repository also
# lists training and demo tools: left out, as is opencv-python, which would replace the headless cv2). psycopg: the
# PostgreSQL driver for NVWA_DATABASE_URL=postgresql+psycopg://... (docker-compose.yml, queue profiles). torch is
# named again so that no dependency can swap the cu128 build for another one.
RUN pip install --no-cache-dir \
        "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}" "sam3==${SAM3_VERSION}" open_clip_torch==3.3.0 \
        pytorch-lightning==2.6.6 yacs==0.1.8 omegaconf==2.4.0 roma==1.8.0 timm==1.0.31 einops==0.8.2 \
        braceexpand==0.1.7 mhr==1.0.1 termcolor==3.3.0 "psycopg[binary]==3.3.9"

# sam-3d-body is not on PyPI and has no packaging at this ref: its source goes on the venv's path (a .pth file); a ref
# that brings a pyproject.toml or setup.py is installed with `pip install -e` instead (no deps: they are above).
# Its DINOv3 backbone is built by torch.hub.load("facebookresearch/dinov3") (code only, pretrained=False): that code
# is put in torch's hub cache at a pinned ref and marked trusted, so the container never runs unpinned code.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN set -eux; \
    fetch() { git init -q "$1"; git -C "$1" fetch -q --depth 1 "https://github.com/$2" "$3"; \
              git -C "$1" checkout -q FETCH_HEAD; rm -rf "$1/.git"; }; \
    fetch /opt/sam-3d-body facebookresearch/sam-3d-body "${SAM3D_BODY_REF}"; \
    fetch "${TORCH_HOME}/hub/facebookresearch_dinov3_main" facebookresearch/dinov3 "${DINOV3_REF}"; \
    echo facebookresearch_dinov3 > "${TORCH_HOME}/hub/trusted_list"; \
    if [ -f /opt/sam-3d-body/pyproject.toml ] || [ -f /opt/sam-3d-body/setup.py ]; then \
        pip install --no-cache-dir --no-deps -e /opt/sam-3d-body; \
    else \
        echo /opt/sam-3d-body > "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/sam_3d_body.pth"; \
    fi; \
    python -c 'import sam_3d_body'

# Nvwa itself, last, so that a code change rebuilds only this layer. The BlazePose bundle (`nvwa models fetch`, not
# gated) is built in too, so NVWA_BODY_MODEL=blazepose works in this image as well.
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" "/build[server,s3,queue,models,gpu]" \
    && NVWA_MODELS_DIR=/opt/nvwa/models nvwa models fetch

FROM base
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/sam-3d-body /opt/sam-3d-body
COPY --from=build /opt/torch /opt/torch
COPY --from=build /opt/nvwa /opt/nvwa
# The service runs as nvwa (uid 10001, numeric in USER so that Kubernetes runAsNonRoot can check it).
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin nvwa \
    && mkdir -p /checkpoints /data \
    && chown nvwa:nvwa /checkpoints /data /opt/torch/hub
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TORCH_HOME=/opt/torch \
    NVWA_MODELS_DIR=/opt/nvwa/models \
    NVWA_DATA_DIR=/data \
    NVWA_CHECKPOINTS_DIR=/checkpoints \
    NVWA_BODY_MODEL=sam3d_body \
    NVWA_TRACKER=sam3
VOLUME ["/checkpoints", "/data"]
USER 10001:10001
WORKDIR /home/nvwa
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["nvwa", "serve", "--host", "0.0.0.0", "--port", "8000"]
