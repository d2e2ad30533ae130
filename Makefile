# ReelTwin: set-up and everyday commands. Every target creates .venv and installs
# what it needs, Debian packages included when run as root, so a fresh machine
# needs only `make demo` or `make test`.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
EXTRAS ?= dev,local,voicematch,instagram,xtts,whisperx,workers
# Debian packages: ffmpeg for the media stages, fonts for captions, chromium for
# the web UI's browser tests, real speech samples (codec2-examples, alsa-utils, ktuberling-data: tests/voice_refs.py)
# for the demo voice, the tests and bench/voice.py.
APT_PACKAGES ?= ffmpeg fonts-noto-color-emoji chromium codec2-examples alsa-utils ktuberling-data
# uv ignores pip's configuration: hand it the same local wheel folder (CPU torch).
export UV_FIND_LINKS ?= $(PIP_FIND_LINKS)
export UV_LINK_MODE ?= copy

.PHONY: help install system-deps demo test test-fast bench clean

help:
	@echo "make demo    set up, then run the main job (offline)"
	@echo "make test    set up, then run the whole test suite (what CI runs)"
	@echo "make test-fast  the fast tier for every change: everything but the tests marked slow (under 3 minutes on 2 cores)"
	@echo "make bench   set up, then run the benchmarks in bench/"
	@echo "make install set up .venv only (EXTRAS=dev,local,voicematch,instagram,xtts,whisperx,workers by default)"

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "warning: missing system packages:$$missing (install them with your package manager)"; \
	  fi; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): $(BIN)/python
	$(BIN)/python -m pip install -q "uv>=0.5,<1"

# llama-cpp-python compiles llama.cpp on install. Tuned for the building CPU (GGML_NATIVE) it may use
# AMX tiles, which many VMs do not let a process use: the drafting server then dies on its first request.
# On x86-64 it is built for a portable AVX2 CPU instead; scripts/check_llm_engine.py proves it runs, and a
# build that does not (an older cached wheel) is rebuilt once with these flags.
LLAMA_CMAKE_ARGS ?= $(if $(filter x86_64,$(shell uname -m)),-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON,)

install: system-deps $(UV)
	@echo "installing ReelTwin and its dependencies (the first time compiles llama-cpp-python: about 8 minutes on 2 cores)"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" VIRTUAL_ENV=$(VENV) $(UV) pip install --compile-bytecode -e ".[$(EXTRAS)]"
	@# bytecode for our own modules too: without it every start compiles typer, rich and us from source
	@# (reeltwin --help about 0.6 s -> 0.35-0.44 s on 2 cores; QA workers start faster), and PYTHONDONTWRITEBYTECODE stops Python caching it
	@$(BIN)/python -m compileall -q -j 0 agent render publishing >/dev/null
	@if echo ",$(EXTRAS)," | grep -q ",local," && ! $(BIN)/python scripts/check_llm_engine.py; then \
	  echo "rebuilding llama-cpp-python for a portable CPU ($(LLAMA_CMAKE_ARGS)): about 8 minutes"; \
	  VIRTUAL_ENV=$(VENV) $(UV) cache clean llama-cpp-python >/dev/null 2>&1 || true; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" VIRTUAL_ENV=$(VENV) $(UV) pip install --reinstall-package llama-cpp-python --no-deps "llama-cpp-python[server]==$$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')" && \
	  $(BIN)/python scripts/check_llm_engine.py; \
	fi

# The main job: the whole pipeline offline on bundled samples, in ./demo (your project is not touched).
demo: install
	$(BIN)/reeltwin demo --out demo

test: install
	$(BIN)/python -m pytest -q

# The developer's loop: skips the tests marked slow (the real LLM, browsers, the demo, the simulated week,
# long renders and voice-quality measurements), one test file per core.
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow" -n auto --dist loadfile

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache
