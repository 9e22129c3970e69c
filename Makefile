# adaptrag: `make demo` runs the main job on embedded defaults, `make test` runs the fast tests.
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
# CPU machines get the pinned CPU wheel; a machine with an NVIDIA driver gets PyPI's CUDA build.
TORCH  := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo "torch>=2.4" || echo "torch==2.13.0")
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install demo test test-all test-packaging lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e ".[dev]"
	$(VENV)/bin/adaptrag models install
	touch $(STAMP)

demo: install
	$(PY) examples/demo.py

test: install
	$(PY) -m pytest -q

test-all: install
	$(PY) -m pytest -q -m "slow or not slow"

# The wheel in a fresh virtualenv, and the image built and run by a real Docker engine
# (docker/start-engine.sh starts Debian's engine as root where none runs).
test-packaging: install
	docker/start-engine.sh
	$(PY) -m pytest -q -m slow tests/test_wheel.py tests/test_image.py

lint: install
	$(VENV)/bin/ruff check adaptrag rag ingest adapters eval tests benchmarks examples docs_hooks
	$(VENV)/bin/ruff format --check adaptrag rag ingest adapters eval tests benchmarks examples docs_hooks
	$(VENV)/bin/mypy
	MYPYPATH=tests $(VENV)/bin/mypy tests --explicit-package-bases

bench: install
	$(PIP) install -q -e ".[bench]"
	$(PY) benchmarks/bench_ingest.py
	$(PY) benchmarks/bench_query.py
	$(PY) benchmarks/bench_adapters.py
	$(PY) benchmarks/bench_generation.py
	$(PY) benchmarks/bench_server.py
	$(PY) benchmarks/bench_load.py
	$(PY) benchmarks/bench_faults.py
	$(PY) benchmarks/bench_retrieval.py
	$(PY) benchmarks/bench_answers.py
	$(PY) benchmarks/bench_conversation.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
