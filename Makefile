# CNN Lab: `make run` serves the app, `make test` runs lint + the whole test suite.
# Both create .venv on first use; they reinstall only when a requirements file changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
PORT   ?= 8501

.PHONY: run serve-workshop test lint format bench assets clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "CNN Lab needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# The CPU build of TensorFlow by default; the CUDA build where a working nvidia-smi says there is a GPU.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	@if nvidia-smi >/dev/null 2>&1; then \
		echo "GPU found: installing tensorflow[and-cuda]"; \
		sed 's/^tensorflow-cpu/tensorflow[and-cuda]/' requirements.txt > $(VENV)/requirements-gpu.txt; \
		$(PIP) install -r $(VENV)/requirements-gpu.txt; \
	else \
		$(PIP) install -r requirements.txt; \
	fi
	@touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PIP) install -r requirements-dev.txt
	@touch $@

# The supervisor reaps dead workers and starts queued runs from the moment the server starts, and
# keeps one warm worker (TensorFlow imported, the default model traced) before the first learner
# presses Train: the first run does not pay the import. CNNLAB_WARM_WORKERS=0 make run: none.
run: $(VENV)/.runtime
	export CNNLAB_WARM_WORKERS=$${CNNLAB_WARM_WORKERS:-1}; \
	$(BIN)/python -m lab.supervisor & trap 'kill $$!' EXIT; $(BIN)/streamlit run app.py --server.port $(PORT)

# A room on one machine: SERVERS Streamlit processes (default: one per core, at least 2) behind
# nginx (`apt-get install nginx-light`) on PORT, one supervisor, warm workers. See README.
SERVERS ?=
serve-workshop: $(VENV)/.runtime
	$(BIN)/python -m deploy.workshop --port $(PORT) $(if $(SERVERS),--servers $(SERVERS))

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev
	@for script in benchmarks/bench_*.py; do \
		module=$$(basename $$script .py); echo "== $$module"; $(BIN)/python -m benchmarks.$$module || exit 1; \
	done

clean:
	rm -rf $(VENV) tests/artifacts .pytest_cache .ruff_cache
