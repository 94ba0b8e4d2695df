# Two commands do everything: `make run` and `make test`. Both create .venv first if needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: setup run test notebooks lab ui hub bench clean

setup: $(STAMP) $(NODE_STAMP)

# JupyterHub's proxy (configurable-http-proxy) is the one Node.js part: package-lock.json pins it.
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "error: npm is missing (JupyterHub's proxy needs Node.js 20); install nodejs and npm" >&2; exit 2; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

# The lock pins every package and is installed as it is (--no-deps: nothing it leaves out comes back);
# the project itself goes in editable, with no extra resolution. uv installs the same files as pip,
# but downloads in parallel and compiles the bytecode on every core: 27 s instead of pip's 77 s on a
# fresh machine with two cores (benchmarks/install.py).
UV_PIN := uv==0.13.9
UV := $(VENV)/bin/uv
UV_INSTALL := $(UV) pip install --quiet --python $(PY) --link-mode copy --compile-bytecode

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "error: the course needs Python 3.11; set PYTHON=/path/to/python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the course's pinned packages into $(VENV) (once; under a minute on a fresh machine)..."
	$(PY) -m pip install --quiet --disable-pip-version-check $(UV_PIN)
	$(UV_INSTALL) --no-deps -r requirements.lock
	$(UV_INSTALL) --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m grading run-course

# Four workers on two cores: many tests wait on servers, kernels and sandboxes, and the extra workers
# fill that time (on one commit, from a fresh clone: 945 s with three, 888 s with four). Each file's tests stay on one worker (conftest.py says which files are spread instead).
# The 30 slowest tests are listed at the end, to keep the whole run under 15 minutes.
test: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest tests notebooks solutions --nbval -p no:cacheprovider -n 4 --dist loadfile --durations=30

# Rebuild notebooks/*.ipynb from notebooks/source/*.py and re-execute them on fresh stores.
notebooks: $(STAMP)
	$(PY) -m course.build

lab: $(STAMP)
	$(PY) -m course.serve --lab

ui: $(STAMP)
	$(PY) -m course.serve

# JupyterHub for a class, on the MLflow server in MLFLOW_TRACKING_URI (docs/hub.md); ARGS="--public-url ..." adds options.
hub: $(STAMP) $(NODE_STAMP)
	$(PY) -m course.hub $(ARGS)

bench: $(STAMP)
	$(PY) benchmarks/install.py
	$(PY) benchmarks/course_run.py
	$(PY) benchmarks/grading_scale.py
	$(PY) benchmarks/autograde.py
	$(PY) benchmarks/server_load.py
	$(PY) benchmarks/class_load.py
	$(PY) benchmarks/class_course.py

clean:
	rm -rf build .course node_modules
