# Two commands do everything, each with its own set-up on a fresh machine:
#   make demo   - process the bundled sample video into out/demo (scene.npz + scene.json)
#   make test   - run the test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

VALIDATOR := tools/gltf/node_modules/gltf-validator/package.json

.PHONY: demo test setup model bench clean browser viewer redis assimp blender

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The only step that downloads: the mediapipe 0.10.21 wheel, whose models become the .task bundle, kept in
# the user's data dir (found by every nvwa command from any folder; NVWA_MODELS_DIR overrides it).
MODELS_DIR ?= $(or $(NVWA_MODELS_DIR),$(or $(XDG_DATA_HOME),$(HOME)/.local/share)/nvwa/models)
# Each rule touches its file once fetch has checked it (fetch leaves a verified file as it is), so a later
# make does not run fetch again for a file older than the one it follows.
$(MODELS_DIR)/pose_landmarker_full.task: $(STAMP)
	$(VENV)/bin/nvwa models fetch --models-dir "$(MODELS_DIR)" && touch $@

# the person detector's copy with its canvas size freed, made by the same command (models folders fetched
# before it existed get it from here; after the bundle's rule, so `make -j` never runs two fetches at once)
$(MODELS_DIR)/person_detector.any_canvas.onnx: $(MODELS_DIR)/pose_landmarker_full.task
	$(VENV)/bin/nvwa models fetch --models-dir "$(MODELS_DIR)" && touch $@

# the bundle whose network draws no segmentation mask, read by every run instead of rewriting the network
# (models folders fetched before it existed get it from here, as above)
$(MODELS_DIR)/pose_landmarker_full.blank_mask.task: $(MODELS_DIR)/person_detector.any_canvas.onnx
	$(VENV)/bin/nvwa models fetch --models-dir "$(MODELS_DIR)" && touch $@

# the landmark network with its middle in int8 (nvwa.body.landmarks_int8), read by every run instead of quantising
# (models folders fetched before it existed get it from here, as above)
$(MODELS_DIR)/pose_landmarker_full.landmarks_int8.tflite: $(MODELS_DIR)/pose_landmarker_full.blank_mask.task
	$(VENV)/bin/nvwa models fetch --models-dir "$(MODELS_DIR)" && touch $@

model: $(MODELS_DIR)/pose_landmarker_full.task $(MODELS_DIR)/person_detector.any_canvas.onnx \
       $(MODELS_DIR)/pose_landmarker_full.blank_mask.task $(MODELS_DIR)/pose_landmarker_full.landmarks_int8.tflite

# The Khronos glTF validator and stock three.js (npm) that the export and player tests open every GLB with;
# skipped, with a note, without npm.
$(VALIDATOR): tools/gltf/package.json tools/gltf/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tools/gltf --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the GLB validator tests will be skipped"; fi

demo: model
	$(VENV)/bin/nvwa process samples/vtest.mp4 -o out/demo

# $(call from_debian,CHECK,PACKAGES,NOTE): where CHECK fails, PACKAGES from Debian's apt-get (its lists refreshed
# once if the first try fails); where they cannot be installed, NOTE says which tests will be skipped.
from_debian = @{ $(1); } || { command -v apt-get >/dev/null && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(2) >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(2) >/dev/null 2>&1; }; }; } || \
	  echo "$(3)"

# Debian's Chromium for the viewer's browser tests.
browser:
	$(call from_debian,command -v chromium >/dev/null,chromium,chromium not installed: the viewer tests will be skipped)

# Debian's redis-server for the queue tests.
redis:
	$(call from_debian,command -v redis-server >/dev/null,redis-server,redis-server not installed: the queue tests will be skipped)

# Debian's assimp for the export tests (the usual road from GLB to FBX).
assimp:
	$(call from_debian,command -v assimp >/dev/null,assimp-utils,assimp not installed: the assimp export test will be skipped)

# Debian's Blender and the numpy of its Python for the import check of our GLB and BVH by a real Blender.
blender:
	$(call from_debian,command -v blender >/dev/null && blender -b --factory-startup --python-exit-code 1 --python-expr "import numpy" >/dev/null 2>&1,blender python3-numpy,blender not installed: the Blender import test will be skipped)

# Rebuild the viewer bundle (committed in src/nvwa/viewer_static/, so only needed after editing viewer/src).
viewer:
	cd viewer && npm ci --no-audit --no-fund && npm run build

test: model $(VALIDATOR) browser redis assimp blender
	$(PY) -m pytest -q --durations=15  # the slowest named in the log: the suite keeps under 15 minutes
	$(PY) -m pytest -q --random-order tests/test_viewer.py  # once more, shuffled: no test may lean on another's page

bench: model
	$(PY) bench/spine.py
	$(PY) bench/motion_quality.py
	$(PY) bench/export.py

clean:
	rm -rf $(VENV) out tools/gltf/node_modules  # the models stay in $(MODELS_DIR): `rm -r` it to fetch again
